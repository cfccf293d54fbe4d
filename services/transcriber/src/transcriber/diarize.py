"""Who spoke when on a mono call, and which of the two speakers is the agent.

No hub-downloaded diarizer is available offline, so this is the classical recipe in numpy only:

1. MFCCs (the spectral envelope, which differs between vocal tracts) of 25 ms frames;
2. an embedding per ~1.5 s window of voiced audio (mean and spread of its MFCCs), two clusters by k-means;
3. a test whether the split is real (below), else the call is reported as one speaker;
4. resegmentation: a Gaussian per speaker is fitted on the frames, every frame is scored by the
   log-likelihood ratio, the ratio is averaged over half a second within each voiced region and its sign
   gives the speaker; runs shorter than MIN_RUN_MS inside a region are flipped (short flips are noise).
   Step 4 runs twice. Frame-level labels find turn changes inside a region, where the VAD saw no pause.

Is the split real? k-means always splits, so two statistics decide (both on frames, not windows):
- separation: how much better two Gaussians describe the frames than one (nats per frame);
- contrast: separation divided by what splitting each cluster once more gains. One voice varies
  continuously (phonetic content, loudness), so every further split gains about as much as the first;
  two voices make the first split stand out.

Measured: the 6 espeak demo calls mixed to mono, 100 % of the single-speaker voiced time labelled right
(also with -40 dBFS noise); real voices (a LibriVox reader interleaved with an F5-TTS reference speaker,
wide-band and 8 kHz μ-law) 98-100 %; every single voice (12 espeak channels, the LibriVox reader) came
back as one speaker. Real two-speaker calls pass the contrast test by a thin margin: expect confidences
of 0.2-0.6 there, and evaluate on real call-centre recordings before trusting the labels unreviewed.

The agent is then found by what the speakers say (greetings and self-introductions are scripted for
agents), falling back to who spoke first (an agent answers an inbound call).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from callqa.transcripts import Span, Word
from transcriber.turns import join_words

SAMPLE_RATE = 16000
FRAME = 400  # 25 ms analysis frames ...
HOP = 160  # ... every 10 ms
FRAME_MS = HOP * 1000 // SAMPLE_RATE
N_FFT = 512
N_MELS = 32
N_CEPS = 19  # c1..c19; c0 (loudness) says more about the microphone distance than about the speaker
BAND_HZ = (100.0, 3800.0)  # the telephone band, so 8 kHz and wide-band recordings look alike
SILENT_DBFS = -60.0  # frames quieter than this inside a VAD span carry no voice
WINDOW_MS = 1500
MIN_FRAMES = 15  # a window needs this much voiced audio (150 ms) to be embedded
# The two-speaker decision (see the module docstring), calibrated on 12 single espeak voices, 6 two-voice
# espeak calls and real speech (LibriVox reader, F5-TTS reference speakers), clean and with -40 dBFS noise:
# separation of one voice 0.19-0.78 (real: 0.24-0.32), of two real voices 0.6-2.6; contrast of one voice
# 0.38-1.12 (0.97 at most where separation passes), of two voices 1.11-5.4. Both must pass: one espeak
# voice may pass either test, never both.
MIN_SEPARATION = 0.5
MIN_CONTRAST = 1.05
STRONG_SEPARATION = 1.0  # required instead when too few windows allow the contrast test
MIN_MINOR_SHARE = 0.07  # a "speaker" with less of the voiced time than this is an artefact
RESEGMENT_PASSES = 2
SMOOTH_MS = 500
MIN_RUN_MS = 300
KMEANS_ITERATIONS = 50
BLOCK_FRAMES = 6000  # a minute of frames per FFT block: an hour's frames at once would take gigabytes

Samples = npt.NDArray[np.float32]
Matrix = npt.NDArray[np.float64]
Labels = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Diarization:
    """Speaker-labelled voiced regions in time order, and how far to trust them.

    speakers: 0 (no speech), 1 (every region is speaker 0) or 2. Speaker 0 is whoever speaks first.
    separation, contrast: the split statistics of the module docstring (None when too little speech).
    confidence: 0..1, how far those statistics lie from the one/two-speaker decision boundary, for the
        answer given (a clear single voice is as confident as a clear pair).
    """

    regions: list[tuple[Span, int]]
    speakers: int
    separation: float | None
    contrast: float | None
    confidence: float


def diarize(samples: Samples, speech: Sequence[Span]) -> Diarization:
    """Label the voiced spans of a 16 kHz mono recording with speaker 0 or 1 (see the module docstring).

    A span may be cut where the speaker changes inside it; a recording where the split does not hold
    comes back as one speaker with every span labelled 0, and a recording without speech as no regions.
    """
    audio = np.asarray(samples, dtype=np.float32).reshape(-1)
    features = mfcc(audio)
    spans = _clip_spans(speech, features.shape[0])
    if not spans:
        return Diarization(regions=[], speakers=0, separation=None, contrast=None, confidence=0.0)
    single = [(span, 0) for span in spans]

    usable = _voiced_frames(audio) & _frame_mask(spans, features.shape[0])
    windows = [w for w in _windows(spans) if usable[_frames_of(w)].sum() >= MIN_FRAMES]
    if len(windows) < 4:
        return Diarization(regions=single, speakers=1, separation=None, contrast=None, confidence=0.0)
    frames_by_window = [features[_frames_of(w)][usable[_frames_of(w)]] for w in windows]
    clusters = kmeans2(_standardise(np.array([_embedding(frames) for frames in frames_by_window])))
    separation = split_gain(frames_by_window, clusters)
    contrast = _contrast(frames_by_window, clusters, separation)
    margin = _margin(separation, contrast)
    if margin <= 0:
        return Diarization(
            regions=single,
            speakers=1,
            separation=round(separation, 3),
            contrast=_round(contrast),
            confidence=_confidence(margin),
        )

    frame_labels = np.full(features.shape[0], -1, dtype=np.int64)
    for window, cluster in zip(windows, clusters.tolist(), strict=True):
        frame_labels[_frames_of(window)] = cluster
    frame_labels = _resegment(features, usable, frame_labels, spans)
    regions = _regions(frame_labels, spans)
    voiced_by_speaker = [sum(s.duration_ms for s, label in regions if label == k) for k in (0, 1)]
    if min(voiced_by_speaker) < MIN_MINOR_SHARE * sum(voiced_by_speaker):
        return Diarization(
            regions=single, speakers=1, separation=round(separation, 3), contrast=_round(contrast), confidence=0.0
        )
    if regions[0][1] == 1:
        regions = [(span, 1 - label) for span, label in regions]  # speaker 0 speaks first
    return Diarization(
        regions=regions,
        speakers=2,
        separation=round(separation, 3),
        contrast=_round(contrast),
        confidence=_confidence(margin),
    )


def mfcc(samples: Samples) -> Matrix:
    """Cepstral coefficients c1..N_CEPS of 25 ms frames every 10 ms, shape (frames, N_CEPS).

    Frame i covers samples [i*HOP, i*HOP + FRAME); a recording shorter than one frame gives zero rows.
    """
    frames = _frames(np.append(samples[:1], samples[1:] - 0.97 * samples[:-1]))  # pre-emphasis
    window, mel, dct = np.hamming(FRAME), _mel_filters(), _dct_matrix()
    cepstra = np.empty((frames.shape[0], N_CEPS))
    for start in range(0, frames.shape[0], BLOCK_FRAMES):
        block = frames[start : start + BLOCK_FRAMES].astype(np.float64) * window
        power = np.abs(np.fft.rfft(block, n=N_FFT)) ** 2
        cepstra[start : start + BLOCK_FRAMES] = np.log(power @ mel.T + 1e-10) @ dct.T
    return cepstra


def kmeans2(points: Matrix) -> Labels:
    """Two-cluster k-means, deterministic: Lloyd iterations from two seeds, the result of lower inertia kept.

    Seeds: the split along the first principal component (robust to outliers), and the point farthest
    from the centre with the point farthest from that one (k-means++'s idea without the randomness).
    """
    centred = points - points.mean(axis=0)
    principal = np.linalg.svd(centred, full_matrices=False)[2][0]
    along = centred @ principal
    by_component = np.stack([points[along <= 0].mean(axis=0), points[along > 0].mean(axis=0)])
    first = points[np.argmax(np.linalg.norm(centred, axis=1))]
    by_distance = np.stack([first, points[np.argmax(np.linalg.norm(points - first, axis=1))]])
    results = [_lloyd(points, seeds) for seeds in (by_component, by_distance) if np.isfinite(seeds).all()]
    return min(results, key=lambda result: result[1])[0] if results else np.zeros(len(points), dtype=np.int64)


def _lloyd(points: Matrix, centres: Matrix) -> tuple[Labels, float]:
    """(labels, inertia) of k-means from the given centres."""
    labels = np.zeros(points.shape[0], dtype=np.int64)
    inertia = float("inf")
    for _ in range(KMEANS_ITERATIONS):
        distances = np.linalg.norm(points[:, None, :] - centres[None, :, :], axis=2)
        new_labels = np.argmin(distances, axis=1).astype(np.int64)
        if (new_labels == new_labels[0]).all():
            break  # degenerate (identical points): keep the previous split
        labels, inertia = new_labels, float(np.sum(np.min(distances, axis=1) ** 2))
        updated = np.stack([points[labels == k].mean(axis=0) for k in (0, 1)])
        if np.allclose(updated, centres):
            break
        centres = updated
    return labels, inertia


def split_gain(frames_by_window: Sequence[Matrix], clusters: Labels) -> float:
    """Nats per frame gained by describing the frames with one Gaussian per cluster instead of one overall.

    For Gaussians fitted by maximum likelihood this is ½·(log|Σ| − Σₖ wₖ·log|Σₖ|), wₖ = cluster k's share of
    the frames; 0 when a cluster has too few frames to estimate a covariance.
    """
    parts = [
        np.concatenate([f for f, c in zip(frames_by_window, clusters.tolist(), strict=True) if c == k] or [_empty()])
        for k in (0, 1)
    ]
    if min(len(part) for part in parts) < 2 * N_CEPS:
        return 0.0
    pooled = np.concatenate(parts)
    within = sum(len(part) / len(pooled) * _log_det(part) for part in parts)
    return float(0.5 * (_log_det(pooled) - within))


def assign_words_to_speakers(words: Sequence[Word], regions: Sequence[tuple[Span, int]]) -> dict[int, list[Word]]:
    """Each word goes to the speaker of the region holding its midpoint, else of the nearest region.

    Words keep their order within each speaker; without regions every word is speaker 0's.
    """
    result: dict[int, list[Word]] = {}
    ordered = sorted(regions, key=lambda region: region[0].begin_ms)
    begins = np.array([span.begin_ms for span, _ in ordered], dtype=np.int64)
    for word in words:
        speaker = 0
        if ordered:
            middle = (word.begin_ms + word.end_ms) / 2
            at = int(np.searchsorted(begins, middle, side="right")) - 1  # last region starting at or before
            candidates = [i for i in (at, at + 1) if 0 <= i < len(ordered)]
            speaker = ordered[min(candidates, key=lambda i: _distance(ordered[i][0], middle))][1]
        result.setdefault(speaker, []).append(word)
    return result


# --- which speaker is the agent ---------------------------------------------------------------------------

# Phrases agents are trained to say at the start of a call; weight 3 = practically only agents say it,
# 1 = agents mostly (a customer may also say "您好" or "my name is").
_AGENT_PHRASES: tuple[tuple[re.Pattern[str], int], ...] = tuple(
    (re.compile(pattern), weight)
    for pattern, weight in (
        (r"很高兴为您服务|为您服务|工号|有什么可以帮您|有什么能帮您|有什么可以帮到您|感谢您的来电|感谢致电", 3),
        (r"这里是.{0,12}(客服|中心|热线|服务台|公司)|欢迎致电", 3),
        (r"thank(s| you) for (calling|contacting|holding)|how (can|may|could) i (help|assist)", 3),
        (r"you('re| are) (through|speaking) to|welcome to \w+|i'm calling from|calling from \w+ (support|bank)", 3),
        # "Northwind support, Mark speaking", not the customer's "who am I speaking to".
        (r"(^|[,.] ?)(this is )?\w+ speaking\b|\bthis is \w+ from\b", 2),
        (r"您好|你好, ?这里是|my name is|good (morning|afternoon|evening)\b", 1),
    )
)
# Greetings happen at the start; a later "thank you for calling" is a closing that either side may say.
# The start is each speaker's first EARLY_MS of talk, or their first EARLY_TURNS items if that is more,
# so a speaker's words work as input as well as their turns.
EARLY_MS = 20_000
EARLY_TURNS = 3


def identify_agent(
    turn_texts_by_speaker: Mapping[int, Sequence[tuple[int, str]]], language: str
) -> tuple[int, float, str]:
    """(agent's speaker index, confidence 0..1, how it was decided) from each speaker's (begin_ms, text) items.

    Items are turns or single words. A speaker whose opening (see EARLY_MS) contains agent phrases
    (greeting, staff number, offer of help, self-introduction) is the agent: confidence 0.95 for a decisive
    phrase, less for a weak one or when the other speaker scores too. Without any such phrase the first
    speaker is taken (inbound calls open with the agent) at 0.55; a lone speaker at 0.5. The phrases of
    every language are tried whatever `language` says: agents mix languages, and the hint may be wrong.
    """
    del language  # reserved: per-language phrase lists when more languages arrive
    speakers = [speaker for speaker, turns in turn_texts_by_speaker.items() if turns]
    if not speakers:
        return 0, 0.0, "no speech"
    scores = {speaker: _agent_score(turn_texts_by_speaker[speaker]) for speaker in speakers}
    ranked = sorted(speakers, key=lambda speaker: scores[speaker], reverse=True)
    best = ranked[0]
    runner_up = scores[ranked[1]] if len(ranked) > 1 else 0
    if scores[best] > runner_up:
        # Full strength from one decisive phrase (weight 3); less when the other speaker scores too.
        strength, lead = min(1.0, scores[best] / 3), (scores[best] - runner_up) / scores[best]
        return best, round(0.55 + 0.4 * strength * lead, 2), "greeting phrase"
    first = min(speakers, key=lambda speaker: min(begin for begin, _text in turn_texts_by_speaker[speaker]))
    if len(speakers) == 1:
        return first, 0.5, "only speaker"
    return first, 0.55, "first speaker"


def _agent_score(items: Sequence[tuple[int, str]]) -> int:
    ordered = sorted(items)
    early = [
        text
        for number, (begin, text) in enumerate(ordered)
        if number < EARLY_TURNS or begin - ordered[0][0] <= EARLY_MS
    ]
    text = _normalise_text(join_words(early))
    return sum(weight for pattern, weight in _AGENT_PHRASES if pattern.search(text))


def _normalise_text(text: str) -> str:
    """NFKC folds full-width letters and punctuation ("，" becomes ","), so one pattern serves both."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).lower().replace("’", "'"))


# --- internals ----------------------------------------------------------------------------------------------


def _contrast(frames_by_window: Sequence[Matrix], clusters: Labels, separation: float) -> float | None:
    """separation / the mean gain of splitting each cluster once more; None if no cluster has 4 windows."""
    gains = []
    for k in (0, 1):
        members = [frames for frames, c in zip(frames_by_window, clusters.tolist(), strict=True) if c == k]
        if len(members) >= 4:
            sub = kmeans2(_standardise(np.array([_embedding(frames) for frames in members])))
            gains.append(split_gain(members, sub))
    if not gains:
        return None
    return separation / max(float(np.mean(gains)), 1e-3)


def _margin(separation: float, contrast: float | None) -> float:
    """Relative distance from the decision boundary: > 0 two speakers (by the weaker test), <= 0 one."""
    if contrast is None:
        return (separation - STRONG_SEPARATION) / STRONG_SEPARATION
    return min((separation - MIN_SEPARATION) / MIN_SEPARATION, (contrast - MIN_CONTRAST) / MIN_CONTRAST)


def _confidence(margin: float) -> float:
    return round(min(1.0, 2 * abs(margin)), 2)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _resegment(features: Matrix, usable: npt.NDArray[np.bool_], labels: Labels, spans: list[Span]) -> Labels:
    """Frame labels from per-speaker Gaussians (RESEGMENT_PASSES rounds), -1 outside the spans."""
    for _ in range(RESEGMENT_PASSES):
        fitted = [features[usable & (labels == k)] for k in (0, 1)]
        if min(len(frames) for frames in fitted) < 2 * N_CEPS:
            break
        ratio = np.where(usable, _log_likelihood(features, fitted[0]) - _log_likelihood(features, fitted[1]), 0.0)
        labels = np.full(features.shape[0], -1, dtype=np.int64)
        half = SMOOTH_MS // FRAME_MS // 2
        for span in spans:
            frames = _frames_of(span)
            # Mean ratio over the usable frames within ±half of each frame, never reaching past the span.
            sums = np.concatenate([[0.0], np.cumsum(ratio[frames])])
            counts = np.concatenate([[0], np.cumsum(usable[frames])])
            index = np.arange(sums.size - 1)
            lo, hi = np.maximum(index - half, 0), np.minimum(index + half + 1, sums.size - 1)
            mean = (sums[hi] - sums[lo]) / np.maximum(counts[hi] - counts[lo], 1)
            labels[frames] = np.where(mean < 0, 1, 0)
    return labels


def _regions(labels: Labels, spans: list[Span]) -> list[tuple[Span, int]]:
    """Each span cut into runs of one label; runs shorter than MIN_RUN_MS join a neighbouring run."""
    regions: list[tuple[Span, int]] = []
    min_run = MIN_RUN_MS // FRAME_MS
    for span in spans:
        runs = _label_runs(labels[_frames_of(span)])
        while len(runs) > 1 and min(length for _, length in runs) < min_run:
            shortest = min(range(len(runs)), key=lambda i: runs[i][1])
            runs[shortest] = (1 - runs[shortest][0], runs[shortest][1])  # two labels: the neighbours' label
            runs = _label_runs(np.repeat([label for label, _ in runs], [length for _, length in runs]))
        begin = span.begin_ms
        for number, (label, length) in enumerate(runs):
            end = span.end_ms if number == len(runs) - 1 else begin + length * FRAME_MS
            regions.append((Span(begin_ms=begin, end_ms=end), label))
            begin = end
    return regions


def _label_runs(labels: Labels) -> list[tuple[int, int]]:
    """(label, length) of each run of equal labels."""
    if labels.size == 0:
        return []
    change = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0], change])
    lengths = np.diff(np.concatenate([starts, [labels.size]]))
    return [(int(labels[s]), int(n)) for s, n in zip(starts, lengths, strict=True)]


