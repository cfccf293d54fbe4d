"""Scorecard documents: what QA teams write (YAML or JSON), validate against and version.

A scorecard has sections of items. Each item has a `condition` over the transcript and its metrics;
what the condition being *met* means depends on the item's kind:

| kind          | condition met                    | condition not met              | counts towards max |
|---------------|----------------------------------|--------------------------------|--------------------|
| `requirement` | pass, full points                | fail, 0                        | its points         |
| `deduction`   | fail, 0 (the behaviour is found) | pass, full points              | its points         |
| `bonus`       | pass, points added               | fail, 0                        | nothing            |
| `auto_fail`   | fail: the evaluation scores 0    | pass                           | nothing (0 points) |

When `not_applicable_when` is met the item is `not_applicable` and left out of the maximum.
The card passes when the earned share of the applicable points reaches `pass_threshold` percent and
no auto-fail item failed.

`Scorecard.model_json_schema()` is the schema QA teams validate against; `load_scorecard` reads a
YAML/JSON document and reports every problem with its path, e.g.
`sections[1].items[3].condition.conditions[0].pattern: not a valid RE2 pattern: ...`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from callqa.patterns import compile_pattern as compile_user_pattern

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=80)]
RoleSelector = Literal["agent", "customer", "any"]
Kind = Literal["requirement", "deduction", "bonus", "auto_fail"]
Severity = Literal["A", "B", "C"]
MetricName = Literal[
    "agent_interruptions",
    "customer_interruptions",
    "max_non_talk_ms",
    "non_talk_count",
    "non_talk_ms",
    "talk_ratio_agent",
    "talk_ratio_customer",
    "speech_rate_agent",
    "speech_rate_customer",
    "agent_voiced_ms",
    "customer_voiced_ms",
    "first_response_latency_ms",
    "mean_response_latency_ms",
    "max_response_latency_ms",
    "duration_ms",
    "agent_turns",
    "customer_turns",
    "turns",
]
_WORD_CHAR = re.compile(r"[^\W_]")


def _has_word_chars(phrase: str) -> str:
    if not _WORD_CHAR.search(phrase):
        raise ValueError("a phrase needs at least one letter or digit (punctuation and spaces are ignored)")
    return phrase


Phrase = Annotated[str, AfterValidator(_has_word_chars)]
PhraseList = Annotated[list[Phrase], Field(min_length=1)]


def compile_pattern(pattern: str) -> Any:
    """A scorecard regex, compiled with RE2 (linear time), case-insensitive; ValueError when it cannot be."""
    return compile_user_pattern(pattern, case_sensitive=False)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not silently ignored


class Anchor(_Model):
    """Turns near the turns where one of `phrases` is said (by `role`)."""

    phrases: PhraseList
    role: RoleSelector = "any"
    within_turns: int | None = Field(None, ge=1, description="how many turns (of any role) away; none = any")


class Scope(_Model):
    """Which turns a text condition searches. Every field that is set narrows the selection further.

    `first_turns`/`last_turns` count the turns of the condition's role (all turns for role `any`).
    `first_seconds` keeps turns that start within that time, `last_seconds` turns that end within
    that time of the end; measured from the start/end of the recording, or of the speech
    (first turn's start, last turn's end) with `seconds_from: speech`.
    """

    first_turns: int | None = Field(None, ge=1)
    last_turns: int | None = Field(None, ge=1)
    first_seconds: float | None = Field(None, gt=0)
    last_seconds: float | None = Field(None, gt=0)
    seconds_from: Literal["call", "speech"] = "call"
    before_anchor: Anchor | None = None
    after_anchor: Anchor | None = None


class AllCondition(_Model):
    """Met when every one of `conditions` is met."""

    type: Literal["all"]
    conditions: list[Condition] = Field(min_length=1)


class AnyCondition(_Model):
    """Met when at least one of `conditions` is met."""

    type: Literal["any"]
    conditions: list[Condition] = Field(min_length=1)


class NotCondition(_Model):
    """Met when `condition` is not."""

    type: Literal["not"]
    condition: Condition


class PhrasesCondition(_Model):
    """Phrases said by `role` in the scoped turns.

    Modes: `any` (one of them), `all` (each phrase or one of its synonyms), `none` (none of them),
    `at_least` (`count` occurrences in total). A hit followed directly by an `exclude_after` phrase
    (不知道 + 您), preceded within `negation_window` characters (CJK) / words by a `negations`
    phrase (不能 + 保证), in a turn that also holds an `exclude_in_turn` phrase (对不起 … 这样行了吧), or ending its
    clause when the next clause holds an `exclude_next_clause` phrase (不好意思，您刚才说哪个航班) does not count;
    with `exclude_quoted`, nor does one inside quotation marks (同事回您一句“这个我不知道”: someone else's words).
    """

    type: Literal["phrases"]
    role: RoleSelector = "agent"
    phrases: PhraseList
    synonyms: dict[str, list[Phrase]] = Field(default_factory=dict, description="phrase -> alternatives")
    mode: Literal["any", "all", "none", "at_least"] = "any"
    count: int = Field(1, ge=1, description="occurrences needed for mode at_least")
    word_boundary: bool = Field(True, description="hits must start and end on word boundaries")
    homophones: bool = Field(
        False,
        description="Chinese: also find a phrase of 2+ characters with one character recognised as another of the "
        "same sound (不知到 for 不知道, 不清除 for 不清楚): toneless pinyin, one character different at most",
    )
    exclude_after: list[Phrase] = Field(default_factory=list)
    exclude_in_turn: list[Phrase] = Field(default_factory=list, description="a turn holding one counts no hit")
    exclude_next_clause: list[Phrase] = Field(
        default_factory=list, description="a hit ending its clause counts nothing when the next clause holds one"
    )
    exclude_quoted: bool = Field(False, description="a hit inside quotation marks (someone quoted) counts nothing")
    negations: list[Phrase] = Field(default_factory=list)
    negation_window: int = Field(4, ge=0)
    scope: Scope = Field(default_factory=Scope)


class RegexCondition(_Model):
    """An RE2 pattern over each scoped turn's normalised text (lower case, simplified, digits, punctuation
    kept as NFKC leaves it: ， -> `,`); `^` and `$` are the turn's start and end. Met when it matches at
    least `count` times in total. A match preceded within `negation_window` characters (CJK) / words by a
    `negations` phrase (不会 + 不归我们管) does not count, as for `phrases`. Evidence quotes the first capturing
    group when there is one (RE2 has no lookaround), else the whole match."""

    type: Literal["regex"]
    role: RoleSelector = "agent"
    pattern: str = Field(min_length=1)
    count: int = Field(1, ge=1)
    negations: list[Phrase] = Field(default_factory=list)
    negation_window: int = Field(4, ge=0)
    scope: Scope = Field(default_factory=Scope)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        compile_pattern(pattern)
        return pattern


class ProximityCondition(_Model):
    """A `first` phrase and a `second` phrase in the same turn with at most `within` characters (CJK) or
    words between them. `negations` apply to the `first` phrase."""

    type: Literal["proximity"]
    role: RoleSelector = "agent"
    first: PhraseList
    second: PhraseList
    within: int = Field(ge=0)
    order: Literal["any", "first_then_second"] = "any"
    word_boundary: bool = True
    homophones: bool = Field(False, description="Chinese: as for `phrases`, for the `first` phrases")
    negations: list[Phrase] = Field(default_factory=list)
    negation_window: int = Field(4, ge=0)
    scope: Scope = Field(default_factory=Scope)


class IdentifierRequestCondition(_Model):
    """`role` asks for or confirms one of the customer's identifying details: a request or question (请提供,
    麻烦报一下, 是多少, 对吗; can I have, could you confirm, what's) and an identifier (手机号, 卡号后四位,
    收货地址, 订单号; email, postcode, date of birth, last four digits) within `within` characters (CJK) or
    words of each other, in either order, in one turn. The lexicons are built in (`scorer.rules.lexicon`);
    `identifiers` and `requests` add to them."""

    type: Literal["identifier_request"]
    role: RoleSelector = "agent"
    identifiers: list[Phrase] = Field(default_factory=list, description="added to the built-in identifiers")
    requests: list[Phrase] = Field(default_factory=list, description="added to the built-in request forms")
    within: int | None = Field(None, ge=0, description="default: 16 characters (CJK) / 6 words")
    exchanged: bool = Field(
        True,
        description="also a question answered at once with a detail-shaped reply (4+ digits, a code, an e-mail) "
        "and little else, or a detail the other party gave read back in a question",
    )
    scope: Scope = Field(default_factory=Scope)


DissatisfactionSignal = Literal["complaint", "demand", "problem", "emotion", "exasperation"]


class DissatisfactionCondition(_Model):
    """`role` (the customer) is unhappy: the weights of the signals found add up to `min_score`. A complaint or
    escalation (投诉, 找你们领导; complaint, manager) 2, a demand for a refund or compensation 2, a reported
    failure or loss (盗刷, 多扣了, 还没到; fraud, charged twice, never arrived) 1, negative emotion (生气, 失望;
    angry, fed up) 1, exasperation (又, 第三次, 到底; again, third time, still) 1, two or more exclamations 1,
    the same request three times 2. Negated cues (我不是要投诉, not a complaint) do not count. The lexicons are
    built in (`scorer.rules.lexicon`); `phrases` adds to a signal's.

    `learned: true` (the customer only) weighs the cues by a judgement learned from labelled calls
    (`scorer.rules.judgement`): unhappy when the model finds it likely on its own, or when the cues reach
    `min_score` and the model finds it possible; the lexicon alone where the model's encoder is not installed."""

    type: Literal["dissatisfaction"]
    role: RoleSelector = "customer"
    min_score: int = Field(2, ge=1)
    phrases: dict[DissatisfactionSignal, list[Phrase]] = Field(default_factory=dict)
    learned: bool = False

    @model_validator(mode="after")
    def _learned_from_customers(self) -> DissatisfactionCondition:
        if self.learned and self.role != "customer":
            raise ValueError("learned: the judgement was learned from customers' speech; use role: customer")
        return self


