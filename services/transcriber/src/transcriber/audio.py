"""Decode recordings to float32 samples with ffmpeg, one row per channel.

Channels stay separate because a stereo call carries one party per channel and each is transcribed on its
own. Long calls are read in chunks from a single ffmpeg process (`iter_chunks`), so a 2-hour call never sits
in memory whole and chunk offsets are exact sample counts rather than seek positions. A chunk ends at a
pause near its nominal length, where there is one, so that no word is cut in two.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"
SAMPLE_RATE = 16000
_BYTES_PER_SAMPLE = 4  # f32le
# Local files only: a playlist-like input (HLS, concat) must not make ffmpeg open URLs.
_INPUT_OPTIONS = ("-protocol_whitelist", "file")
_LOG_CONTEXT = re.compile(r" @ 0x[0-9a-f]+\]")
CUT_SEARCH_S = 5.0  # a chunk ends at the quietest moment of its last seconds ...
PAUSE_RATIO = 0.1  # ... if that is a pause: 10 dB below the window's median loudness (else at its length)
_FRAME_S = 0.02

Samples = npt.NDArray[np.float32]


class UndecodableAudio(Exception):
    """ffmpeg/ffprobe cannot read the recording; the message carries their reason (the worker DLQs it)."""


def duration_s(path: Path) -> float:
    """Duration of the recording in seconds (container's, else the first audio stream's)."""
    info = _probe(path)
    for value in (info.get("format", {}).get("duration"), info["stream"].get("duration")):
        try:
            return float(value)
        except (TypeError, ValueError):
            continue
    raise UndecodableAudio(f"{path.name}: ffprobe reports no duration")


def decode(
    path: Path, *, sample_rate: int = SAMPLE_RATE, start_s: float = 0, duration_s: float | None = None
) -> Samples:
    """Samples of shape (channels, n), float32 in [-1, 1], resampled to ``sample_rate``."""
    stream = io.BytesIO(_run(_ffmpeg_args(path, sample_rate, start_s, duration_s), path).stdout)
    n_channels = _wav_channels(stream)
    if not n_channels:
        raise UndecodableAudio(f"{path.name}: ffmpeg wrote no audio")
    return _to_channels(stream.read(), n_channels)


def iter_chunks(path: Path, chunk_s: float, *, sample_rate: int = SAMPLE_RATE) -> Iterator[tuple[float, Samples]]:
    """Yield ``(offset_s, samples)`` with samples of shape (channels, n) that add up to the whole recording.

    Each chunk but the last is about ``chunk_s`` seconds: it ends in the quietest 20 ms of its last
    seconds (`CUT_SEARCH_S`, at most a quarter of the chunk) when that is a pause on every channel, and at
    exactly ``chunk_s`` when there is none; the rest begins the next chunk. At most two chunks are held.
    The file is decoded once, by one ffmpeg process, with no probe before it: the channel count comes from the
    WAV header ffmpeg writes ahead of the samples.
    Raises UndecodableAudio (possibly after some chunks were yielded, if the damage is further in).
    """
    if chunk_s <= 0:
        raise ValueError("chunk_s must be positive")
    chunk_frames = max(1, round(chunk_s * sample_rate))
    search = min(round(CUT_SEARCH_S * sample_rate), chunk_frames // 4)
    args = _ffmpeg_args(path, sample_rate, 0, None)
    # stderr to a file, not a pipe: ffmpeg would block on a full stderr pipe that nobody reads while we stream.
    with tempfile.TemporaryFile() as stderr:
        process = _popen(args, stderr)
        assert process.stdout is not None
        try:
            n_channels = _wav_channels(process.stdout)
            frame_bytes = n_channels * _BYTES_PER_SAMPLE
            pending: Samples = np.zeros((n_channels, 0), dtype=np.float32)
            offset = 0
            while n_channels and (block := process.stdout.read(chunk_frames * frame_bytes)):
                usable = len(block) - len(block) % frame_bytes
                pending = np.concatenate([pending, _to_channels(block[:usable], n_channels)], axis=1)
                while pending.shape[1] > chunk_frames:  # more audio follows: end this chunk at a pause
                    cut = _quiet_cut(pending, chunk_frames, search, sample_rate)
                    yield offset / sample_rate, pending[:, :cut]
                    offset += cut
                    pending = pending[:, cut:]
        finally:
            # The consumer may stop early (shutdown, failure): never leave ffmpeg running.
            if process.poll() is None:
                process.kill()
            process.stdout.close()
            returncode = process.wait()
        if returncode != 0:
            stderr.seek(0)
            raise UndecodableAudio(_reason(stderr.read().decode("utf-8", "replace"), path))
        if pending.shape[1]:
            yield offset / sample_rate, pending


def _wav_channels(stream: IO[bytes]) -> int:
    """Read a streamed WAV header up to its data chunk; the channel count (0 when there is no header: ffmpeg
    failed, and its exit status says why)."""
    if stream.read(12)[8:12] != b"WAVE":
        return 0
    n_channels = 0
    while len(header := stream.read(8)) == 8:
        kind, size = header[:4], int.from_bytes(header[4:], "little")
        if kind == b"data":
            return n_channels
        body = stream.read(size + size % 2)  # chunks are padded to an even length
        if kind == b"fmt ":
            n_channels = int.from_bytes(body[2:4], "little")
    return 0


def _quiet_cut(samples: Samples, target: int, search: int, sample_rate: int) -> int:
    """Where a chunk of nominally `target` samples ends: in the middle of the quietest 20 ms frame of its
    last `search` samples (the latest of equally quiet ones; loudness = the louder channel) if that frame
    is a pause, else at `target`."""
    frame = max(1, round(_FRAME_S * sample_rate))
    count = search // frame
    if count < 2:
        return target
    start = target - count * frame
    window = samples[:, start:target].reshape(samples.shape[0], count, frame).astype(np.float64)
    loudness = (window**2).mean(axis=2).max(axis=0)
    quietest = count - 1 - int(np.argmin(loudness[::-1]))
    if loudness[quietest] > PAUSE_RATIO * float(np.median(loudness)):
        return target
    return start + quietest * frame + frame // 2


def _ffmpeg_args(path: Path, sample_rate: int, start_s: float, duration: float | None) -> list[str]:
    """ffmpeg writing the first audio stream as float WAV to stdout: the header tells the channel count."""
    args = [FFMPEG, "-nostdin", "-hide_banner", "-v", "error", *_INPUT_OPTIONS]
    if start_s > 0:
        args += ["-ss", f"{start_s:.6f}"]  # before -i: seek in the input rather than decode and discard
    if duration is not None:
        args += ["-t", f"{duration:.6f}"]
    args += ["-i", _input(path), "-map", "0:a:0", "-vn", "-ar", str(sample_rate)]
    return [*args, "-f", "wav", "-acodec", "pcm_f32le", "-"]


def _to_channels(raw: bytes, n_channels: int) -> Samples:
    interleaved = np.frombuffer(raw, dtype="<f4")
    # A C-ordered copy: writable (the buffer is not) and each channel row contiguous for the recogniser.
    samples: Samples = interleaved.reshape(-1, n_channels).T.astype(np.float32, order="C", copy=True)
    np.clip(samples, -1.0, 1.0, out=samples)  # lossy codecs overshoot full scale slightly
    return samples


def _probe(path: Path) -> dict[str, Any]:
    args = [FFPROBE, "-v", "error", *_INPUT_OPTIONS, "-select_streams", "a:0", "-show_streams", "-show_format"]
    result = _run([*args, "-of", "json", _input(path)], path)
    try:
        info: dict[str, Any] = json.loads(result.stdout or b"{}")
    except json.JSONDecodeError as e:
        raise UndecodableAudio(f"{path.name}: ffprobe output is not JSON: {e}") from e
    streams = info.get("streams") or []
    if not streams or not int(streams[0].get("channels") or 0):
        raise UndecodableAudio(f"{path.name}: no audio stream")
    info["stream"] = streams[0]
    return info


def _run(args: list[str], path: Path) -> subprocess.CompletedProcess[bytes]:
    try:
        result = subprocess.run(args, capture_output=True, stdin=subprocess.DEVNULL, check=False)
    except FileNotFoundError as e:
        raise RuntimeError(f"{args[0]} is not installed or not on PATH (./run setup installs ffmpeg)") from e
    if result.returncode != 0:
        raise UndecodableAudio(_reason(result.stderr.decode("utf-8", "replace"), path))
    return result


def _popen(args: list[str], stderr: IO[bytes]) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr)
    except FileNotFoundError as e:
        raise RuntimeError(f"{args[0]} is not installed or not on PATH (./run setup installs ffmpeg)") from e


def _input(path: Path) -> str:
    # "file:" so a name with a colon or a leading dash is never taken for a protocol or an option.
    return f"file:{path.resolve()}"


def _reason(stderr: str, path: Path) -> str:
    """ffmpeg's last messages without local paths or memory addresses (they end up in DLQ records)."""
    text = _LOG_CONTEXT.sub("]", stderr.replace(_input(path), path.name))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return f"{path.name}: " + ("; ".join(lines[-3:]) or "ffmpeg failed without a message")