def _log_likelihood(features: Matrix, fitted: Matrix) -> Matrix:
    """Per-frame log-density (up to a shared constant) under a full-covariance Gaussian fitted to `fitted`."""
    mean = fitted.mean(axis=0)
    cholesky = np.linalg.cholesky(np.cov(fitted.T) + 1e-3 * np.eye(N_CEPS))
    z = np.linalg.solve(cholesky, (features - mean).T)
    result: Matrix = -0.5 * np.sum(z * z, axis=0) - np.sum(np.log(np.diag(cholesky)))
    return result


def _log_det(frames: Matrix) -> float:
    return float(np.linalg.slogdet(np.cov(frames.T) + 1e-3 * np.eye(N_CEPS))[1])


def _empty() -> Matrix:
    return np.zeros((0, N_CEPS))


def _embedding(frames: Matrix) -> Matrix:
    result: Matrix = np.concatenate([frames.mean(axis=0), frames.std(axis=0)])
    return result


def _clip_spans(speech: Sequence[Span], frame_count: int) -> list[Span]:
    """The spans sorted, overlapping ones merged, clipped to the analysed audio; those under a frame dropped."""
    total_ms = frame_count * FRAME_MS
    merged: list[Span] = []
    for span in sorted(speech, key=lambda s: s.begin_ms):
        begin, end = max(0, span.begin_ms), min(span.end_ms, total_ms)
        if merged and begin < merged[-1].end_ms:
            merged[-1] = Span(begin_ms=merged[-1].begin_ms, end_ms=max(end, merged[-1].end_ms))
        elif end - begin >= FRAME_MS:
            merged.append(Span(begin_ms=begin, end_ms=end))
    return merged