JudgementName = Literal["customer_dissatisfied", "complex_issue", "needs_identifying"]


class JudgementCondition(_Model):
    """A judgement learned from labelled calls (`scorer.rules.judgement`) weighed with rule `cues`: met when the
    model finds it likely from what the customer said, or when `cues` is met and the model finds it possible;
    `cues` alone where the model's encoder is not installed. All read the customer's turns:
    `customer_dissatisfied` (is the customer unhappy?), `complex_issue` (is the issue complex: a fault, a
    repeated failure, a dispute, something beyond the line, a manager asked for?) and `needs_identifying` (does
    the call need the customer identified: a record of theirs looked up or changed, not a general question?)."""

    type: Literal["judgement"]
    name: JudgementName
    cues: Condition


class MetricCondition(_Model):
    """A conversation metric compared with `value` (`between`: value <= metric <= value2, inclusive).
    A metric the transcript does not have (no speech rate without speech) is never met."""

    type: Literal["metric"]
    metric: MetricName
    op: Literal["lt", "le", "gt", "ge", "eq", "between"]
    value: float
    value2: float | None = None


class SilenceCondition(_Model):
    """A silence (non-talk) of at least `min_ms` the agent did not announce: the agent's last turn before it holds
    none of `announced_by` (请稍等, please hold …). Each silence is judged on its own: a hold announced once does
    not excuse a later silence, and a silence before the agent has spoken is never announced."""

    type: Literal["silence"]
    min_ms: int = Field(15000, ge=1)
    announced_by: PhraseList  # homophone-tolerant in Chinese (请稍登 for 请稍等)


