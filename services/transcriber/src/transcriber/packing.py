"""Lay the speech of a call's channels end to end, so whisper decodes speech only, and each window once.

A short call transcribed channel by channel costs two whisper windows although its speech, both parties
together, fits in one. Packing takes the voiced spans of every channel in time order (a dialogue reads naturally
to the decoder), each with `PAD_S` of its own channel either side, cuts the rest out and fills windows of at
most the recogniser's window length (`WINDOW_S`, whisper's input, at most), the speech shared evenly among the
windows it needs. Outside its party's speech a stereo channel is near silent, so the padding also separates
one speaker from the next. Each recognised word is mapped back to the channel and time it came from by the span
it falls in; a span that got (almost) no words was passed over by the decoder (`Packing.skipped`).

Measured on 10 of benchmarks/transcribe.py's Kokoro calls: 0.3 s of digital silence between spans as well cost
6 % more windows and did not lower the error rates (CER 18.8 % vs 18.2 %, WER 7.0 % vs 6.5 %); spans cut at the
VAD's edges (no padding) lost words at their onsets (对 → 所以).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from callqa.transcripts import Span, Word

SAMPLE_RATE = 16_000
WINDOW_S = 30.0  # whisper's input length
PAD_S = 0.2  # each span keeps this much of its channel either side: whisper mishears a word cut at its onset
MIN_SKIPPED_S = 1.0  # a piece with this much speech (padding aside) ...
MIN_WORDS_PER_S = 0.5  # ... and fewer words than this was passed over (speech runs at 2-5 words/s, zh 4-6 chars/s)
SPLIT_SEARCH_S = 5.0  # a span longer than a window is cut at the quietest 20 ms of its last seconds
_FRAME = SAMPLE_RATE // 50


@dataclass(frozen=True)
class Piece:
    """A voiced span of one channel and where it sits in the packed signal (sample indices)."""

    channel: int
    source_begin: int
    packed_begin: int
    length: int

    @property
    def packed_end(self) -> int:
        return self.packed_begin + self.length


@dataclass(frozen=True)
class Packing:
    audio: npt.NDArray[np.float32]  # 1-D, 16 kHz: the pieces end to end
    pieces: list[Piece]  # in packed order
    windows: list[tuple[int, int]]  # [begin, end) sample ranges of the packed signal, each at most WINDOW_S

    @property
    def seconds(self) -> float:
        return self.audio.size / SAMPLE_RATE

    def unpack(self, words: Sequence[Word], channels: int, offset_ms: int = 0) -> list[list[Word]]:
        """Words with packed times -> per channel, words with the channel's times (ms from its start, plus
        `offset_ms`: where the packed chunk begins in the call)."""
        result: list[list[Word]] = [[] for _ in range(channels)]
        if not self.pieces:
            return result
        for word in words:
            piece = self.pieces[self._piece_of(word)]
            shift = piece.source_begin - piece.packed_begin

            def source_ms(ms: int, piece: Piece = piece, shift: int = shift) -> int:
                sample = min(max(ms * SAMPLE_RATE // 1000, piece.packed_begin), piece.packed_end)
                return (sample + shift) * 1000 // SAMPLE_RATE + offset_ms

            begin = source_ms(word.begin_ms)
            result[piece.channel].append(
                word.model_copy(update={"begin_ms": begin, "end_ms": max(begin, source_ms(word.end_ms))})
            )
        for channel_words in result:
            channel_words.sort(key=lambda w: (w.begin_ms, w.end_ms))
        return result

    def skipped(self, words: Sequence[Word]) -> list[int]:
        """Indices of the pieces with at least `MIN_SKIPPED_S` of speech but fewer than `MIN_WORDS_PER_S` words
        (packed times): speech the decoder passed over."""
        found = self._by_piece(words)
        voiced = [(piece.length - 2 * round(PAD_S * SAMPLE_RATE)) / SAMPLE_RATE for piece in self.pieces]
        return [
            index
            for index, seconds in enumerate(voiced)
            if seconds >= MIN_SKIPPED_S and len(found[index]) < MIN_WORDS_PER_S * seconds
        ]

    def span_of(self, index: int) -> Span:
        """Where a piece lies in the packed signal, in ms."""
        piece = self.pieces[index]
        return Span(begin_ms=piece.packed_begin * 1000 // SAMPLE_RATE, end_ms=piece.packed_end * 1000 // SAMPLE_RATE)

    def with_retried(self, words: Sequence[Word], retried: Sequence[Word], indices: Sequence[int]) -> list[Word]:
        """`words`, except in the pieces at `indices` where `retried` (a second decoding) has more of them."""
        first, second = self._by_piece(words), self._by_piece(retried)
        better = {index for index in indices if len(second[index]) > len(first[index])}
        kept = [word for index, found in first.items() if index not in better for word in found]
        taken = [word for index in better for word in second[index]]
        return sorted(kept + taken, key=lambda w: (w.begin_ms, w.end_ms))

    def _by_piece(self, words: Sequence[Word]) -> defaultdict[int, list[Word]]:
        grouped: defaultdict[int, list[Word]] = defaultdict(list)
        for word in words:
            grouped[self._piece_of(word)].append(word)
        return grouped

    def _piece_of(self, word: Word) -> int:
        """The piece a word (packed times) falls in, by its middle."""
        middle = (word.begin_ms + word.end_ms) * SAMPLE_RATE // 2000
        return max(0, bisect.bisect_right(self._begins, middle) - 1)

    @cached_property
    def _begins(self) -> list[int]:
        return [piece.packed_begin for piece in self.pieces]


def pack(
    channels: Sequence[npt.NDArray[np.float32]], spans: Sequence[Sequence[Span]], window_s: float = WINDOW_S
) -> Packing:
    """Pack the voiced `spans` (ms from each channel's start) of `channels` (1-D, 16 kHz) into windows of at most
    `window_s`."""
    window = round(window_s * SAMPLE_RATE)
    parts = sorted(
        (begin, channel, end)
        for channel, (samples, channel_spans) in enumerate(zip(channels, spans, strict=True))
        for padded_begin, padded_end in _padded(channel_spans, samples.size)
        for begin, end in _split(samples, padded_begin, padded_end, window)
    )
    limit = _balanced_limit([end - begin for begin, _, end in parts], window)
    chunks: list[npt.NDArray[np.float32]] = []
    pieces: list[Piece] = []
    windows: list[tuple[int, int]] = []
    cursor = 0
    for begin, channel, end in parts:
        length = end - begin
        if not windows or cursor + length - windows[-1][0] > limit:
            windows.append((cursor, cursor))  # a new window starts with this piece
        chunks.append(channels[channel][begin:end])
        pieces.append(Piece(channel, begin, cursor, length))
        cursor += length
        windows[-1] = (windows[-1][0], cursor)
    audio = np.concatenate(chunks).astype(np.float32, copy=False) if chunks else np.zeros(0, dtype=np.float32)
    return Packing(audio, pieces, windows)


def _window_count(lengths: Sequence[int], limit: int) -> int:
    """Windows needed when pieces of these lengths fill windows of at most `limit` samples in order."""
    count, filled = 0, limit
    for length in lengths:
        if filled + length > limit:
            count, filled = count + 1, 0
        filled += length
    return count


def _balanced_limit(lengths: Sequence[int], window: int) -> int:
    """The shortest window that needs no more windows than `window` itself: the speech is shared evenly among
    them rather than leaving the last one nearly empty (two 22 s windows cost less than 30 s + 14 s, because
    the encoder's cost grows faster than its input: asr.py)."""
    needed = _window_count(lengths, window)
    low, high = max(lengths, default=window), window
    while low < high:
        middle = (low + high) // 2
        if _window_count(lengths, middle) <= needed:
            high = middle
        else:
            low = middle + 1
    return low


def _padded(spans: Sequence[Span], size: int) -> list[tuple[int, int]]:
    """The spans as sample ranges widened by PAD_S, those that then touch merged."""
    pad = round(PAD_S * SAMPLE_RATE)
    ranges: list[tuple[int, int]] = []
    for span in sorted(spans, key=lambda s: s.begin_ms):
        begin, end = max(0, _samples(span.begin_ms) - pad), min(size, _samples(span.end_ms) + pad)
        if ranges and begin <= ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], end))
        elif end > begin:
            ranges.append((begin, end))
    return ranges


def _split(samples: npt.NDArray[np.float32], begin: int, end: int, window: int) -> list[tuple[int, int]]:
    """[begin, end) in parts of at most `window` samples, each cut at a quiet moment where there is one."""
    parts: list[tuple[int, int]] = []
    search = round(SPLIT_SEARCH_S * SAMPLE_RATE)
    while end - begin > window:
        frames = samples[begin + window - search : begin + window]
        frames = frames[: frames.size - frames.size % _FRAME].reshape(-1, _FRAME)
        quietest = int(np.argmin(np.einsum("ij,ij->i", frames, frames)))
        cut = begin + window - search + (quietest + 1) * _FRAME
        parts.append((begin, cut))
        begin = cut
    if end > begin:
        parts.append((begin, end))
    return parts


def _samples(ms: int) -> int:
    return ms * SAMPLE_RATE // 1000
