"""The scorer's labelled sets: hand-written contact-centre dialogues with the expected result of every item.

Used by the scorer's tests and by the benchmarks (accuracy, score, compare_evaluations, ...). Each YAML file
under `tests/scorer/data/` (the tuned set) or `tests/scorer/corpus/<part>/` holds one dialogue (or a list)::

    id: zh-001-billing-clean
    language: zh                      # zh -> scorecard default-zh, en -> default-en
    description: what the case tests (tricky cases say so)
    turns:
      - {role: agent, text: "您好，这里是…"}
      - {role: customer, text: "…", pause_before_s: 1.2}      # default 0.6 s
      - {role: agent, text: "…", overlap_s: 0.8}              # starts 0.8 s before the previous turn ends
      - {role: agent, text: "…", duration_s: 4.0}             # default: from the text's length
    metrics:                          # optional overrides of the synthesised conversation metrics
      agent_interruptions: 2          # the agent barges in on 2 customer turns (turn timings overlap)
      customer_interruptions: 1
      speech_rate_agent: 400          # agent turns are timed to this rate, and the metric is set to it
      first_response_latency_ms: 35000  # the agent answers the customer's first turn this late
      non_talk: [{begin_s: 40, end_s: 58}]  # extra non-talk instances (gaps >= 3 s are found anyway)
    expected: {opening: pass, closing: fail, apology: not_applicable, ...}   # every item of the scorecard

`load_dialogue` turns that into a `TranscriptDocument` as the transcriber would have produced it: turns
t0, t1, … timed one after the other (begin = previous end + pause; duration ≈ 0.22 s per CJK character
or 0.38 s per English word), and `ConversationMetrics` computed from those timings (talk time = voiced
turn time, speech rate = units per voiced minute, response latency per customer → agent hand-over,
non-talk = gaps of at least 3 s, overlaps = turns that start before the other role's turn has ended).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from callqa.transcripts import (
    ConversationMetrics,
    ModelInfo,
    Overlap,
    ResponseLatency,
    Role,
    RoleMetrics,
    Span,
    Speakers,
    SpeechRateUnit,
    TranscriptDocument,
    Turn,
)
from callqa_stack import servers

DATA_DIR = servers.REPO_ROOT / "tests" / "scorer" / "data"  # the set the rules were written against
CORPUS_DIR = servers.REPO_ROOT / "tests" / "scorer" / "corpus"  # dev/ and test/ (see LABELLING.md there)

Result = Literal["pass", "fail", "not_applicable"]
RESULTS: tuple[Result, ...] = ("pass", "fail", "not_applicable")

# The items of default-zh and default-en (docs/scorecards.md), with their kind and what they look at.
ITEM_IDS: tuple[str, ...] = (
    "opening",
    "closing",
    "politeness",
    "thanks",
    "apology",
    "forbidden_phrases",
    "filler_words",
    "insults",
    "speech_rate",
    "verify_details",
    "over_promise",
    "shirking",
    "interruptions",
    "dead_air",
    "core_request_30s",
    "transfer_offered",
    "customer_repetition",
)
ITEM_KINDS: dict[str, str] = {
    "opening": "requirement",
    "closing": "requirement",
    "politeness": "requirement",
    "thanks": "requirement",
    "apology": "requirement",
    "forbidden_phrases": "deduction",
    "filler_words": "deduction",
    "insults": "auto-fail",
    "speech_rate": "requirement",
    "verify_details": "requirement",
    "over_promise": "deduction",
    "shirking": "deduction",
    "interruptions": "deduction",
    "dead_air": "deduction",
    "core_request_30s": "requirement",
    "transfer_offered": "requirement",
    "customer_repetition": "deduction",
}
METRIC_ITEMS = frozenset({"speech_rate", "interruptions", "dead_air", "core_request_30s"})
SCORECARDS: dict[str, str] = {"zh": "default-zh", "en": "default-en"}

DEFAULT_PAUSE_S = 0.6
SECONDS_PER_CJK_CHAR = 0.22
SECONDS_PER_WORD = 0.38
MIN_TURN_S = 0.4
MIN_NON_TALK_MS = 3000
TAIL_MS = 800  # recording left running after the last word
OVERLAP_S = 0.9  # how far an interrupting turn starts before the interrupted one ends
_OVERRIDE_KEYS = frozenset(
    {
        "agent_interruptions",
        "customer_interruptions",
        "speech_rate_agent",
        "speech_rate_customer",
        "first_response_latency_ms",
        "non_talk",
    }
)

_LATIN_RUN = re.compile(r"[^\W_]+")
_WORD = re.compile(r"\w")


@dataclass(frozen=True)
class Dialogue:
    id: str
    language: str
    description: str
    path: Path
    doc: TranscriptDocument
    expected: dict[str, Result]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def scorecard_id(self) -> str:
        return SCORECARDS[self.language]


def is_cjk(char: str) -> bool:
    code = ord(char)
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2A6DF
        or 0xF900 <= code <= 0xFAFF
        or 0x2F800 <= code <= 0x2FA1F
    )


def count_units(text: str, language: str) -> int:
    """Speech-rate units: CJK characters (plus each Latin/digit run) for Chinese, words otherwise."""
    if language.startswith("zh"):
        ideographs = sum(1 for char in text if is_cjk(char))
        latin = len(_LATIN_RUN.findall("".join(" " if is_cjk(char) else char for char in text)))
        return ideographs + latin
    return sum(1 for token in text.split() if _WORD.search(token))


def spoken_seconds(text: str, language: str) -> float:
    """How long saying `text` takes at an ordinary pace (digits are read one by one in Chinese)."""
    if language.startswith("zh"):
        chars = sum(1 for char in text if is_cjk(char) or char.isdigit())
        latin = len(re.findall(r"[A-Za-z]+", text))
        return max(MIN_TURN_S, chars * SECONDS_PER_CJK_CHAR + latin * 0.3)
    return max(MIN_TURN_S, count_units(text, language) * SECONDS_PER_WORD)


def mark_interruptions(turns: list[dict[str, Any]], interrupter: Role, count: int) -> None:
    """Make `count` turns of `interrupter` start before the other role's preceding turn has ended.

    Turns already carrying `overlap_s` count first; further ones are taken from the end of the call
    backwards, skipping turns that follow a deliberate silence (a pause of 3 s or more).
    """
    have = sum(1 for turn in turns if turn["role"] == interrupter and turn.get("overlap_s"))
    candidates = [
        index
        for index in range(len(turns) - 1, 1, -1)
        if turns[index]["role"] == interrupter
        and turns[index - 1]["role"] != interrupter
        and not turns[index].get("overlap_s")
        and float(turns[index].get("pause_before_s", DEFAULT_PAUSE_S)) < MIN_NON_TALK_MS / 1000  # keep silences
    ]
    needed = count - have
    if needed > len(candidates):
        raise ValueError(f"cannot place {count} {interrupter} interruptions")
    for index in candidates[: max(0, needed)]:
        turns[index]["overlap_s"] = OVERLAP_S


def _rate_seconds(text: str, language: str, rate: float) -> float:
    return max(MIN_TURN_S, count_units(text, language) * 60.0 / rate)


def build_document(
    dialogue_id: str,
    language: str,
    turns_spec: Sequence[Mapping[str, Any]],
    overrides: Mapping[str, Any] | None = None,
) -> TranscriptDocument:
    """A transcript with synthesised timings and metrics for `turns_spec` (see the module docstring)."""
    overrides = dict(overrides or {})
    unknown = set(overrides) - _OVERRIDE_KEYS
    if unknown:
        raise ValueError(f"{dialogue_id}: unknown metrics overrides {sorted(unknown)}")
    specs = [dict(turn) for turn in turns_spec]
    for turn in specs:
        if turn.get("role") not in ("agent", "customer"):
            raise ValueError(f"{dialogue_id}: bad role {turn.get('role')!r}")
    both: tuple[Role, ...] = ("agent", "customer")
    for who in both:
        if f"{who}_interruptions" in overrides:
            mark_interruptions(specs, who, int(overrides[f"{who}_interruptions"]))
    if "first_response_latency_ms" in overrides:
        first_customer = next(i for i, turn in enumerate(specs) if turn["role"] == "customer")
        answer = first_customer + 1
        if answer >= len(specs) or specs[answer]["role"] != "agent":
            raise ValueError(f"{dialogue_id}: the customer's first turn is not answered directly")
        specs[answer]["pause_before_s"] = overrides["first_response_latency_ms"] / 1000.0

    turns: list[Turn] = []
    previous_end_ms = 0
    for index, spec in enumerate(specs):
        role: Role = spec["role"]
        text = str(spec["text"])
        rate = overrides.get(f"speech_rate_{role}")
        if "duration_s" in spec:
            seconds = float(spec["duration_s"])
        elif rate:
            seconds = _rate_seconds(text, language, float(rate))
        else:
            seconds = spoken_seconds(text, language)
        if spec.get("overlap_s") and turns:
            begin_ms = previous_end_ms - round(float(spec["overlap_s"]) * 1000)
            begin_ms = max(begin_ms, turns[-1].begin_ms + 200)
        else:
            begin_ms = previous_end_ms + round(float(spec.get("pause_before_s", DEFAULT_PAUSE_S)) * 1000)
        end_ms = begin_ms + round(seconds * 1000)
        turns.append(Turn(id=f"t{index}", role=role, begin_ms=begin_ms, end_ms=end_ms, text=text))
        previous_end_ms = max(previous_end_ms, end_ms)

    duration_ms = previous_end_ms + TAIL_MS
    metrics = conversation_metrics(turns, language, duration_ms, extra_non_talk=overrides.get("non_talk", []))
    for who in both:
        wanted = overrides.get(f"speech_rate_{who}")
        if wanted and who in metrics.roles:
            metrics.roles[who].speech_rate = float(wanted)
    return TranscriptDocument(
        recording_id=dialogue_id,
        language=language,
        model=ModelInfo(id="labelled-set", version="1"),
        channel_layout="stereo_agent_left",
        duration_ms=duration_ms,
        speakers=Speakers(method="stereo_channels", agent_confidence=1.0, agent_identified_by="channel layout"),
        turns=turns,
        metrics=metrics,
    )


def conversation_metrics(
    turns: Sequence[Turn],
    language: str,
    duration_ms: int,
    *,
    extra_non_talk: Iterable[Mapping[str, float]] = (),
) -> ConversationMetrics:
    roles: list[Role] = list(dict.fromkeys(turn.role for turn in turns))
    unit: SpeechRateUnit = "chars_per_min" if language.startswith("zh") else "words_per_min"
    per_role: dict[str, RoleMetrics] = {}
    for role in roles:
        spans = _merge(Span(begin_ms=t.begin_ms, end_ms=t.end_ms) for t in turns if t.role == role)
        talk_ms = sum(span.duration_ms for span in spans)
        units = sum(count_units(t.text, language) for t in turns if t.role == role)
        per_role[role] = RoleMetrics(
            talk_time_ms=talk_ms,
            talk_ratio=round(talk_ms / duration_ms, 4) if duration_ms else 0.0,
            turns=sum(1 for t in turns if t.role == role),
            units=units,
            speech_rate=round(units / (talk_ms / 60_000), 1) if talk_ms else None,
            speech_rate_unit=unit,
            loudness_dbfs=-21.5 if role == "agent" else -24.0,
        )

    anyone = _merge(Span(begin_ms=t.begin_ms, end_ms=t.end_ms) for t in turns)
    non_talk = [
        Span(begin_ms=a.end_ms, end_ms=b.begin_ms)
        for a, b in itertools.pairwise(anyone)
        if b.begin_ms - a.end_ms >= MIN_NON_TALK_MS
    ]
    non_talk += [Span(begin_ms=round(s["begin_s"] * 1000), end_ms=round(s["end_s"] * 1000)) for s in extra_non_talk]
    non_talk.sort(key=lambda span: span.begin_ms)

    overlaps: list[Overlap] = []
    for earlier, later in itertools.pairwise(turns):
        if later.role != earlier.role and later.begin_ms < earlier.end_ms:
            overlaps.append(
                Overlap(
                    begin_ms=later.begin_ms,
                    end_ms=min(earlier.end_ms, later.end_ms),
                    interrupter=later.role,
                    interrupted=earlier.role,
                )
            )
    interruptions = dict.fromkeys(roles, 0)
    for overlap in overlaps:
        interruptions[overlap.interrupter] = interruptions.get(overlap.interrupter, 0) + 1

    latencies = [
        ResponseLatency(customer_turn_id=a.id, agent_turn_id=b.id, latency_ms=b.begin_ms - a.end_ms)
        for a, b in itertools.pairwise(turns)
        if a.role == "customer" and b.role == "agent"
    ]
    values = [latency.latency_ms for latency in latencies]
    return ConversationMetrics(
        duration_ms=duration_ms,
        roles=per_role,
        non_talk_time_ms=sum(span.duration_ms for span in non_talk),
        non_talk=non_talk,
        overlaps=overlaps,
        interruptions=interruptions,
        response_latencies=latencies,
        mean_response_latency_ms=round(sum(values) / len(values)) if values else None,
        max_response_latency_ms=max(values) if values else None,
    )


def _merge(spans: Iterable[Span]) -> list[Span]:
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: s.begin_ms):
        if merged and span.begin_ms <= merged[-1].end_ms:
            if span.end_ms > merged[-1].end_ms:
                merged[-1] = Span(begin_ms=merged[-1].begin_ms, end_ms=span.end_ms)
        else:
            merged.append(span)
    return merged


def load_dialogue(raw: Mapping[str, Any], path: Path) -> Dialogue:
    for key in ("id", "language", "description", "turns", "expected"):
        if key not in raw:
            raise ValueError(f"{path}: dialogue without {key!r}")
    language = str(raw["language"])
    if language not in SCORECARDS:
        raise ValueError(f"{path}: language {language!r} has no default scorecard")
    expected = {str(item): str(result) for item, result in raw["expected"].items()}
    bad = {item: result for item, result in expected.items() if result not in RESULTS or item not in ITEM_IDS}
    if bad:
        raise ValueError(f"{path}: {raw['id']}: bad labels {bad}")
    doc = build_document(str(raw["id"]), language, raw["turns"], raw.get("metrics"))
    return Dialogue(
        id=str(raw["id"]),
        language=language,
        description=str(raw["description"]).strip(),
        path=path,
        doc=doc,
        expected=expected,  # type: ignore[arg-type]
        raw=dict(raw),
    )


def load_file(path: Path) -> list[Dialogue]:
    content = yaml.safe_load(path.read_text(encoding="utf-8"))
    entries = content if isinstance(content, list) else [content]
    return [load_dialogue(entry, path) for entry in entries]


def load_all(data_dir: Path = DATA_DIR) -> list[Dialogue]:
    """Every dialogue of the labelled set, in file order; ids are unique."""
    dialogues = [d for path in sorted(data_dir.rglob("*.yaml")) for d in load_file(path)]
    seen: set[str] = set()
    for dialogue in dialogues:
        if dialogue.id in seen:
            raise ValueError(f"duplicate dialogue id {dialogue.id}")
        seen.add(dialogue.id)
    return dialogues