class RepetitionCondition(_Model):
    """`min_repeats` turns of `role` saying nearly the same thing: turns of at least `min_length`
    characters (CJK) / words whose character- (word-) bigram similarity with one of them is at least
    `similarity`: Jaccard, or with `measure: containment` the share of the shorter turn's bigrams found in the
    other (a request said again inside a longer turn)."""

    type: Literal["repetition"]
    role: RoleSelector = "customer"
    min_repeats: int = Field(3, ge=2)
    similarity: float = Field(0.5, gt=0, le=1)
    min_length: int = Field(6, ge=1)
    measure: Literal["jaccard", "containment"] = Field(
        "jaccard", description="containment: the share of the shorter turn's bigrams the other has"
    )
    reworded: bool = Field(
        False,
        description="also a request asked again in other words: later turns insisting on it (我就想知道…, "
        "I'm asking you…) or the same kind of question (什么时候 / 哪天 / 几点; when / what date) in "
        "`min_repeats` turns; built-in lexicons (`scorer.rules.lexicon`)",
    )


class SentimentCondition(_Model):
    """At least `min_hits` words of a small built-in lexicon. A weak signal: prefer explicit phrases."""

    type: Literal["sentiment"]
    role: RoleSelector = "customer"
    polarity: Literal["negative", "positive"] = "negative"
    min_hits: int = Field(1, ge=1)


