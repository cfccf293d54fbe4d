"""Where someone is speaking on one channel: Silero VAD decides *whether*, signal energy decides *where*.

Silero (the model bundled with faster-whisper) tells speech from noise, but on band-limited telephone
audio its probabilities are low (0.3-0.6 on clear speech) and react one or two 32 ms windows late, and its
own segmenter pads and holds segments open for hundreds of milliseconds. Talk time, non-talk instances and
overlaps need boundaries to a few tens of milliseconds, so a window counts as speech when it carries energy
above the channel's noise floor AND Silero does not rule speech out nearby; a run of such windows (short
pauses bridged) is kept when Silero's peak inside it clears `threshold`. The noise floor is the median level
of the windows Silero rules out, so line noise raises the bar with it. A channel that never rises above
`SILENT_DBFS` (the idle side of a stereo call, a muted line) returns [] without running the model.

Measured on the espeak-ng demo calls (8 kHz μ-law, 12 channels): turn edges within ±0.1 s (one
late start of 0.24 s), 99.6 % of each party's speech covered, under 0.2 s of false speech per channel;
with white noise added at -40 dBFS 97.6 % covered, at -32 dBFS (about 12 dB SNR) 94 %.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from faster_whisper.vad import get_vad_model

from callqa.transcripts import Span

SAMPLE_RATE = 16000
WINDOW = 512  # Silero's window at 16 kHz: 32 ms; every decision here is made per window
WINDOW_MS = WINDOW * 1000 // SAMPLE_RATE
SILENT_DBFS = -55.0  # a channel whose loudest window stays below this carries no speech
FLOOR_MARGIN_DB = 6.0  # speech must stand this far above the channel's noise floor
NOT_SPEECH_P = 0.1  # windows Silero rates below this are noise: they measure the floor ...
NEAR_SPEECH_P = NOT_SPEECH_P  # ... and the others may be speech, if loud enough (espeak "不客气" rates 0.13)
SILERO_LAG_WINDOWS = 2  # Silero reacts late to onsets; trust it this many windows either side


def speech_spans(
    samples: npt.NDArray[np.float32],
    *,
    min_silence_ms: int = 500,
    min_speech_ms: int = 120,
    threshold: float = 0.4,
) -> list[Span]:
    """Voiced spans of a 16 kHz mono signal, in milliseconds from its start.

    min_silence_ms: pauses shorter than this stay inside a span (a breath between sentences is talk time).
    min_speech_ms: shorter blips (clicks, a cough's onset) are dropped.
    threshold: Silero's peak probability a span must reach; 0.4 suits telephony (faster-whisper's 0.5 is
    tuned for wide-band audio and misses short answers such as "Okay." on an 8 kHz line).
    """
    audio = np.asarray(samples, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"speech_spans expects one channel, got an array of shape {audio.shape}")
    if audio.size == 0:
        return []
    padded = np.pad(audio, (0, -audio.size % WINDOW))
    energy_db = window_dbfs(padded)
    if energy_db.max() < SILENT_DBFS:
        return []
    probs = _silero_probabilities(padded)

    quiet = energy_db[probs < NOT_SPEECH_P]
    floor_db = float(np.median(quiet)) if quiet.size else float(np.percentile(energy_db, 5))
    loud = energy_db > max(floor_db + FLOOR_MARGIN_DB, SILENT_DBFS)
    near_speech = _dilate(probs >= NEAR_SPEECH_P, SILERO_LAG_WINDOWS)
    runs = _runs(loud & near_speech)
    runs = _bridge(runs, max_gap=_windows(min_silence_ms))
    min_windows = _windows(min_speech_ms)
    total_ms = audio.size * 1000 // SAMPLE_RATE
    return [
        Span(begin_ms=begin * WINDOW_MS, end_ms=min(end * WINDOW_MS, total_ms))
        for begin, end in runs
        if end - begin >= min_windows and probs[begin:end].max() >= threshold
    ]


def window_dbfs(samples: npt.NDArray[np.float32], window: int = WINDOW) -> npt.NDArray[np.float64]:
    """RMS level of each whole `window` of samples, in dBFS (a digitally silent window reads -120)."""
    frames = samples[: samples.size - samples.size % window].reshape(-1, window)
    power = np.einsum("ij,ij->i", frames, frames).astype(np.float64) / window  # no squared copy of the call
    return np.asarray(10 * np.log10(np.maximum(power, 1e-12)), dtype=np.float64)


def _silero_probabilities(padded: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    # get_vad_model() is cached by faster-whisper: the ONNX session is built once per process.
    model: Any = get_vad_model()
    return np.asarray(model(padded), dtype=np.float32).reshape(-1)


def _windows(ms: int) -> int:
    return max(1, round(ms / WINDOW_MS))


def _dilate(mask: npt.NDArray[np.bool_], radius: int) -> npt.NDArray[np.bool_]:
    out = mask.copy()
    for shift in range(1, radius + 1):
        out[shift:] |= mask[:-shift]
        out[:-shift] |= mask[shift:]
    return out


def _runs(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """[begin, end) index pairs of the True runs."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    begins, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(b), int(e)) for b, e in zip(begins, ends, strict=True)]


def _bridge(runs: list[tuple[int, int]], max_gap: int) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for begin, end in runs:
        if merged and begin - merged[-1][1] < max_gap:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((begin, end))
    return merged