def _frames_of(span: Span) -> slice:
    return slice(span.begin_ms // FRAME_MS, span.end_ms // FRAME_MS)


def _frame_mask(spans: list[Span], frame_count: int) -> npt.NDArray[np.bool_]:
    mask = np.zeros(frame_count, dtype=np.bool_)
    for span in spans:
        mask[_frames_of(span)] = True
    return mask


def _windows(spans: list[Span]) -> list[Span]:
    """Each span cut into near-equal windows of about WINDOW_MS."""
    windows: list[Span] = []
    for span in spans:
        pieces = max(1, round(span.duration_ms / WINDOW_MS))
        edges = np.linspace(span.begin_ms, span.end_ms, pieces + 1).round().astype(np.int64).tolist()
        windows += [Span(begin_ms=a, end_ms=b) for a, b in pairwise(edges)]
    return windows


def _frames(samples: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.floating[Any]]:
    """A (frames, FRAME) view of the signal, one row every HOP samples; no copy."""
    if samples.size < FRAME:
        return np.zeros((0, FRAME), dtype=samples.dtype)
    return sliding_window_view(samples, FRAME)[::HOP]


def _voiced_frames(samples: Samples) -> npt.NDArray[np.bool_]:
    frames = _frames(samples)
    power = [
        np.mean(np.square(frames[i : i + BLOCK_FRAMES], dtype=np.float64), axis=1)
        for i in range(0, len(frames), BLOCK_FRAMES)
    ]
    level = 10 * np.log10(np.maximum(np.concatenate(power or [np.zeros(0)]), 1e-12))
    return np.asarray(level > SILENT_DBFS, dtype=np.bool_)


def _standardise(points: Matrix) -> Matrix:
    spread = points.std(axis=0)
    standard: Matrix = (points - points.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    return standard


def _distance(span: Span, at: float) -> float:
    return 0.0 if span.begin_ms <= at <= span.end_ms else min(abs(span.begin_ms - at), abs(span.end_ms - at))


def _hz_to_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return 2595.0 * np.log10(1.0 + hz / 700.0)


@cache
def _mel_filters() -> Matrix:
    """Triangular filters evenly spaced on the mel scale across BAND_HZ, shape (N_MELS, N_FFT // 2 + 1)."""
    low, high = _hz_to_mel(np.array(BAND_HZ))
    mel_points = np.linspace(low, high, N_MELS + 2)
    hz_points = 700.0 * (10 ** (mel_points / 2595.0) - 1.0)
    bins = np.fft.rfftfreq(N_FFT, 1 / SAMPLE_RATE)
    filters = np.zeros((N_MELS, bins.size))
    for m in range(N_MELS):
        left, centre, right = hz_points[m : m + 3]
        rising = (bins - left) / (centre - left)
        falling = (right - bins) / (right - centre)
        filters[m] = np.maximum(0.0, np.minimum(rising, falling))
    return filters


@cache
def _dct_matrix() -> Matrix:
    """Orthonormal DCT-II rows 1..N_CEPS over N_MELS inputs."""
    n = np.arange(N_MELS)
    k = np.arange(1, N_CEPS + 1)[:, None]
    matrix: Matrix = np.sqrt(2.0 / N_MELS) * np.cos(np.pi * k * (2 * n + 1) / (2 * N_MELS))
    return matrix
