"""Conversation characteristics of a call, in the spirit of Amazon Connect Contact Lens.

Acoustic measures (talk time, non-talk time, overlap) come from each role's VAD spans, not from the
recogniser's turns: Whisper's timestamps stretch over pauses and miss short sounds, while the VAD of a
stereo channel says to a few tens of milliseconds when that party was audible. Textual measures (speech
rate's units, response latency) come from the turns. Every measure is defined on its function below.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations, pairwise

import numpy as np
import numpy.typing as npt

from callqa.transcripts import (
    ConversationMetrics,
    Overlap,
    ResponseLatency,
    Role,
    RoleMetrics,
    Span,
    SpeechRateUnit,
    Turn,
)
from transcriber.turns import is_cjk

MIN_OVERLAP_MS = 200  # shorter simultaneous speech is crosstalk noise: a breath, a VAD edge, a click

_WORD = re.compile(r"\w", re.UNICODE)
_LATIN_RUN = re.compile(r"[^\W_]+", re.UNICODE)


def conversation_metrics(
    turns: Sequence[Turn],
    speech: Mapping[Role, Sequence[Span]],
    *,
    duration_ms: int,
    language: str,
    loudness: Mapping[Role, float | None],
    min_non_talk_ms: int = 3000,
    min_overlap_ms: int = MIN_OVERLAP_MS,
) -> ConversationMetrics:
    """All of a call's characteristics; each role in `speech` or in `turns` gets its RoleMetrics.

    talk_time_ms: a role's total VAD-voiced time (pauses shorter than the VAD's minimum silence included);
        talk_ratio = talk_time_ms / duration_ms.
    units / speech_rate: see `count_units`; speech_rate = units per minute of the role's voiced time.
    non_talk: see `non_talk_spans`; overlaps and interruptions: see `overlaps`;
    response latencies: see `response_latencies`.
    """
    voiced = {role: normalise(spans, duration_ms) for role, spans in speech.items()}
    roles: list[Role] = list(dict.fromkeys([*voiced, *(turn.role for turn in turns)]))
    unit: SpeechRateUnit = "chars_per_min" if _is_chinese(language) else "words_per_min"

    per_role: dict[str, RoleMetrics] = {}
    for role in roles:
        talk_ms = total_ms(voiced.get(role, []))
        role_turns = [turn for turn in turns if turn.role == role]
        units = sum(count_units(turn.text, language) for turn in role_turns)
        per_role[role] = RoleMetrics(
            talk_time_ms=talk_ms,
            talk_ratio=round(talk_ms / duration_ms, 4) if duration_ms > 0 else 0.0,
            turns=len(role_turns),
            units=units,
            speech_rate=round(units / (talk_ms / 60_000), 1) if talk_ms > 0 else None,
            speech_rate_unit=unit,
            loudness_dbfs=loudness.get(role),
        )

    silences = non_talk_spans(voiced.values(), min_non_talk_ms=min_non_talk_ms)
    found = overlaps(voiced, min_overlap_ms=min_overlap_ms)
    interruptions: dict[str, int] = dict.fromkeys(roles, 0)
    for overlap in found:
        interruptions[overlap.interrupter] = interruptions.get(overlap.interrupter, 0) + 1
    latencies = response_latencies(turns)
    values = [latency.latency_ms for latency in latencies]
    return ConversationMetrics(
        duration_ms=duration_ms,
        roles=per_role,
        non_talk_time_ms=total_ms(silences),
        non_talk=silences,
        overlaps=found,
        interruptions=interruptions,
        response_latencies=latencies,
        mean_response_latency_ms=round(sum(values) / len(values)) if values else None,
        max_response_latency_ms=max(values) if values else None,
    )


def non_talk_spans(spans_by_role: Iterable[Sequence[Span]], *, min_non_talk_ms: int = 3000) -> list[Span]:
    """Silences of at least `min_non_talk_ms` where no role is voiced (hold, dead air, searching).

    Only silences *between* speech count: the ring/connect time before the first word and the time after
    the last word before the recorder stops say nothing about the conversation. A call without any
    speech therefore has no non-talk instances (its talk times are all zero).
    """
    anyone = normalise([span for spans in spans_by_role for span in spans])
    return [
        Span(begin_ms=before.end_ms, end_ms=after.begin_ms)
        for before, after in pairwise(anyone)
        if after.begin_ms - before.end_ms >= min_non_talk_ms
    ]


def overlaps(spans_by_role: Mapping[Role, Sequence[Span]], *, min_overlap_ms: int = MIN_OVERLAP_MS) -> list[Overlap]:
    """Intervals of at least `min_overlap_ms` where two roles are voiced at once, ordered by time.

    The interrupter is the role whose voiced span started later: it began talking while the other was
    already talking. When both spans start in the same VAD window, the one that ends first is taken as
    the interjection. A back-channel said over the other party counts, as in Contact Lens' interruptions.
    """
    voiced = {role: normalise(spans) for role, spans in spans_by_role.items()}
    found: list[Overlap] = []
    for first, second in combinations(voiced, 2):
        for a, b in _intersecting(voiced[first], voiced[second]):
            begin, end = max(a.begin_ms, b.begin_ms), min(a.end_ms, b.end_ms)
            if end - begin < min_overlap_ms:
                continue
            second_interrupts = (b.begin_ms, a.end_ms) > (a.begin_ms, b.end_ms)
            interrupter, interrupted = (second, first) if second_interrupts else (first, second)
            found.append(Overlap(begin_ms=begin, end_ms=end, interrupter=interrupter, interrupted=interrupted))
    return sorted(found, key=lambda overlap: overlap.begin_ms)


def response_latencies(turns: Sequence[Turn]) -> list[ResponseLatency]:
    """How long the agent took to answer, for each hand-over from the customer to the agent.

    Back-channels are left out first: a turn lying wholly inside another role's turn ("嗯" while the
    customer explains) neither needs nor gives an answer. Among the remaining turns in order of start, each
    customer turn directly followed by an agent turn yields latency = agent turn begin - customer turn end
    (negative when the agent started before the customer had finished). A customer turn followed by another
    customer turn (the customer went on after a pause) has no latency of its own; the later one is answered.
    """
    main = _without_back_channels(turns)
    return [
        ResponseLatency(customer_turn_id=asked.id, agent_turn_id=answer.id, latency_ms=answer.begin_ms - asked.end_ms)
        for asked, answer in pairwise(main)
        if asked.role == "customer" and answer.role == "agent"
    ]


def count_units(text: str, language: str) -> int:
    """Speech-rate units in `text`: characters for Chinese, words otherwise.

    Chinese ("zh", "zh-CN", ...) counts each CJK ideograph, and each run of Latin letters or digits as one
    (a model name such as "iPhone" or a redaction "[PHONE]" is one spoken item); punctuation never counts.
    Other languages count whitespace-separated tokens that contain a letter or digit.
    """
    if _is_chinese(language):
        ideographs = sum(1 for char in text if is_cjk(char) and char.isalnum())
        latin = len(_LATIN_RUN.findall("".join(" " if is_cjk(char) else char for char in text)))
        return ideographs + latin
    return sum(1 for token in text.split() if _WORD.search(token))


def loudness_dbfs(samples: npt.NDArray[np.float32], spans: Sequence[Span], sample_rate: int) -> float | None:
    """RMS level of the voiced samples in dBFS (a full-scale square wave reads 0); None without speech."""
    parts = [samples[max(0, span.begin_ms * sample_rate // 1000) : span.end_ms * sample_rate // 1000] for span in spans]
    voiced = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
    if voiced.size == 0:
        return None
    power = float(np.mean(np.square(voiced, dtype=np.float64)))
    return round(10 * math.log10(power), 1) if power > 0 else None


def normalise(spans: Iterable[Span], duration_ms: int | None = None) -> list[Span]:
    """Spans sorted, touching or overlapping ones merged, clipped to [0, duration_ms]; empty ones dropped."""
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: s.begin_ms):
        begin = max(0, span.begin_ms)
        end = span.end_ms if duration_ms is None else min(span.end_ms, duration_ms)
        if end <= begin:
            continue
        if merged and begin <= merged[-1].end_ms:
            if end > merged[-1].end_ms:
                merged[-1] = Span(begin_ms=merged[-1].begin_ms, end_ms=end)
        else:
            merged.append(Span(begin_ms=begin, end_ms=end))
    return merged


def total_ms(spans: Iterable[Span]) -> int:
    return sum(span.duration_ms for span in spans)


def _intersecting(first: list[Span], second: list[Span]) -> Iterable[tuple[Span, Span]]:
    """Pairs of intersecting spans from two sorted, disjoint lists (a linear merge)."""
    i = j = 0
    while i < len(first) and j < len(second):
        a, b = first[i], second[j]
        if a.begin_ms < b.end_ms and b.begin_ms < a.end_ms:
            yield a, b
        if a.end_ms <= b.end_ms:
            i += 1
        else:
            j += 1


def _without_back_channels(turns: Sequence[Turn]) -> list[Turn]:
    """The turns in order of start, less those lying wholly inside a turn of another role."""
    kept: list[Turn] = []
    reach: dict[Role, int] = {}  # the latest end of each role's turns so far
    for turn in sorted(turns, key=lambda t: (t.begin_ms, -t.end_ms)):  # the longer of equal starts first
        if not any(end >= turn.end_ms for role, end in reach.items() if role != turn.role):
            kept.append(turn)
        reach[turn.role] = max(reach.get(turn.role, turn.end_ms), turn.end_ms)
    return kept


def _is_chinese(language: str) -> bool:
    return language.lower().startswith(("zh", "cmn", "yue"))