Condition = Annotated[
    AllCondition
    | AnyCondition
    | NotCondition
    | PhrasesCondition
    | RegexCondition
    | ProximityCondition
    | MetricCondition
    | SilenceCondition
    | RepetitionCondition
    | SentimentCondition
    | IdentifierRequestCondition
    | DissatisfactionCondition
    | JudgementCondition,
    Field(discriminator="type"),
]
CONDITION_TYPES = frozenset(
    {
        "all",
        "any",
        "not",
        "phrases",
        "regex",
        "proximity",
        "metric",
        "repetition",
        "sentiment",
        "identifier_request",
        "dissatisfaction",
        "judgement",
    }
)


def _kind_spelling(value: object) -> object:
    return value.replace("-", "_") if isinstance(value, str) else value  # the docs say "auto-fail"


class Item(_Model):
    id: Slug = Field(description="unique across the scorecard")
    name: str = Field(min_length=1)
    description: str = ""
    kind: Annotated[Kind, BeforeValidator(_kind_spelling)]
    points: float = Field(ge=0, description="0 for auto_fail items")
    severity: Severity = Field(description="A critical, B major, C minor")
    condition: Condition = Field(description="met: pass for requirement/bonus, fail for deduction/auto_fail")
    not_applicable_when: Condition | None = None


class Section(_Model):
    id: Slug
    name: str = Field(min_length=1)
    items: list[Item] = Field(min_length=1)


class AppliesTo(_Model):
    queues: list[str] = Field(default_factory=list, description="empty: every queue")
    groups: list[str] = Field(default_factory=list, description="empty: every group")


class ScorecardIssues(ValueError):
    """Problems found across the document, each with the path of the field at fault."""

    def __init__(self, issues: Sequence[tuple[str, str]]) -> None:
        self.issues = list(issues)
        super().__init__("; ".join(f"{path}: {message}" for path, message in self.issues))


class Scorecard(_Model):
    id: Slug
    name: str = Field(min_length=1)
    version: int = Field(1, ge=1, description="assigned by the service on save")
    language: str = Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]+)*$", examples=["zh", "en"])
    applies_to: AppliesTo = Field(default_factory=AppliesTo)
    pass_threshold: float = Field(80, ge=0, le=100, description="percent of the applicable points")
    sections: list[Section] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Scorecard:
        issues = list(_semantic_issues(self))
        if issues:
            raise ScorecardIssues(issues)
        return self

    def all_items(self) -> Iterator[tuple[Section, Item]]:
        for section in self.sections:
            for item in section.items:
                yield section, item


def _semantic_issues(card: Scorecard) -> Iterator[tuple[str, str]]:
    sections: set[str] = set()
    items: set[str] = set()
    for s, section in enumerate(card.sections):
        if section.id in sections:
            yield f"sections[{s}].id", f"duplicate section id {section.id!r}"
        sections.add(section.id)
        for i, item in enumerate(section.items):
            path = f"sections[{s}].items[{i}]"
            if item.id in items:
                yield f"{path}.id", f"duplicate item id {item.id!r}"
            items.add(item.id)
            if item.kind == "auto_fail" and item.points:
                yield f"{path}.points", "auto_fail items carry no points (a failure zeroes the whole evaluation)"
            yield from _condition_issues(item.condition, f"{path}.condition")
            if item.not_applicable_when is not None:
                yield from _condition_issues(item.not_applicable_when, f"{path}.not_applicable_when")


