"""Speech recognition with faster-whisper, loaded once per process.

Whisper decodes packed speech (packing.py): the voiced spans of a call's channels, end to end in 30 s windows,
so silence is never decoded and two channels share windows. Words come back with the packed signal's times;
`Packing.unpack` gives each to its channel at its own time, because stereo calls are merged by word timestamps.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import zhconv
from faster_whisper import BatchedInferencePipeline, WhisperModel

from callqa.transcripts import ModelInfo, Span, Word
from transcriber import hotwords, packing, vad
from transcriber.config import AsrSettings
from transcriber.weights import model_id, model_version, resolve_model

SAMPLE_RATE = 16000
UNDETERMINED = "und"  # ISO 639-2 code for "no speech to tell"
# Whisper writes Mandarin in traditional characters unless the prompt shows simplified ones. Keep
# it short and content-free: a prompt with service phrases leaks into the output or loops on them.
ZH_PROMPT = "以下是普通话的句子。"
# Whisper's own hallucination signal: text that compresses this well is a repetition loop
# ("您好，这里是…您好，这里是…", "0000…"). Batched decoding has no temperature fallback to recover.
MAX_COMPRESSION_RATIO = 2.4
# Inside an otherwise good segment a loop shows up as one character over and over ("0000000000").
LOOPED_WORD = re.compile(r"(.)\1{9,}")
FRAMES_PER_S = 100  # whisper's mel frames
ENCODER_MARGIN_S = 1.0  # features encoded past a batch's longest window (0 read a few words worse, 4 cost 10 %)
# Fixed decoding options; they enter the model version so a change re-keys every transcript.
DECODING: dict[str, Any] = {
    "word_timestamps": True,
    "vad_filter": False,  # the windows hold speech only (packing.py): Silero has run once, in vad.py
    # Stability over fluency: a window conditioned on a bad previous window repeats its mistakes.
    "condition_on_previous_text": False,
    # A loop repeats long stretches; a dialogue repeats short ones ("两年的每台…三年的每台", "考虑考虑", a number read
    # back). Blocking repeated 4-grams garbled those: 8 read the benchmark calls better (CER zh 14.2 % vs 14.5 %,
    # WER en 6.0 % vs 6.3 %) and cost 8 % less CPU; 0 read them the same, but nothing would stop a loop.
    "no_repeat_ngram_size": 8,
}


@dataclass(frozen=True)
class Transcription:
    language: str
    words: list[Word] = field(default_factory=list)

    @property
    def text(self) -> str:
        joiner = "" if self.language == "zh" else " "
        return joiner.join(word.text for word in self.words)


class _TrimmedPipeline(BatchedInferencePipeline):  # type: ignore[misc]  # faster-whisper ships no types
    """Encodes each batch only as far as its longest window reaches, not whisper's full 30 s.

    faster-whisper pads every window's features to 30 s, and the encoder's cost grows faster than its input
    (self-attention): measured on one core (base, int8), 20 s cost 0.27 s, 15 s 0.15 s, 30 s 0.62-0.76 s.
    Packed windows hold speech only and the packer shares a call's speech evenly among its windows, so no
    window pays for padding. Whisper reads a window encoded this way as well as a padded one (same error
    rates on the benchmark calls with and without the padding: docs/benchmarks.md, "transcribe").
    """

    def forward(self, features: Any, tokenizer: Any, chunks_metadata: list[dict[str, Any]], options: Any) -> Any:
        longest = max(chunk["duration"] for chunk in chunks_metadata)
        frames = min(features.shape[-1], math.ceil(longest + ENCODER_MARGIN_S) * FRAMES_PER_S)
        return super().forward(features[..., :frames], tokenizer, chunks_metadata, options)


class Recogniser:
    """A faster-whisper model with the project's decoding options; build one per worker process."""

    def __init__(self, settings: AsrSettings) -> None:
        self.settings = settings
        self.model_dir = resolve_model(settings.model, settings.models_dir)
        self._model = WhisperModel(
            str(self.model_dir),
            device=settings.device,
            compute_type=settings.compute_type,
            cpu_threads=settings.cpu_threads,
        )
        self._batched = _TrimmedPipeline(model=self._model) if settings.batch_size > 0 else None
        self.hotwords = self._hotwords(settings)
        pipeline: dict[str, Any] = {
            **DECODING,
            "zh_prompt": ZH_PROMPT,
            "max_compression": MAX_COMPRESSION_RATIO,
            "packing": {"window_s": settings.window_s, "pad_s": packing.PAD_S, "balanced": True},
            "encoder_margin_s": ENCODER_MARGIN_S,
            "retry_skipped": {"min_s": packing.MIN_SKIPPED_S, "words_per_s": packing.MIN_WORDS_PER_S},
        }
        if self.hotwords:  # only then: the model version of a set-up without hotwords stays what it was
            pipeline["hotwords"] = self.hotwords
        self.model_info = ModelInfo(
            id=model_id(settings.model),
            version=model_version(
                self.model_dir,
                beam_size=settings.beam_size,
                batch_size=settings.batch_size,
                compute_type=settings.compute_type,
                pipeline=json.dumps(pipeline, sort_keys=True),
            ),
        )

    def _hotwords(self, settings: AsrSettings) -> dict[str, str]:
        """language -> the hotwords text passed to faster-whisper for calls in that language."""
        phrases = hotwords.by_language(settings.hotwords, settings.hotwords_scorecards, settings.hotwords_kinds)

        def tokens(text: str) -> int:
            return len(self._model.hf_tokenizer.encode(" " + text, add_special_tokens=False).ids)

        fitted = {
            language: hotwords.fit(p, language, tokens, settings.hotwords_max_tokens) for language, p in phrases.items()
        }
        return {language: text for language, (text, _count) in fitted.items() if text}

    def hotwords_for(self, language: str | None) -> str | None:
        """Hotwords apply only when the call's language is known: a detected language comes too late."""
        return self.hotwords.get(hotwords.base_language(language)) if language else None

    @property
    def multilingual(self) -> bool:
        return bool(self._model.model.is_multilingual)

    def transcribe(
        self, samples: npt.NDArray[np.float32], *, language: str | None, offset_ms: int = 0
    ) -> Transcription:
        """Transcribe one channel (1-D float32 at 16 kHz); ``language=None`` detects it (slower, less reliable)."""
        if samples.ndim != 1:
            raise ValueError(f"expected one channel (1-D samples), got shape {samples.shape}")
        packed = self.pack([samples], [vad.speech_spans(samples)])
        result = self.recognise(packed, language=language)
        words = packed.unpack(result.words, channels=1, offset_ms=offset_ms)[0]
        return Transcription(language=result.language, words=words)

    def pack(self, channels: Sequence[npt.NDArray[np.float32]], spans: Sequence[Sequence[Span]]) -> packing.Packing:
        """The channels' voiced spans laid end to end in this recogniser's windows."""
        return packing.pack(channels, spans, self.settings.window_s)

    def recognise(self, packed: packing.Packing, *, language: str | None) -> Transcription:
        """Decode the packed speech, window by window (batched when batch_size > 0); word times are the
        packed signal's (`Packing.unpack` maps them back to channels).

        Whisper's decoder sometimes ends a window early or jumps ahead, and the speech it passed over gets no
        words. Those pieces are decoded once more on their own, and their words taken where they are more."""
        if not packed.windows:
            return Transcription(language=language or UNDETERMINED)
        first = self._decode(packed, language)
        skipped = packed.skipped(first.words)
        if not skipped:
            return first
        retry = self.pack([packed.audio], [[packed.span_of(index) for index in skipped]])
        second = self._decode(retry, first.language)
        again = retry.unpack(second.words, channels=1)[0]  # times of `packed` again
        return Transcription(first.language, packed.with_retried(first.words, again, skipped))

    def _decode(self, packed: packing.Packing, language: str | None) -> Transcription:
        options: dict[str, Any] = {**DECODING, "language": language, "beam_size": self.settings.beam_size}
        if language == "zh":
            options["initial_prompt"] = ZH_PROMPT
        if phrases := self.hotwords_for(language):
            options["hotwords"] = phrases
        if self._batched is not None:
            clips = [{"start": b / SAMPLE_RATE, "end": e / SAMPLE_RATE} for b, e in packed.windows]
            segments, info = self._batched.transcribe(
                packed.audio, batch_size=self.settings.batch_size, clip_timestamps=clips, **options
            )
        else:
            bounds = [t / SAMPLE_RATE for window in packed.windows for t in window]
            segments, info = self._model.transcribe(packed.audio, clip_timestamps=bounds, **options)

        simplify = info.language == "zh"
        words: list[Word] = []
        for segment in segments:  # a generator: decoding happens while iterating
            if segment.compression_ratio > MAX_COMPRESSION_RATIO:
                continue  # a repetition loop, not speech
            follows = False  # a word of this segment came before: a number never continues across segments
            for word in segment.words or []:
                w = word.word.strip()
                if not w or "\ufffd" in w or LOOPED_WORD.search(w):
                    continue  # empty, a character whose bytes were split across tokens, or a loop
                begin = _ms(word.start)
                recognised = Word(
                    text=_zh(w, simplify),
                    begin_ms=begin,
                    end_ms=max(begin, _ms(word.end)),
                    p=min(1.0, max(0.0, float(word.probability))),
                )
                if follows and _continues_number(words[-1].text, word.word):
                    recognised = _joined(words.pop(), recognised)
                words.append(recognised)
                follows = True
        return Transcription(language=info.language, words=words)


def _continues_number(previous: str, token: str) -> bool:
    """Whisper splits a number into tokens ("139" as "13", "9"), and where words are tokens (Chinese) each
    becomes a word: a token that follows digits with no space of its own, starting with a digit, is more of
    the same number."""
    return previous[-1:].isdigit() and token[:1].isdigit()


def _joined(first: Word, second: Word) -> Word:
    return Word(
        text=first.text + second.text,
        begin_ms=first.begin_ms,
        end_ms=max(first.end_ms, second.end_ms),
        p=min(first.probability, second.probability),
    )


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _zh(text: str, simplify: bool) -> str:
    # The prompt makes simplified output likely, not certain: convert every word anyway.
    return str(zhconv.convert(text, "zh-cn")) if simplify else text
