"""Speech recognition of one channel with faster-whisper, loaded once per process.

Words carry absolute times (the chunk's offset added) because stereo calls are merged across channels by
word timestamps. Silero VAD skips silence, which is most of each channel in a two-party call.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import zhconv
from faster_whisper import BatchedInferencePipeline, WhisperModel

from callqa.transcripts import ModelInfo, Word
from transcriber import hotwords
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
# Fixed decoding options; they enter the model version so a change re-keys every transcript.
DECODING: dict[str, Any] = {
    "word_timestamps": True,
    "vad_filter": True,
    # Stability over fluency: a window conditioned on a bad previous window repeats its mistakes.
    "condition_on_previous_text": False,
    "no_repeat_ngram_size": 4,
}


@dataclass(frozen=True)
class Segment:
    begin_ms: int
    end_ms: int
    text: str


@dataclass(frozen=True)
class Transcription:
    language: str
    words: list[Word] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)

    @property
    def text(self) -> str:
        joiner = "" if self.language == "zh" else " "
        return joiner.join(s.text for s in self.segments)


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
        self._batched = BatchedInferencePipeline(model=self._model) if settings.batch_size > 0 else None
        self.hotwords = self._hotwords(settings)
        pipeline: dict[str, Any] = {**DECODING, "zh_prompt": ZH_PROMPT, "max_compression": MAX_COMPRESSION_RATIO}
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
        if samples.size == 0:
            return Transcription(language=language or UNDETERMINED)
        options: dict[str, Any] = {**DECODING, "language": language, "beam_size": self.settings.beam_size}
        if language == "zh":
            options["initial_prompt"] = ZH_PROMPT
        if phrases := self.hotwords_for(language):
            options["hotwords"] = phrases
        audio = samples.astype(np.float32, copy=False)
        if self._batched is not None:
            segments, info = self._batched.transcribe(audio, batch_size=self.settings.batch_size, **options)
        else:
            segments, info = self._model.transcribe(audio, **options)

        simplify = info.language == "zh"
        words: list[Word] = []
        result: list[Segment] = []
        for segment in segments:  # a generator: decoding happens while iterating
            if segment.compression_ratio > MAX_COMPRESSION_RATIO:
                continue  # a repetition loop, not speech
            text = segment.text.strip()
            result.append(Segment(_ms(segment.start, offset_ms), _ms(segment.end, offset_ms), _zh(text, simplify)))
            for word in segment.words or []:
                w = word.word.strip()
                if not w or "\ufffd" in w or LOOPED_WORD.search(w):
                    continue  # empty, a character whose bytes were split across tokens, or a loop
                begin = _ms(word.start, offset_ms)
                words.append(
                    Word(
                        text=_zh(w, simplify),
                        begin_ms=begin,
                        end_ms=max(begin, _ms(word.end, offset_ms)),
                        p=min(1.0, max(0.0, float(word.probability))),
                    )
                )
        return Transcription(language=info.language, words=words, segments=result)


def _ms(seconds: float, offset_ms: int) -> int:
    return offset_ms + round(seconds * 1000)


def _zh(text: str, simplify: bool) -> str:
    # The prompt makes simplified output likely, not certain: convert every word anyway.
    return str(zhconv.convert(text, "zh-cn")) if simplify else text
