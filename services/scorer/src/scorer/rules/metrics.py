"""Conversation metrics by the names scorecards use, each with evidence a reviewer can follow."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from callqa.transcripts import Span, TranscriptDocument


class Note(NamedTuple):
    """A finding told in words (the fields of `callqa.events.Evidence`, without its validation cost)."""

    text: str
    turn_id: str | None = None
    begin_ms: int | None = None
    end_ms: int | None = None


@dataclass(slots=True)
class Measured:
    value: float | None  # None: the transcript does not have this metric (e.g. no speech rate without speech)
    evidence: list[Note] = field(default_factory=list)


def clock(ms: int) -> str:
    seconds = max(0, ms) // 1000
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


class Call:
    """A transcript as the metrics and rules read it, from one pass over its turns: their texts, ids, times
    and roles as plain lists, which turns each role has, which of them hold speech, and the speech window.
    (A transcript's turns are validated objects, slow to read attribute by attribute, again and again.)"""

    __slots__ = (
        "_spoken",
        "begins",
        "doc",
        "end_ms",
        "ends",
        "ids",
        "metrics",
        "role_of",
        "roles",
        "speech_end_ms",
        "speech_start_ms",
        "texts",
        "turns",
    )

    def __init__(self, doc: TranscriptDocument) -> None:
        self.doc = doc
        self.metrics = doc.metrics
        self.turns = doc.turns
        turns = self.turns
        self.texts: list[str]
        self.ids: list[str]
        self.begins: list[int]
        self.ends: list[int]
        self.role_of: list[str]
        self.texts = [turn.text for turn in turns]
        self.ids = [turn.id for turn in turns]
        self.begins = [turn.begin_ms for turn in turns]
        self.ends = [turn.end_ms for turn in turns]
        self.role_of = [turn.role for turn in turns]
        self.roles: dict[str, list[int]] = {"agent": [], "customer": []}  # turn indices by role
        for index, role in enumerate(self.role_of):
            self.roles.setdefault(role, []).append(index)
        self.end_ms = doc.duration_ms or max([0, *self.ends])
        texts = self.texts
        if all(texts) and not any(map(str.isspace, texts)):  # the usual case: every turn holds speech
            self._spoken: dict[str | None, list[int]] = {None: list(range(len(texts)))}
            self._spoken.update(self.roles)
            self.speech_start_ms = min(self.begins, default=0)
            self.speech_end_ms = max(self.ends, default=self.end_ms)
        else:
            talking = [index for index, text in enumerate(texts) if text and not text.isspace()]
            self._spoken = {None: talking}
            self.speech_start_ms = min([self.begins[index] for index in talking], default=0)
            self.speech_end_ms = max([self.ends[index] for index in talking], default=self.end_ms)

    def spoken(self, role: str | None = None) -> list[int]:
        """The turns that hold speech (of one role, or of anyone), as indices."""
        indices = self._spoken.get(role)
        if indices is None:
            role_of = self.role_of
            indices = self._spoken[role] = [i for i in self._spoken[None] if role_of[i] == role]
        return indices


def _turn_count(role: str | None) -> Callable[[Call], Measured]:
    def measure(call: Call) -> Measured:
        count = len(call.spoken(role))
        return Measured(count, [Note(f"{count} {role or 'speaker'} turns")])

    return measure


def _interruptions(role: str) -> Callable[[Call], Measured]:
    def measure(call: Call) -> Measured:
        overlaps = [o for o in call.metrics.overlaps if o.interrupter == role and o.interrupted != role]
        # Both fields describe the same fact; a producer that fills only one of them still counts.
        count = max(len(overlaps), call.metrics.interruptions.get(role, 0))
        evidence = [
            Note(
                turn_id=_turn_starting(call, role, o.begin_ms),
                begin_ms=o.begin_ms,
                end_ms=o.end_ms,
                text=f"{role} talked over the {o.interrupted} at {clock(o.begin_ms)} ({o.duration_ms / 1000:.1f} s)",
            )
            for o in overlaps
        ]
        if count > len(overlaps) or not evidence:
            evidence.append(Note(text=f"{role} interrupted {count} times"))
        return Measured(count, evidence)

    return measure


def _turn_starting(call: Call, role: str, at_ms: int) -> str | None:
    """The last of the role's turns under way at `at_ms`."""
    begins, ends = call.begins, call.ends
    for index in reversed(call.roles.get(role, ())):
        if begins[index] <= at_ms < max(ends[index], begins[index] + 1):
            return call.ids[index]
    return None


def non_talk_note(span: Span) -> Note:
    text = f"non-talk {span.duration_ms / 1000:.1f} s at {clock(span.begin_ms)}"
    return Note(begin_ms=span.begin_ms, end_ms=span.end_ms, text=text)


def _max_non_talk(call: Call) -> Measured:
    spans = call.metrics.non_talk
    if not spans:
        return Measured(0, [Note(text="no non-talk instance")])
    longest = max(spans, key=lambda s: s.duration_ms)
    return Measured(longest.duration_ms, [non_talk_note(longest)])


def _non_talk_count(call: Call) -> Measured:
    spans = call.metrics.non_talk
    return Measured(len(spans), [non_talk_note(s) for s in spans] or [Note(text="no non-talk instance")])


def _non_talk_ms(call: Call) -> Measured:
    total = call.metrics.non_talk_time_ms
    return Measured(total, [Note(text=f"non-talk {total / 1000:.1f} s in total")])


def _talk_ratio(role: str) -> Callable[[Call], Measured]:
    def measure(call: Call) -> Measured:
        metrics = call.metrics.roles.get(role)
        ratio = metrics.talk_ratio if metrics else 0.0
        return Measured(ratio, [Note(text=f"{role} talk ratio {ratio:.0%}")])

    return measure


def _speech_rate(role: str) -> Callable[[Call], Measured]:
    def measure(call: Call) -> Measured:
        metrics = call.metrics.roles.get(role)
        if metrics is None or metrics.speech_rate is None:
            return Measured(None, [Note(text=f"no {role} speech rate")])
        unit = "chars/min" if metrics.speech_rate_unit == "chars_per_min" else "words/min"
        text = f"{role} speech rate {metrics.speech_rate:.0f} {unit} over {metrics.talk_time_ms / 1000:.1f} s voiced"
        return Measured(metrics.speech_rate, [Note(text=text)])

    return measure


def _voiced(role: str) -> Callable[[Call], Measured]:
    def measure(call: Call) -> Measured:
        metrics = call.metrics.roles.get(role)
        voiced = metrics.talk_time_ms if metrics else 0
        return Measured(voiced, [Note(text=f"{role} voiced {voiced / 1000:.1f} s")])

    return measure


def _first_response(call: Call) -> Measured:
    """The agent's first turn after the customer's first turn, from the end of that customer turn."""
    customers = call.spoken("customer")
    if not customers:
        return Measured(None, [Note("the customer never speaks")])
    customer = customers[0]
    customer_id, customer_end = call.ids[customer], call.ends[customer]
    recorded = next((r for r in call.metrics.response_latencies if r.customer_turn_id == customer_id), None)
    if recorded is not None:
        agent_turn_id, latency = recorded.agent_turn_id, recorded.latency_ms
    else:
        begins = call.begins
        agent = next((i for i in call.spoken("agent") if begins[i] > begins[customer]), None)
        if agent is None:
            return Measured(None, [Note("the agent never answers the customer", turn_id=customer_id)])
        agent_turn_id, latency = call.ids[agent], begins[agent] - customer_end
    return Measured(
        latency,
        [
            Note(
                f"agent answered the customer's first turn after {latency / 1000:.1f} s",
                turn_id=agent_turn_id,
                begin_ms=customer_end,
                end_ms=customer_end + max(0, latency),
            )
        ],
    )


def _latencies(call: Call) -> list[int]:
    return [r.latency_ms for r in call.metrics.response_latencies]


def _mean_latency(call: Call) -> Measured:
    value = call.metrics.mean_response_latency_ms
    if value is None and (values := _latencies(call)):
        value = round(sum(values) / len(values))
    if value is None:
        return Measured(None, [Note(text="no response latencies")])
    return Measured(value, [Note(text=f"mean response latency {value / 1000:.1f} s")])


def _max_latency(call: Call) -> Measured:
    value = call.metrics.max_response_latency_ms
    if value is None and (values := _latencies(call)):
        value = max(values)
    if value is None:
        return Measured(None, [Note(text="no response latencies")])
    return Measured(value, [Note(text=f"longest response latency {value / 1000:.1f} s")])


def _duration(call: Call) -> Measured:
    value = call.doc.duration_ms or call.metrics.duration_ms
    return Measured(value, [Note(text=f"call {clock(value)} long")])


METRICS: dict[str, Callable[[Call], Measured]] = {
    "agent_interruptions": _interruptions("agent"),
    "customer_interruptions": _interruptions("customer"),
    "max_non_talk_ms": _max_non_talk,
    "non_talk_count": _non_talk_count,
    "non_talk_ms": _non_talk_ms,
    "talk_ratio_agent": _talk_ratio("agent"),
    "talk_ratio_customer": _talk_ratio("customer"),
    "speech_rate_agent": _speech_rate("agent"),
    "speech_rate_customer": _speech_rate("customer"),
    "agent_voiced_ms": _voiced("agent"),
    "customer_voiced_ms": _voiced("customer"),
    "first_response_latency_ms": _first_response,
    "mean_response_latency_ms": _mean_latency,
    "max_response_latency_ms": _max_latency,
    "duration_ms": _duration,
    "agent_turns": _turn_count("agent"),
    "customer_turns": _turn_count("customer"),
    "turns": _turn_count(None),
}


def measure(name: str, call: Call) -> Measured:
    return METRICS[name](call)
