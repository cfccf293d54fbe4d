"""Probe an uploaded recording with ffprobe/ffmpeg before anything is stored.

`probe()` returns the facts the ingest API records (container, codec, channels, rate, duration) or
raises `AudioRejected` carrying an RFC 9457-style status, title and a detail that names the problem.
A header alone proves little (a WAV header can sit on a truncated body, a FLAC header on garbage), so
after ffprobe the first seconds are really decoded.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PCM_WAV_CODECS = frozenset({"pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_u8", "pcm_f32le"})
DEFAULT_CODECS: frozenset[str] = PCM_WAV_CODECS | {"pcm_mulaw", "pcm_alaw", "flac", "mp3", "opus", "vorbis"}

MAX_CHANNELS = 2  # mono, or stereo with one party per channel
DECODE_CHECK_S = 2.0
FFPROBE = "ffprobe"
FFMPEG = "ffmpeg"
# Only demuxers for audio containers, and only local files: playlist-like formats (HLS, concat)
# would otherwise let an upload make ffmpeg open other files or URLs.
_INPUT_OPTIONS = [
    "-format_whitelist",
    "wav,w64,flac,mp3,ogg,aiff,au,caf,matroska,webm,mov,mp4,m4a",
    "-protocol_whitelist",
    "file",
]
_NOT_ON_WHITELIST = re.compile(r"\[(\w+) @ 0x[0-9a-f]+\] Format not on whitelist")
_LOG_CONTEXT = re.compile(r" @ 0x[0-9a-f]+\]")

# Magic numbers of audio containers: when ffprobe fails on such a file it is a damaged recording
# ("Corrupt audio"), otherwise it is something else entirely ("Unsupported audio"). ffprobe's own
# guess is not used for this because it also trusts the file name's extension (random bytes named
# `.mp3` are "recognised" as MP3, named `.bin` as a "Binary text" video).
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (8, b"WAVE", "WAV"),  # after "RIFF"/"RF64" and a size
    (0, b"fLaC", "FLAC"),
    (0, b"OggS", "Ogg"),
    (0, b"ID3", "MP3"),
    (8, b"AIFF", "AIFF"),
    (8, b"AIFC", "AIFF"),
    (0, b".snd", "AU"),
)
_DISPLAY_NAMES = {"wav": "WAV", "flac": "FLAC", "mp3": "MP3", "ogg": "Ogg", "aiff": "AIFF", "au": "AU"}
_EXTENSIONS = {"matroska,webm": "mka", "mov,mp4,m4a,3gp,3g2,mj2": "m4a"}  # else the format name itself


@dataclass(frozen=True)
class AudioFacts:
    container: str  # ffprobe's format_name, e.g. "wav", "ogg"
    codec: str
    channels: int
    sample_rate: int
    duration_ms: int
    bit_rate: int | None

    @property
    def extension(self) -> str:
        """File extension for the object key; Opus and Vorbis both live in Ogg, hence "ogg"."""
        # format_name can be a comma-separated alias list ("matroska,webm"): take the first.
        return _EXTENSIONS.get(self.container, self.container.split(",")[0])


class AudioRejected(Exception):
    """The upload is not acceptable audio; `status`, `title` and `detail` form the problem response."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(f"{title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail


def _unsupported(detail: str) -> AudioRejected:
    return AudioRejected(422, "Unsupported audio", detail)


def _corrupt(detail: str) -> AudioRejected:
    return AudioRejected(422, "Corrupt audio", detail)


def _empty(detail: str) -> AudioRejected:
    return AudioRejected(422, "Empty audio", detail)


def _run(args: list[str], *, timeout_s: float, what: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(args, capture_output=True, stdin=subprocess.DEVNULL, timeout=timeout_s, check=False)
    except FileNotFoundError as exc:
        # A deployment problem, not the uploader's: must surface as a server error.
        raise RuntimeError(f"{args[0]} is not installed or not on PATH; run ./run setup (installs ffmpeg)") from exc
    except subprocess.TimeoutExpired as exc:
        raise AudioRejected(
            422, "Unsupported audio", f"the file could not be probed in time ({what} took over {timeout_s:g} s)"
        ) from exc


def _input(path: Path) -> str:
    # "file:" so that a name with a colon or a leading dash is never taken for a protocol or an option.
    return f"file:{path.resolve()}"


def _stderr_reason(stderr: str, path: Path) -> str:
    """ffmpeg's last messages, without the server's spool path or memory addresses."""
    text = _LOG_CONTEXT.sub("]", stderr.replace(f"{_input(path)}: ", "").replace(_input(path), "the file"))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "; ".join(lines[-3:]) or "no error message"


def _sniff(path: Path) -> str | None:
    """The audio container the file's first bytes announce, if any."""
    with path.open("rb") as file:
        head = file.read(16)
    for offset, magic, name in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return name
    # An MPEG audio frame sync without an ID3 tag: 11 set bits, then a valid layer.
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06:
        return "MP3"
    return None


def _looks_like_text(path: Path) -> bool:
    with path.open("rb") as file:
        head = file.read(512)
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\r\n\t" for ch in text)


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _ffprobe(path: Path, timeout_s: float) -> dict[str, Any]:
    result = _run(
        [FFPROBE, "-v", "error", *_INPUT_OPTIONS, "-show_format", "-show_streams", "-of", "json", _input(path)],
        timeout_s=timeout_s,
        what="ffprobe",
    )
    data: dict[str, Any] = {}
    if result.returncode == 0:
        try:
            data = json.loads(result.stdout or b"{}")
        except json.JSONDecodeError:
            data = {}
    if result.returncode == 0 and "format" in data:
        return data
    stderr = result.stderr.decode("utf-8", "replace")
    if match := _NOT_ON_WHITELIST.search(stderr):
        raise _unsupported(f"the file is not in a recognised audio format (ffprobe took it for {match[1]!r})")
    reason = _stderr_reason(stderr, path)
    container = _sniff(path)
    if container is not None:
        raise _corrupt(f"the file starts like {container} but ffprobe could not read the file: {reason}")
    if _looks_like_text(path):
        raise _unsupported(f"the file is text, not audio (ffprobe could not read the file: {reason})")
    raise _unsupported(f"the file is not in a recognised audio format (ffprobe could not read the file: {reason})")


def _decoded_seconds(path: Path, *, channels: int, sample_rate: int, timeout_s: float) -> tuple[float, str | None]:
    """Decode the first seconds of the first audio stream; (seconds decoded, error or None)."""
    result = _run(
        [
            FFMPEG,
            "-nostdin",
            "-hide_banner",
            "-v",
            "error",
            "-xerror",  # stop at the first decoding error instead of concealing it
            "-err_detect",
            "crccheck+bitstream+buffer+explode",  # else FLAC with a garbage body decodes "fine" to silence
            *_INPUT_OPTIONS,
            "-t",
            f"{DECODE_CHECK_S:g}",
            "-i",
            _input(path),
            "-map",
            "0:a:0",
            "-f",
            "s16le",
            "-",
        ],
        timeout_s=timeout_s,
        what="the decode check",
    )
    seconds = len(result.stdout) / (2 * channels * sample_rate)
    return seconds, None if result.returncode == 0 else _stderr_reason(result.stderr.decode("utf-8", "replace"), path)


def probe(
    path: Path,
    *,
    max_duration_s: float,
    accepted_codecs: frozenset[str] = DEFAULT_CODECS,
    timeout_s: float = 30,
) -> AudioFacts:
    """Describe the audio file at `path` or raise `AudioRejected` (422 bad audio, 413 too long).

    Raises RuntimeError when ffprobe/ffmpeg are missing: that is the server's fault, not the upload's.
    """
    if path.stat().st_size == 0:
        raise _empty("the file is empty (0 bytes)")
    if (facts := plain_wav(path)) is not None and facts.codec in accepted_codecs:
        if facts.duration_ms > max_duration_s * 1000:
            raise AudioRejected(
                413,
                "Audio too long",
                f"the recording lasts {facts.duration_ms / 1000:.1f} s; the limit is {max_duration_s:g} s",
            )
        return facts

    data = _ffprobe(path, timeout_s)
    fmt: dict[str, Any] = data["format"]
    container = str(fmt.get("format_name", "unknown"))
    display = _DISPLAY_NAMES.get(container, container)
    streams: list[dict[str, Any]] = data.get("streams", [])
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    if not audio:
        found = ", ".join(f"{s.get('codec_type', '?')} ({s.get('codec_name', '?')})" for s in streams) or "no streams"
        raise _unsupported(f"the file has no audio stream (ffprobe found a {container!r} file with {found})")
    if len(audio) > 1:
        # Silently taking the first would drop one party of the call.
        raise _unsupported(
            f"the file has {len(audio)} audio streams; send one stream (mono, or stereo with one party per channel)"
        )
    stream = audio[0]

    codec = str(stream.get("codec_name", "unknown"))
    if codec not in accepted_codecs:
        raise _unsupported(f"codec {codec!r} is not accepted; accepted: {', '.join(sorted(accepted_codecs))}")

    channels = _int(stream.get("channels")) or 0
    sample_rate = _int(stream.get("sample_rate")) or 0
    if channels <= 0 or sample_rate <= 0:
        raise _corrupt(f"the {display} header declares {channels} channels at {sample_rate} Hz")
    if channels > MAX_CHANNELS:
        raise _unsupported(
            f"the file has {channels} channels; call recordings must be mono or stereo (one party per channel)"
        )

    duration_s = _float(fmt.get("duration"))
    if duration_s is None:
        duration_s = _float(stream.get("duration"))
    if duration_s is not None and duration_s > max_duration_s:
        raise AudioRejected(
            413, "Audio too long", f"the recording lasts {duration_s:.1f} s; the limit is {max_duration_s:g} s"
        )

    decoded_s, error = _decoded_seconds(path, channels=channels, sample_rate=sample_rate, timeout_s=timeout_s)
    if decoded_s == 0 and (error is None or not duration_s):
        raise _empty(f"the file has a {display} header but no audio frames")
    if error is not None:
        raise _corrupt(f"the {display} audio data is damaged: decoding failed at {decoded_s:.2f} s ({error})")
    if not duration_s:
        raise _corrupt(f"ffprobe could not determine the duration of the {display} file")
    expected_s = min(duration_s, DECODE_CHECK_S)
    # Some decoders skip garbage without reporting an error; a body that yields far less audio
    # than the header promises is damaged. The slack absorbs encoder delay and padding (MP3, Opus).
    if decoded_s < expected_s * 0.8 - 0.05:
        raise _corrupt(f"only {decoded_s:.2f} s of the first {expected_s:.2f} s could be decoded")

    return AudioFacts(
        container=container,
        codec=codec,
        channels=channels,
        sample_rate=sample_rate,
        duration_ms=round(duration_s * 1000),
        bit_rate=_int(fmt.get("bit_rate")) or _int(stream.get("bit_rate")),
    )


# WAV encodings whose every byte sequence decodes (format tag, bits per sample) -> ffmpeg's codec name.
_WAV_CODECS = {
    (1, 8): "pcm_u8",
    (1, 16): "pcm_s16le",
    (1, 24): "pcm_s24le",
    (1, 32): "pcm_s32le",
    (3, 32): "pcm_f32le",
    (6, 8): "pcm_alaw",
    (7, 8): "pcm_mulaw",
}
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE


def plain_wav(path: Path) -> AudioFacts | None:
    """Read a well-formed PCM / G.711 WAV from its header alone, or None to let ffprobe decide.

    Most recorders post such files, and starting ffprobe and ffmpeg costs ~145 ms per upload. For
    these codecs any complete data chunk decodes, so header + size consistency is the whole check;
    anything unusual (other codecs, odd chunks, a truncated or empty body) takes the full path.
    """
    with path.open("rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        fmt: tuple[int, int, int, int, int] | None = None
        while chunk := f.read(8):
            if len(chunk) < 8:
                return None
            chunk_id, size = chunk[:4], int.from_bytes(chunk[4:], "little")
            if chunk_id == b"fmt ":
                body = f.read(size + (size & 1))
                if len(body) < 16:
                    return None
                tag = int.from_bytes(body[0:2], "little")
                if tag == _WAVE_FORMAT_EXTENSIBLE and len(body) >= 26:
                    tag = int.from_bytes(body[24:26], "little")  # the sub-format GUID starts with the tag
                channels = int.from_bytes(body[2:4], "little")
                rate = int.from_bytes(body[4:8], "little")
                block_align = int.from_bytes(body[12:14], "little")
                bits = int.from_bytes(body[14:16], "little")
                fmt = (tag, channels, rate, block_align, bits)
            elif chunk_id == b"data":
                if fmt is None or size == 0 or size == 0xFFFFFFFF:
                    return None  # no format yet, no frames, or a streaming header: let ffprobe judge
                tag, channels, rate, block_align, bits = fmt
                codec = _WAV_CODECS.get((tag, bits))
                complete = path.stat().st_size >= f.tell() + size
                if (
                    codec is None
                    or not 1 <= channels <= MAX_CHANNELS
                    or rate <= 0
                    or block_align != channels * bits // 8
                    or not complete
                ):
                    return None
                frames = size // block_align
                return AudioFacts(
                    container="wav",
                    codec=codec,
                    channels=channels,
                    sample_rate=rate,
                    duration_ms=round(frames * 1000 / rate),
                    bit_rate=rate * channels * bits,
                )
            else:
                f.seek(size + (size & 1), 1)
    return None
