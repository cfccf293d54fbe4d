"""`recorder_ingest.audio.probe` on real files made at test time with sox and ffmpeg (nothing committed)."""

from __future__ import annotations

import random
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from recorder_ingest.audio import AudioFacts, AudioRejected, plain_wav, probe

MAX_S = 60.0
SECONDS = 1.5
NOISE = random.Random(20261122).randbytes(20000)  # fixed: ffprobe's format guess on random bytes varies


def sox(*args: str | Path) -> None:
    subprocess.run(["sox", *map(str, args)], check=True, capture_output=True)


def ffmpeg(*args: str | Path) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *map(str, args)], check=True, capture_output=True)


def tone(path: Path, *options: str, rate: int = 16000, channels: int = 1, seconds: float = SECONDS) -> Path:
    sox("-n", "-r", str(rate), "-c", str(channels), *options, path, "synth", str(seconds), "sine", "300-900")
    return path


def lavfi(path: Path, *codec: str, rate: int) -> Path:
    ffmpeg("-f", "lavfi", "-i", f"sine=frequency=440:duration={SECONDS}:sample_rate={rate}", *codec, path)
    return path


def wav_header(tmp: Path) -> bytes:
    return tone(tmp / "source.wav", "-b", "16").read_bytes()[:44]


Maker = Callable[[Path], Path]

ACCEPTED: dict[str, tuple[Maker, str, str, int, int, str]] = {
    # name: (maker, container, codec, channels, sample_rate, extension)
    "wav-pcm16": (lambda d: tone(d / "a.wav", "-b", "16"), "wav", "pcm_s16le", 1, 16000, "wav"),
    "wav-mulaw-8k": (lambda d: tone(d / "a.wav", "-e", "u-law", rate=8000), "wav", "pcm_mulaw", 1, 8000, "wav"),
    "wav-alaw-8k": (lambda d: tone(d / "a.wav", "-e", "a-law", rate=8000), "wav", "pcm_alaw", 1, 8000, "wav"),
    "wav-stereo": (lambda d: tone(d / "a.wav", "-b", "16", rate=8000, channels=2), "wav", "pcm_s16le", 2, 8000, "wav"),
    "flac": (lambda d: tone(d / "a.flac"), "flac", "flac", 1, 16000, "flac"),
    "mp3": (lambda d: lavfi(d / "a.mp3", "-c:a", "libmp3lame", rate=44100), "mp3", "mp3", 1, 44100, "mp3"),
    "ogg-opus": (lambda d: lavfi(d / "a.opus", "-c:a", "libopus", rate=48000), "ogg", "opus", 1, 48000, "ogg"),
    "ogg-vorbis": (lambda d: lavfi(d / "a.ogg", "-c:a", "libvorbis", rate=44100), "ogg", "vorbis", 1, 44100, "ogg"),
}


@pytest.mark.parametrize("name", ACCEPTED)
def test_accepts_call_audio(tmp_path: Path, name: str) -> None:
    maker, container, codec, channels, sample_rate, extension = ACCEPTED[name]
    facts = probe(maker(tmp_path), max_duration_s=MAX_S)
    assert (facts.container, facts.codec, facts.channels, facts.sample_rate) == (
        container,
        codec,
        channels,
        sample_rate,
    )
    assert abs(facts.duration_ms - SECONDS * 1000) <= 50
    assert facts.extension == extension
    assert facts.bit_rate is not None
    assert facts.bit_rate > 0


def _truncated_wav(d: Path) -> Path:
    # The header promises 1.5 s of PCM; the body is 0.6 s of random bytes, cut mid-sample.
    path = d / "truncated.wav"
    path.write_bytes(wav_header(d) + NOISE[:19201])
    return path


def _garbage_flac(d: Path) -> Path:
    path = d / "garbage.flac"
    path.write_bytes(tone(d / "source.flac").read_bytes()[:200] + NOISE)
    return path


