"""Reading rendered calls back: their channels, levels and where each party speaks."""

from __future__ import annotations

import math
import subprocess
import wave
from array import array
from collections.abc import Sequence
from pathlib import Path

from callqa_stack.samples import TurnTiming

EDGE_S = 0.05  # the band-pass filter rings a few ms past each turn's edges
SILENT_PEAK = 16  # of 32767: a channel nobody speaks on is digitally silent
SPEECH_RMS = 500


def soxi(path: Path, option: str) -> str:
    return subprocess.run(["soxi", option, str(path)], check=True, capture_output=True, text=True).stdout.strip()


def read_channels(path: Path, tmp_path: Path) -> tuple[list[array[int]], int]:
    """Both channels as 16-bit samples (sox decodes the μ-law; the stdlib `wave` reads only PCM)."""
    pcm = tmp_path / "pcm.wav"
    subprocess.run(["sox", str(path), "-e", "signed-integer", "-b", "16", str(pcm)], check=True)
    with wave.open(str(pcm), "rb") as reader:
        samples = array("h", reader.readframes(reader.getnframes()))
        return [samples[0::2], samples[1::2]], reader.getframerate()


def rms(samples: Sequence[int]) -> float:
    return math.sqrt(sum(x * x for x in samples) / len(samples)) if samples else 0.0


def window(channel: array[int], rate: int, begin_s: float, end_s: float) -> array[int]:
    return channel[round(begin_s * rate) : round(end_s * rate)]


def spans_without(begin: float, end: float, others: Sequence[TurnTiming]) -> list[tuple[float, float]]:
    """[begin, end] minus the other party's turns (talk-over), with a margin for filter ringing."""
    spans = [(begin, end)]
    for other in others:
        cut_begin, cut_end = other.begin_s - EDGE_S, other.end_s + EDGE_S
        spans = [
            part
            for b, e in spans
            for part in ((b, min(e, cut_begin)), (max(b, cut_end), e))
            if part[1] - part[0] > EDGE_S
        ]
    return spans
