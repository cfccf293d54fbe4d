"""What the recogniser does with whisper's output: speech the decoder passed over is read a second time (a fake
model stands in for whisper, so the skip happens on cue)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from callqa.transcripts import Span
from tests.transcriber.helpers import FakeBatched, FakeWhisper
from transcriber import asr
from transcriber.asr import Recogniser
from transcriber.config import AsrSettings
from transcriber.packing import SAMPLE_RATE


def segment(*words: tuple[str, float, float]) -> SimpleNamespace:
    found = [SimpleNamespace(word=f" {w}", start=b, end=e, probability=0.9) for w, b, e in words]
    return SimpleNamespace(compression_ratio=1.0, words=found, text=" ".join(w for w, _, _ in words))


class SkippingWhisper(FakeWhisper):
    """Reads only the first two seconds of the first decoding; the second decoding reads what it is given."""

    def transcribe(self, audio: Any, **options: Any) -> tuple[list[Any], SimpleNamespace]:
        super().transcribe(audio, **options)
        info = SimpleNamespace(language=options["language"])
        if len(self.calls) == 1:
            return [segment(("one", 0.3, 0.7), ("two", 0.8, 1.2), ("three", 1.3, 1.8))], info
        return [segment(("four", 0.4, 0.9), ("five", 1.0, 1.6), ("six", 1.8, 2.4), ("seven", 2.5, 3.0))], info


def fake_recogniser(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, model: type[FakeWhisper]) -> Recogniser:
    monkeypatch.setattr(asr, "WhisperModel", model)
    monkeypatch.setattr(asr, "_TrimmedPipeline", FakeBatched)
    monkeypatch.setattr(asr, "resolve_model", lambda model, models_dir: tmp_path)
    monkeypatch.setattr(asr, "model_version", lambda model_dir, **options: "fake")
    return Recogniser(AsrSettings())


@pytest.fixture
def skipping(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Recogniser:
    return fake_recogniser(monkeypatch, tmp_path, SkippingWhisper)


def test_speech_the_decoder_passed_over_is_read_again(skipping: Recogniser) -> None:
    """Two turns of one channel (2 s and 4 s, 3 s of silence between): the first decoding stops after the first
    turn; the second turn is decoded again on its own and its words come back at its own time."""
    samples = np.zeros(10 * SAMPLE_RATE, dtype=np.float32)
    turns = [Span(begin_ms=500, end_ms=2500), Span(begin_ms=5500, end_ms=9500)]
    packed = skipping.pack([samples], [turns])
    result = skipping.recognise(packed, language="en")
    calls: list[dict[str, Any]] = skipping._model.calls
    assert len(calls) == 2
    assert result.text == "one two three four five six seven"
    second_turn = packed.unpack([w for w in result.words if w.text in {"four", "five", "six", "seven"}], 1)[0]
    assert len(second_turn) == 4
    assert all(5200 <= w.begin_ms <= w.end_ms <= 9800 for w in second_turn)  # the turn and its padding


class NumberWhisper(FakeWhisper):
    """Says a Mandarin phone number as whisper writes it where words are tokens: "139" as "13" + "9"."""

    def transcribe(self, audio: Any, **options: Any) -> tuple[list[Any], SimpleNamespace]:
        super().transcribe(audio, **options)
        tokens = ["号码", "是", "13", "9", " 18", "76", " 2", "20", "5", "。", "第", "2", "次"]
        words = [
            SimpleNamespace(word=token, start=0.2 + 0.1 * i, end=0.3 + 0.1 * i, probability=0.9 - 0.01 * i)
            for i, token in enumerate(tokens)
        ]
        return [SimpleNamespace(compression_ratio=1.0, words=words, text="".join(tokens))], SimpleNamespace(
            language="zh"
        )


def test_a_number_split_into_tokens_is_one_word(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Digits that whisper wrote without a space between them stay one number ("139 1876 2205", not
    "13 9 18 76 2 20 5"), timed from its first token to its last; a digit after a character is a word of its own."""
    recogniser = fake_recogniser(monkeypatch, tmp_path, NumberWhisper)
    samples = np.zeros(2 * SAMPLE_RATE, dtype=np.float32)
    result = recogniser.recognise(recogniser.pack([samples], [[Span(begin_ms=0, end_ms=2000)]]), language="zh")
    assert [w.text for w in result.words] == ["号码", "是", "139", "1876", "2205", "。", "第", "2", "次"]
    number = result.words[2]
    assert (number.begin_ms, number.end_ms) == (400, 600)
    assert number.probability == pytest.approx(0.87)  # the least sure of its tokens


class TwoNumbersWhisper(FakeWhisper):
    """Two segments (two windows, maybe two parties), one ending and the next starting with digits."""

    def transcribe(self, audio: Any, **options: Any) -> tuple[list[Any], SimpleNamespace]:
        super().transcribe(audio, **options)
        found = []
        for first, tokens in ((0.2, ["尾号", "66"]), (1.2, ["12", "对"])):
            words = [
                SimpleNamespace(word=t, start=first + 0.2 * i, end=first + 0.2 * i + 0.1, probability=0.9)
                for i, t in enumerate(tokens)
            ]
            found.append(SimpleNamespace(compression_ratio=1.0, words=words, text="".join(tokens)))
        return found, SimpleNamespace(language="zh")


def test_a_number_never_continues_into_the_next_segment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    recogniser = fake_recogniser(monkeypatch, tmp_path, TwoNumbersWhisper)
    samples = np.zeros(2 * SAMPLE_RATE, dtype=np.float32)
    result = recogniser.recognise(recogniser.pack([samples], [[Span(begin_ms=0, end_ms=2000)]]), language="zh")
    assert [w.text for w in result.words] == ["尾号", "66", "12", "对"]