def _garbage_mp3(d: Path) -> Path:
    path = d / "garbage.mp3"
    path.write_bytes(lavfi(d / "source.mp3", "-c:a", "libmp3lame", rate=44100).read_bytes()[:600] + NOISE)
    return path


def _write(name: str, content: bytes) -> Maker:
    def make(d: Path) -> Path:
        path = d / name
        path.write_bytes(content)
        return path

    return make


def _header_only_wav(d: Path) -> Path:
    path = d / "header-only.wav"
    sox("-n", "-r", "8000", "-c", "1", "-b", "16", path, "trim", "0", "0")
    assert path.stat().st_size == 44
    return path


def _two_audio_streams(d: Path) -> Path:
    agent, customer = lavfi(d / "agent.wav", rate=8000), lavfi(d / "customer.wav", rate=8000)
    path = d / "two-streams.mka"
    ffmpeg("-i", agent, "-i", customer, "-map", "0:a", "-map", "1:a", "-c:a", "libopus", path)
    return path


REJECTED: dict[str, tuple[Maker, int, str, str]] = {
    # name: (maker, status, title, words the detail must contain)
    "empty": (_write("empty.wav", b""), 422, "Empty audio", "empty (0 bytes)"),
    "random-bytes": (_write("upload.dat", NOISE[:4000]), 422, "Unsupported audio", "not in a recognised audio format"),
    # ffprobe trusts the extension: random bytes named .mp3 reach the MP3 demuxer, which fails.
    "random-bytes-named-mp3": (
        _write("upload.mp3", NOISE[:4000]),
        422,
        "Unsupported audio",
        "not in a recognised audio format (ffprobe could not read the file: [mp3]",
    ),
    "text": (_write("notes.txt", "客户来电投诉\nhello, not audio\n".encode()), 422, "Unsupported audio", "text"),
    "png": (
        _write("logo.png", bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de")),
        422,
        "Unsupported audio",
        "not in a recognised audio format (ffprobe took it for 'png_pipe')",
    ),
    "truncated-wav": (_truncated_wav, 422, "Corrupt audio", "audio data is damaged: decoding failed at"),
    "wav-cut-inside-header": (
        lambda d: _write("cut.wav", wav_header(d)[:20])(d),
        422,
        "Corrupt audio",
        "starts like WAV but ffprobe could not read the file",
    ),
    "flac-garbage-body": (_garbage_flac, 422, "Corrupt audio", "audio data is damaged: decoding failed at"),
    "mp3-garbage-body": (_garbage_mp3, 422, "Corrupt audio", "audio data is damaged: decoding failed at"),
    "header-only-wav": (_header_only_wav, 422, "Empty audio", "the file has a WAV header but no audio frames"),
    "aiff-pcm-s24be": (
        lambda d: lavfi(d / "a.aiff", "-c:a", "pcm_s24be", rate=16000),
        422,
        "Unsupported audio",
        "codec 'pcm_s24be' is not accepted; accepted: flac, mp3, opus",
    ),
    "three-channels": (
        lambda d: tone(d / "a.wav", "-b", "16", channels=3),
        422,
        "Unsupported audio",
        "3 channels; call recordings must be mono or stereo",
    ),
    "two-audio-streams": (_two_audio_streams, 422, "Unsupported audio", "2 audio streams"),
}


@pytest.mark.parametrize("name", REJECTED)
def test_rejects_bad_audio(tmp_path: Path, name: str) -> None:
    maker, status, title, detail = REJECTED[name]
    path = maker(tmp_path)
    with pytest.raises(AudioRejected) as caught:
        probe(path, max_duration_s=MAX_S)
    assert (caught.value.status, caught.value.title) == (status, title), caught.value.detail
    assert detail in caught.value.detail
    assert str(tmp_path) not in caught.value.detail  # the server's spool path never reaches the client


@pytest.mark.parametrize(("seconds", "limit"), [(3.0, 2.0), (2.5, 2.4)])
def test_over_duration_is_413(tmp_path: Path, seconds: float, limit: float) -> None:
    path = tone(tmp_path / "long.wav", "-e", "u-law", rate=8000, seconds=seconds)
    with pytest.raises(AudioRejected) as caught:
        probe(path, max_duration_s=limit)
    assert (caught.value.status, caught.value.title) == (413, "Audio too long")
    assert f"lasts {seconds:.1f} s; the limit is {limit:g} s" in caught.value.detail


def test_duration_at_the_limit_is_accepted(tmp_path: Path) -> None:
    facts = probe(tone(tmp_path / "a.wav", "-b", "16", seconds=2.0), max_duration_s=2.0)
    assert facts == AudioFacts("wav", "pcm_s16le", 1, 16000, 2000, facts.bit_rate)
    assert facts.bit_rate is not None
    assert abs(facts.bit_rate - 256000) < 1000  # the container's rate: PCM plus the header


def test_accepted_codecs_can_be_narrowed(tmp_path: Path) -> None:
    path = tone(tmp_path / "a.wav", "-b", "16")
    with pytest.raises(AudioRejected, match="codec 'pcm_s16le' is not accepted; accepted: flac"):
        probe(path, max_duration_s=MAX_S, accepted_codecs=frozenset({"flac"}))


def test_file_names_are_not_options_or_protocols(tmp_path: Path) -> None:
    path = tone(tmp_path / "-concat:x|y.wav", "-b", "16")
    assert probe(path, max_duration_s=MAX_S).codec == "pcm_s16le"


def test_timeout_is_a_rejection(tmp_path: Path) -> None:
    path = tone(tmp_path / "a.flac")  # plain WAVs never start ffprobe (see the fast-path tests)
    with pytest.raises(AudioRejected) as caught:
        probe(path, max_duration_s=MAX_S, timeout_s=0.001)
    assert caught.value.status == 422
    assert "could not be probed in time" in caught.value.detail


def test_missing_ffprobe_is_a_server_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tone(tmp_path / "a.flac")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(RuntimeError, match=r"ffprobe is not installed.*run ./run setup"):
        probe(path, max_duration_s=MAX_S)


@pytest.mark.parametrize(
    ("args", "codec"),
    [
        (["-b", "16"], "pcm_s16le"),
        (["-e", "u-law"], "pcm_mulaw"),
        (["-e", "a-law"], "pcm_alaw"),
        (["-b", "24"], "pcm_s24le"),
        (["-e", "floating-point", "-b", "32"], "pcm_f32le"),
    ],
)
def test_plain_wavs_are_read_from_the_header_with_the_same_facts_as_ffprobe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], codec: str
) -> None:
    path = tone(tmp_path / "a.wav", *args)
    with_ffprobe = probe_without_fast_path(path, monkeypatch)
    facts = probe(path, max_duration_s=MAX_S)
    assert facts.codec == codec
    assert (facts.container, facts.codec, facts.channels, facts.sample_rate) == (
        with_ffprobe.container,
        with_ffprobe.codec,
        with_ffprobe.channels,
        with_ffprobe.sample_rate,
    )
    assert abs(facts.duration_ms - with_ffprobe.duration_ms) <= 1


def probe_without_fast_path(path: Path, monkeypatch: pytest.MonkeyPatch) -> AudioFacts:
    from recorder_ingest import audio

    with monkeypatch.context() as patched:
        patched.setattr(audio, "plain_wav", lambda _path: None)
        return probe(path, max_duration_s=MAX_S)


def test_the_fast_path_leaves_truncated_and_empty_wavs_to_ffmpeg(tmp_path: Path) -> None:
    whole = tone(tmp_path / "a.wav", "-b", "16").read_bytes()
    truncated = tmp_path / "cut.wav"
    truncated.write_bytes(whole[: len(whole) // 2])
    assert plain_wav(truncated) is None
    header_only = tmp_path / "header.wav"
    header_only.write_bytes(whole[:44])
    assert plain_wav(header_only) is None
    assert plain_wav(tone(tmp_path / "a.flac")) is None
