"""From an audio file to a transcript document: decode in chunks, voice activity per channel,
recognise both channels' speech packed together, merge by word timestamps, measure the conversation, redact PII.

Stereo calls (one party per channel) need no diarization: the channel is the speaker. Mono
calls are split into two speakers by clustering, and the agent is recognised by what they say.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from callqa.bus import Abandoned  # the shutting-down worker leaves the call to another replica
from callqa.events import ChannelLayout
from callqa.transcripts import ModelInfo, Role, Span, Speakers, TranscriptDocument, Word
from transcriber import audio, diarize, vad
from transcriber.asr import Recogniser
from transcriber.config import Settings
from transcriber.metrics import conversation_metrics, loudness_dbfs
from transcriber.redact import Redactor
from transcriber.turns import merge_words

log = logging.getLogger(__name__)
SAMPLE_RATE = 16_000


@dataclass
class CallInfo:
    recording_id: str
    channel_layout: ChannelLayout
    language: str | None
    queue: str | None = None


@dataclass
class _Accumulated:
    """What the chunks add up to, per role."""

    words: dict[Role, list[Word]] = field(default_factory=lambda: defaultdict(list))
    speech: dict[Role, list[Span]] = field(default_factory=lambda: defaultdict(list))
    power: dict[Role, tuple[float, float]] = field(default_factory=dict)  # (mean power × voiced s, voiced s)
    language: str | None = None

    def add_loudness(self, role: Role, samples: np.ndarray, spans: list[Span]) -> None:
        """`spans`: ms from the start of `samples` (the chunk)."""
        level = loudness_dbfs(samples, spans, SAMPLE_RATE)
        if level is None:
            return
        seconds = sum(s.duration_ms for s in spans) / 1000
        energy, total = self.power.get(role, (0.0, 0.0))
        self.power[role] = (energy + 10 ** (level / 10) * seconds, total + seconds)

    def loudness(self) -> dict[Role, float | None]:
        return {
            role: (10 * float(np.log10(energy / seconds)) if seconds and energy > 0 else None)
            for role, (energy, seconds) in self.power.items()
        }


def roles_of(layout: ChannelLayout) -> tuple[Role, Role]:
    return ("agent", "customer") if layout is not ChannelLayout.agent_right else ("customer", "agent")


class TranscriptionPipeline:
    """Built once per process: the model and the redactor are loaded here, not per call."""

    def __init__(self, settings: Settings, recogniser: Recogniser | None = None) -> None:
        self.settings = settings
        self.recogniser = recogniser or Recogniser(settings.asr)
        self.redactor = Redactor(settings.redaction_patterns)

    @property
    def model(self) -> ModelInfo:
        return self.recogniser.model_info

    def language_for(self, call: CallInfo) -> str | None:
        return call.language or self.settings.language_by_queue.get(call.queue or "") or self.settings.default_language

    def run(self, path: Path, call: CallInfo, cancelled: threading.Event | None = None) -> TranscriptDocument:
        """`cancelled` is checked between chunks and channels, so SIGTERM is honoured within seconds."""
        stereo = False
        acc = _Accumulated(language=self.language_for(call))
        speakers = Speakers(method="stereo_channels", agent_confidence=1.0, agent_identified_by="channel layout")
        samples = 0
        for offset_s, chunk in audio.iter_chunks(path, self.settings.asr.chunk_s):  # the file's one decoding
            _check(cancelled)
            offset_ms = int(offset_s * 1000)
            samples += chunk.shape[1]
            stereo = chunk.shape[0] >= 2 and call.channel_layout is not ChannelLayout.mono
            if stereo:
                self._stereo(acc, roles_of(call.channel_layout), chunk[:2], offset_ms)
            else:
                speakers = self._mono(acc, chunk.mean(axis=0), offset_ms)
        duration_ms = samples * 1000 // SAMPLE_RATE
        language = acc.language or "und"
        turns = merge_words(acc.words)
        redacted, redactions = self.redactor.redact_turns(turns, language)
        metrics = conversation_metrics(
            redacted,
            acc.speech,
            duration_ms=duration_ms,
            language=language,
            loudness=acc.loudness(),
            min_non_talk_ms=self.settings.min_non_talk_ms,
        )
        return TranscriptDocument(
            recording_id=call.recording_id,
            language=language,
            model=self.model,
            channel_layout=call.channel_layout if stereo else ChannelLayout.mono,
            duration_ms=duration_ms,
            speakers=speakers
            if acc.words
            else Speakers(method="none", agent_confidence=0, agent_identified_by="no speech"),
            turns=redacted,
            metrics=metrics,
            redactions=redactions,
        )

    def _stereo(self, acc: _Accumulated, roles: tuple[Role, Role], channels: np.ndarray, offset_ms: int) -> None:
        """Both parties' speech packed into shared windows: one decode per chunk, each word back on its channel."""
        spans = [vad.speech_spans(samples) for samples in channels]
        for role, samples, voiced in zip(roles, channels, spans, strict=True):
            acc.speech[role].extend(_shifted(voiced, offset_ms))
            acc.add_loudness(role, samples, voiced)
        packed = self.recogniser.pack(list(channels), spans)
        if not packed.windows:
            return  # dead channels or a silent stretch: nothing to recognise
        result = self.recogniser.recognise(packed, language=acc.language)
        acc.language = acc.language or result.language  # detect once, then hold it for the later chunks
        for role, words in zip(roles, packed.unpack(result.words, len(roles), offset_ms), strict=True):
            acc.words[role].extend(words)

    def _mono(self, acc: _Accumulated, samples: np.ndarray, offset_ms: int) -> Speakers:
        spans = vad.speech_spans(samples)
        if not spans:
            return Speakers(method="none", agent_confidence=0, agent_identified_by="no speech")
        packed = self.recogniser.pack([samples], [spans])
        result = self.recogniser.recognise(packed, language=acc.language)
        acc.language = acc.language or result.language
        found = diarize.diarize(samples, spans)
        regions = found.regions
        by_speaker = diarize.assign_words_to_speakers(packed.unpack(result.words, channels=1)[0], regions)
        texts = {speaker: [(w.begin_ms, w.text) for w in words] for speaker, words in by_speaker.items()}
        agent, confidence, how = diarize.identify_agent(texts, acc.language or "und")
        single = found.speakers < 2 or len(by_speaker) < 2
        for speaker, words in by_speaker.items():
            role: Role = "agent" if speaker == agent else "customer"
            if single:
                role = "unknown"
            acc.words[role].extend(_shifted_words(words, offset_ms))
            speaker_spans = [span for span, label in regions if label == speaker]
            acc.speech[role].extend(_shifted(speaker_spans, offset_ms))
            acc.add_loudness(role, samples, speaker_spans)
        if single:
            return Speakers(method="single_speaker", agent_confidence=0, agent_identified_by="one voice only")
        return Speakers(
            method="mono_clustering",
            agent_confidence=round(min(confidence, found.confidence), 3),
            agent_identified_by=how,
        )


def _check(cancelled: threading.Event | None) -> None:
    if cancelled is not None and cancelled.is_set():
        raise Abandoned


def _shifted(spans: list[Span], offset_ms: int) -> list[Span]:
    return [Span(begin_ms=s.begin_ms + offset_ms, end_ms=s.end_ms + offset_ms) for s in spans]


def _shifted_words(words: list[Word], offset_ms: int) -> list[Word]:
    return [w.model_copy(update={"begin_ms": w.begin_ms + offset_ms, "end_ms": w.end_ms + offset_ms}) for w in words]