def _condition_issues(condition: BaseModel, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(condition, AllCondition | AnyCondition):
        for n, child in enumerate(condition.conditions):
            yield from _condition_issues(child, f"{path}.conditions[{n}]")
    elif isinstance(condition, NotCondition):
        yield from _condition_issues(condition.condition, f"{path}.condition")
    elif isinstance(condition, PhrasesCondition):
        for key in condition.synonyms:
            if key not in condition.phrases:
                yield f"{path}.synonyms", f"{key!r} is not one of the phrases"
        if condition.mode != "at_least" and condition.count != 1:
            yield f"{path}.count", "count is used with mode at_least only"
    elif isinstance(condition, MetricCondition) and condition.op == "between":
        if condition.value2 is None:
            yield f"{path}.value2", "op between needs value2"
        elif condition.value2 < condition.value:
            yield f"{path}.value2", "value2 must not be below value"


AllCondition.model_rebuild()
AnyCondition.model_rebuild()
NotCondition.model_rebuild()
JudgementCondition.model_rebuild()
Item.model_rebuild()


# --- reading documents ---------------------------------------------------------------------


class ScorecardError(ValueError):
    """An invalid scorecard document; `issues` lists (path, message) pairs."""

    def __init__(self, issues: Sequence[tuple[str, str]]) -> None:
        self.issues = list(issues)
        super().__init__("invalid scorecard:\n" + "\n".join(f"  {path}: {message}" for path, message in issues))


def error_path(loc: Sequence[int | str]) -> str:
    """pydantic's loc -> `sections[1].items[3].condition.conditions[0].pattern` (union tags dropped)."""
    out = ""
    holds_condition = False  # is the previous element where a condition (tagged union) lives?
    previous: int | str | None = None
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            holds_condition = previous == "conditions"
        elif holds_condition and part in CONDITION_TYPES:
            holds_condition = False
            continue
        else:
            out += f".{part}" if out else part
            holds_condition = part in ("condition", "not_applicable_when")
        previous = part
    return out


def scorecard_issues(exc: ValidationError) -> list[tuple[str, str]]:
    """Flatten a ValidationError of `Scorecard` into (path, message) pairs."""
    issues: list[tuple[str, str]] = []
    for error in exc.errors():
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, ScorecardIssues):
            issues.extend(cause.issues)
            continue
        message = error["msg"].removeprefix("Value error, ")
        issues.append((error_path(error["loc"]) or "scorecard", message))
    return issues


def validate_scorecard(document: Mapping[str, Any]) -> Scorecard:
    try:
        return Scorecard.model_validate(document)
    except ValidationError as exc:
        raise ScorecardError(scorecard_issues(exc)) from None


def load_scorecard(path_or_text: str | Path) -> Scorecard:
    """A scorecard from a file path or from YAML/JSON text (JSON is YAML too)."""
    if isinstance(path_or_text, Path) or (
        "\n" not in path_or_text and path_or_text.endswith((".yaml", ".yml", ".json")) and Path(path_or_text).is_file()
    ):
        text = Path(path_or_text).read_text(encoding="utf-8")
    else:
        text = path_or_text
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScorecardError([("document", f"not YAML/JSON: {exc}")]) from None
    if not isinstance(document, dict):
        raise ScorecardError([("document", "a scorecard is a mapping (id, name, language, sections, ...)")])
    return validate_scorecard(document)


@lru_cache(maxsize=4)
def _default_json(language: str) -> str:
    resource = resources.files("scorer").joinpath("scorecards", f"default-{language}.yaml")
    return load_scorecard(resource.read_text(encoding="utf-8")).model_dump_json()


def default_scorecard(language: str) -> Scorecard:
    """The shipped `default-zh` / `default-en` card for a language code ("zh", "zh-CN", "en-US" ...)."""
    base = language.lower().split("-")[0]
    if base not in ("zh", "en"):
        raise ValueError(f"no default scorecard for language {language!r} (there are: zh, en)")
    return Scorecard.model_validate(json.loads(_default_json(base)))  # a fresh, mutable copy each time
