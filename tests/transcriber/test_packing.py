"""Packing the channels' speech into whisper windows, and words back to their channel and time."""

from __future__ import annotations

import numpy as np
import pytest

from callqa.transcripts import Span, Word
from transcriber import packing
from transcriber.packing import SAMPLE_RATE, WINDOW_S, pack

RATE_MS = SAMPLE_RATE // 1000


def channel(seconds: float, spans: list[tuple[int, int]]) -> np.ndarray:
    """Noise inside the spans (ms), silence elsewhere."""
    samples = np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)
    rng = np.random.default_rng(0)
    for begin, end in spans:
        samples[begin * RATE_MS : end * RATE_MS] = rng.uniform(-0.5, 0.5, (end - begin) * RATE_MS)
    return samples


def spans(pairs: list[tuple[int, int]]) -> list[Span]:
    return [Span(begin_ms=b, end_ms=e) for b, e in pairs]


@pytest.fixture
def unpadded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The geometry tests count samples exactly: spans taken as they are."""
    monkeypatch.setattr(packing, "PAD_S", 0.0)


@pytest.mark.usefixtures("unpadded")
def test_two_channels_share_a_window_in_time_order() -> None:
    agent, customer = [(0, 2000), (5000, 7000)], [(2500, 4500)]
    packed = pack([channel(8, agent), channel(8, customer)], [spans(agent), spans(customer)])
    assert [(p.channel, p.source_begin // RATE_MS) for p in packed.pieces] == [(0, 0), (1, 2500), (0, 5000)]
    assert len(packed.windows) == 1
    assert packed.audio.size == 6000 * RATE_MS  # the silence between the turns is cut out
    second = packed.pieces[1]
    customer_speech = channel(8, customer)[2500 * RATE_MS : 4500 * RATE_MS]
    np.testing.assert_array_equal(packed.audio[second.packed_begin : second.packed_end], customer_speech)


@pytest.mark.usefixtures("unpadded")
def test_words_go_back_to_their_channel_and_time() -> None:
    agent, customer = [(0, 2000), (5000, 7000)], [(2500, 4500)]
    packed = pack([channel(8, agent), channel(8, customer)], [spans(agent), spans(customer)])

    def word(text: str, begin: int, end: int) -> Word:
        return Word(text=text, begin_ms=begin, end_ms=end, p=0.9)

    heard = [
        word("hello", 100, 600),  # agent, first span
        word("hi", 2200, 2500),  # customer: 2.5 s + 0.2 s in the source
        word("edge", 1900, 2080),  # mostly the agent's: its end is clamped to the agent's span
        word("bye", 5000, 5400),  # agent, second span: 6.0-6.4 s
    ]
    agent_words, customer_words = packed.unpack(heard, channels=2)
    assert [(w.text, w.begin_ms, w.end_ms) for w in agent_words] == [
        ("hello", 100, 600),
        ("edge", 1900, 2000),
        ("bye", 6000, 6400),
    ]
    assert [(w.text, w.begin_ms, w.end_ms) for w in customer_words] == [("hi", 2700, 3000)]


@pytest.mark.usefixtures("unpadded")
def test_windows_hold_at_most_whisper_s_input_and_long_speech_is_split() -> None:
    long_turn = [(0, 75_000)]  # 75 s without a pause longer than the VAD's
    other = [(76_000, 80_000)]
    packed = pack([channel(81, long_turn), channel(81, other)], [spans(long_turn), spans(other)])
    limit = WINDOW_S * SAMPLE_RATE
    assert all(0 < end - begin <= limit for begin, end in packed.windows)
    assert sum(p.length for p in packed.pieces) == 79_000 * RATE_MS  # nothing lost at the cuts
    assert [p.channel for p in packed.pieces] == [0, 0, 0, 1]


def test_no_speech_no_windows() -> None:
    packed = pack([np.zeros(16000, dtype=np.float32)] * 2, [[], []])
    assert packed.windows == [] and packed.audio.size == 0
    assert packed.unpack([], channels=2) == [[], []]


@pytest.mark.usefixtures("unpadded")
@pytest.mark.parametrize("count", [1, 3])
def test_a_window_is_filled_before_the_next_begins(count: int) -> None:
    turns = [(i * 12_000, i * 12_000 + 11_000) for i in range(count * 3)]  # 11 s each: 2 per 30 s window
    packed = pack([channel(count * 36 + 1, turns)], [spans(turns)])
    assert len(packed.windows) == (len(turns) + 1) // 2


def test_spans_keep_some_of_their_channel_either_side_and_padded_neighbours_merge() -> None:
    pad = round(packing.PAD_S * 1000)
    turns = [(1000, 2000), (2000 + pad, 3000), (6000, 6500)]  # the first two touch once padded
    packed = pack([channel(7, turns)], [spans(turns)])
    assert [(p.source_begin // RATE_MS, (p.source_begin + p.length) // RATE_MS) for p in packed.pieces] == [
        (1000 - pad, 3000 + pad),
        (6000 - pad, 6500 + pad),
    ]
    edge = pack([channel(1, [(0, 1000)])], [spans([(0, 1000)])])
    assert edge.pieces[0].source_begin == 0 and edge.pieces[0].length == 16000  # clamped to the channel


@pytest.mark.usefixtures("unpadded")
def test_the_speech_is_shared_evenly_among_the_windows_it_needs() -> None:
    """44 s of turns need two windows: about 22 s each, not 30 s and 14 s (the encoder's cost grows faster
    than its input, asr.py), and never more windows than filling them to 30 s would take."""
    turns = [(i * 4_500, i * 4_500 + 4_000) for i in range(11)]  # 11 turns of 4 s
    packed = pack([channel(50, turns)], [spans(turns)])
    lengths = [(end - begin) / SAMPLE_RATE for begin, end in packed.windows]
    assert lengths == [24.0, 20.0]
    assert packing._window_count([4 * SAMPLE_RATE] * 11, round(WINDOW_S * SAMPLE_RATE)) == 2


def word(text: str, begin: int, end: int) -> Word:
    return Word(text=text, begin_ms=begin, end_ms=end, p=0.9)


@pytest.mark.usefixtures("unpadded")
def test_speech_the_decoder_passed_over_is_found_and_its_second_reading_taken() -> None:
    turns = [(0, 3000), (4000, 7000), (8000, 8600)]
    packed = pack([channel(9, turns)], [spans(turns)])
    first = [word("one", 100, 400), word("two", 500, 900), word("three", 1000, 1400), word("stray", 3100, 3300)]
    # 3 s with one word: passed over; 0.6 s without any is too short to tell from a cough
    assert packed.skipped(first) == [1]
    second = [word("four", 3200, 3500), word("five", 3600, 3900), word("six", 4000, 4400), word("x", 200, 300)]
    merged = packed.with_retried(first, second, [1])
    assert [w.text for w in merged] == ["one", "two", "three", "four", "five", "six"]  # only piece 1 replaced
    assert packed.with_retried(first, [word("y", 3200, 3500)], [1]) == first  # not more words: the first kept
    assert packed.span_of(1) == Span(begin_ms=3000, end_ms=6000)
