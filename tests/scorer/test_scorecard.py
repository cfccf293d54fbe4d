"""Scorecard documents (schema, validation paths, loading) and the two default cards item by item."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from pydantic import ValidationError

from callqa.events import ItemResult
from callqa.transcripts import TranscriptDocument
from scorer.rules import compile_scorecard
from scorer.rules.metrics import METRICS
from scorer.scorecard import (
    MetricName,
    Scorecard,
    ScorecardError,
    default_scorecard,
    error_path,
    load_scorecard,
    scorecard_issues,
)
from tests.scorer.helpers import TurnSpec, build, one_item_card

# docs/scorecards.md: id -> (section, kind, points, severity)
SPEC: dict[str, tuple[str, str, float, str]] = {
    "opening": ("service_language", "requirement", 5, "C"),
    "closing": ("service_language", "requirement", 5, "C"),
    "politeness": ("service_language", "requirement", 5, "C"),
    "thanks": ("service_language", "requirement", 5, "C"),
    "apology": ("service_language", "requirement", 10, "B"),
    "forbidden_phrases": ("service_language", "deduction", 10, "A"),
    "filler_words": ("service_language", "deduction", 3, "C"),
    "insults": ("service_language", "auto_fail", 0, "A"),
    "speech_rate": ("service_language", "requirement", 5, "C"),
    "verify_details": ("product_knowledge", "requirement", 10, "B"),
    "over_promise": ("product_knowledge", "deduction", 10, "A"),
    "shirking": ("attitude", "deduction", 10, "B"),
    "interruptions": ("attitude", "deduction", 5, "B"),
    "dead_air": ("communication", "deduction", 5, "B"),
    "core_request_30s": ("communication", "requirement", 5, "C"),
    "transfer_offered": ("communication", "requirement", 5, "B"),
    "customer_repetition": ("communication", "deduction", 5, "B"),
}


def minimal(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": "mini",
        "name": "Mini",
        "language": "zh",
        "sections": [
            {
                "id": "a",
                "name": "A",
                "items": [
                    {
                        "id": "greet",
                        "name": "Greet",
                        "kind": "requirement",
                        "points": 5,
                        "severity": "C",
                        "condition": {"type": "phrases", "phrases": ["您好"]},
                    }
                ],
            },
            {
                "id": "b",
                "name": "B",
                "items": [
                    {
                        "id": f"r{n}",
                        "name": f"R{n}",
                        "kind": "deduction",
                        "points": 1,
                        "severity": "B",
                        "condition": {"type": "any", "conditions": [{"type": "regex", "pattern": f"x{n}"}]},
                    }
                    for n in range(4)
                ],
            },
        ],
    }
    return document | changes


# --- documents ---------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["zh", "en"])
def test_default_cards_implement_the_spec(language: str) -> None:
    card = default_scorecard(language)
    assert card.id == f"default-{language}" and card.language == language and card.pass_threshold == 80
    found = {item.id: (section.id, item.kind, item.points, item.severity) for section, item in card.all_items()}
    assert found == SPEC
    assert default_scorecard(f"{language}-XX") == card
    assert default_scorecard(language) is not default_scorecard(language), "callers may edit their copy"


def test_every_metric_name_is_measured() -> None:
    assert set(get_args(MetricName)) == set(METRICS)


def test_unknown_default_language() -> None:
    with pytest.raises(ValueError, match="no default scorecard"):
        default_scorecard("fr")


def test_json_schema_and_round_trip(tmp_path: Path) -> None:
    schema = Scorecard.model_json_schema()
    assert "sections" in schema["properties"] and "PhrasesCondition" in schema["$defs"]
    card = default_scorecard("zh")
    as_json = card.model_dump_json()
    assert load_scorecard(as_json) == card, "JSON is YAML"
    path = tmp_path / "card.yaml"
    path.write_text(yaml.safe_dump(json.loads(as_json), allow_unicode=True), encoding="utf-8")
    assert load_scorecard(path) == card == load_scorecard(str(path))
    assert Scorecard.model_validate(minimal()).version == 1, "the service assigns versions"


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (
            lambda d: d["sections"][1]["items"][3]["condition"]["conditions"][0].update(pattern="(?<=look)behind"),
            "sections[1].items[3].condition.conditions[0].pattern",
            "not a valid RE2 pattern",
        ),
        (
            lambda d: d["sections"][1]["items"][2].update(points=-1),
            "sections[1].items[2].points",
            "greater than or equal to 0",
        ),
        (
            lambda d: d["sections"][0]["items"][0]["condition"].update(type="nonsense"),
            "sections[0].items[0].condition",
            "does not match any of the expected tags",
        ),
        (
            lambda d: d["sections"][0]["items"][0]["condition"].update(phrazes=["x"]),
            "sections[0].items[0].condition.phrazes",
            "Extra inputs are not permitted",
        ),
        (
            lambda d: d["sections"][0]["items"][0]["condition"].update(phrases=["您好", "，。"]),
            "sections[0].items[0].condition.phrases[1]",
            "at least one letter or digit",
        ),
        (
            lambda d: d["sections"][1]["items"][1].update(id="r0"),
            "sections[1].items[1].id",
            "duplicate item id 'r0'",
        ),
        (
            lambda d: d["sections"][1]["items"][0].update(kind="auto-fail", points=3),
            "sections[1].items[0].points",
            "auto_fail items carry no points",
        ),
        (
            lambda d: d["sections"][1]["items"][0].update(
                not_applicable_when={
                    "type": "not",
                    "condition": {"type": "metric", "metric": "turns", "op": "between", "value": 3},
                }
            ),
            "sections[1].items[0].not_applicable_when.condition.value2",
            "op between needs value2",
        ),
        (
            lambda d: d["sections"][0]["items"][0]["condition"].update(synonyms={"你好": ["您好呀"]}),
            "sections[0].items[0].condition.synonyms",
            "'你好' is not one of the phrases",
        ),
    ],
)
def test_invalid_documents_name_the_path(change: Callable[[dict[str, Any]], None], path: str, message: str) -> None:
    document = minimal()
    change(document)
    with pytest.raises(ScorecardError) as caught:
        load_scorecard(json.dumps(document))
    assert any(p == path and message in m for p, m in caught.value.issues), caught.value.issues
    assert path in str(caught.value)
    with pytest.raises(ValidationError) as raw:  # the model itself refuses it too (the service validates so)
        Scorecard.model_validate(document)
    assert any(p == path for p, _ in scorecard_issues(raw.value))


def test_error_paths_drop_union_tags() -> None:
    loc = ("sections", 1, "items", 3, "condition", "all", "conditions", 0, "regex", "pattern")
    assert error_path(loc) == "sections[1].items[3].condition.conditions[0].pattern"
    assert error_path(("sections", 0, "items", 0, "not_applicable_when", "not", "condition", "metric", "value")) == (
        "sections[0].items[0].not_applicable_when.condition.value"
    )


def test_not_yaml_or_not_a_mapping() -> None:
    with pytest.raises(ScorecardError, match="not YAML"):
        load_scorecard("id: [unclosed\nname: x")
    with pytest.raises(ScorecardError, match="mapping"):
        load_scorecard("- just\n- a list\n")


def test_compiling_an_identical_card_is_cached() -> None:
    card = default_scorecard("en")
    assert compile_scorecard(card) is compile_scorecard(default_scorecard("en"))


# --- scoring -----------------------------------------------------------------------------------


def scoring_card() -> Scorecard:
    found = {"type": "phrases", "phrases": ["您好"]}
    missing = {"type": "phrases", "phrases": ["再见"]}
    items = [
        {"id": "req_met", "kind": "requirement", "points": 10, "condition": found},
        {"id": "req_missed", "kind": "requirement", "points": 10, "condition": missing},
        {"id": "ded_found", "kind": "deduction", "points": 5, "condition": found},
        {"id": "ded_clean", "kind": "deduction", "points": 5, "condition": missing},
        {"id": "bonus", "kind": "bonus", "points": 3, "condition": found},
        {"id": "na", "kind": "requirement", "points": 20, "condition": missing, "not_applicable_when": found},
        {"id": "fatal", "kind": "auto_fail", "points": 0, "condition": {"type": "phrases", "phrases": ["滚"]}},
    ]
    return Scorecard.model_validate(
        {
            "id": "scoring",
            "name": "Scoring",
            "language": "zh",
            "pass_threshold": 60,
            "sections": [{"id": "s", "name": "S", "items": [{"name": i["id"], "severity": "B"} | i for i in items]}],
        }
    )


def test_kinds_points_and_threshold() -> None:
    evaluation = compile_scorecard(scoring_card()).evaluate(build([("agent", "您好。")]))
    results = {i.item_id: (i.result.value, i.points) for i in evaluation.items}
    assert results == {
        "req_met": ("pass", 10),
        "req_missed": ("fail", 0),
        "ded_found": ("fail", 0),
        "ded_clean": ("pass", 5),
        "bonus": ("pass", 3),
        "na": ("not_applicable", 0),
        "fatal": ("pass", 0),
    }
    assert (evaluation.total_points, evaluation.max_points) == (18, 30)
    assert evaluation.percentage == pytest.approx(60.0) and evaluation.passed and not evaluation.auto_failed
    items = {i.item_id: i for i in evaluation.items}
    assert items["ded_found"].evidence[0].text == "您好" and items["ded_found"].evidence[0].turn_id == "t0"
    assert items["req_met"].evidence, "a met requirement shows where"
    assert [e.text for e in items["req_missed"].evidence] == ["not found: agent: 再见"], "a miss says what was sought"
    assert [e.text for e in items["na"].evidence] == ["not applicable: agent: 您好", "您好"], "n/a names its reason"
    assert items["na"].evidence[1].turn_id == "t0", "and points at what made it so"


def test_an_auto_fail_zeroes_the_evaluation() -> None:
    evaluation = compile_scorecard(scoring_card()).evaluate(build([("agent", "您好，你给我滚。")]))
    assert evaluation.auto_failed and not evaluation.passed
    assert (evaluation.total_points, evaluation.percentage) == (0, 0)
    fatal = next(i for i in evaluation.items if i.item_id == "fatal")
    assert fatal.result == ItemResult.failed and fatal.evidence[0].text == "滚" and fatal.severity == "B"


def test_nothing_applicable_scores_full_marks() -> None:
    card = one_item_card(
        {"type": "phrases", "phrases": ["您好"]},
        not_applicable_when={"type": "metric", "metric": "turns", "op": "ge", "value": 0},
    )
    evaluation = compile_scorecard(card).evaluate(build([("agent", "喂。")]))
    assert (evaluation.max_points, evaluation.percentage, evaluation.passed) == (0, 100, True)


# --- every default item can pass and fail ------------------------------------------------------

ZH_CALL: list[TurnSpec] = [
    ("agent", "您好，这里是星河通信客服中心，工号1017，请问有什么可以帮您？"),
    ("customer", "我家宽带又断了，一直没解决，你们怎么回事？"),
    ("agent", "非常抱歉给您带来不便。请您提供一下宽带账号，我帮您核实一下。"),
    ("customer", "账号是[ACCOUNT]。"),
    ("agent", "谢谢您，请稍等。这个问题需要技术人员上门处理，我帮您提交工单。"),
    ("customer", "好的，那要多久？"),
    ("agent", "技术人员会在二十四小时内联系您，请您保持电话畅通。请问还有其他可以帮您的吗？"),
    ("customer", "没有了。"),
    ("agent", "感谢您的来电，祝您生活愉快，再见。"),
]
EN_CALL: list[TurnSpec] = [
    ("agent", "Thank you for calling Metro Telecom, my name is Anna, how can I help you today?"),
    ("customer", "My internet keeps dropping and it is still not working, this is the second time I call."),
    ("agent", "I'm so sorry about that. Could you please confirm your account number for me?"),
    ("customer", "It's [ACCOUNT]."),
    ("agent", "Thank you. Please hold while I look. I will book a technician and open a ticket for you."),
    ("customer", "Okay, how long will that take?"),
    ("agent", "The technician will call you within a day, sir. Is there anything else I can help with?"),
    ("customer", "No, that's all."),
    ("agent", "Thank you for calling, have a nice day. Goodbye."),
]
CALLS = {"zh": ZH_CALL, "en": EN_CALL}


def variant(language: str, replace: dict[int, str] | None = None, **doc: Any) -> TranscriptDocument:
    turns = [(role, (replace or {}).get(n, text)) for n, (role, text, *_) in enumerate(CALLS[language])]
    return build(turns, language=language, **doc)


def scored(language: str, doc: TranscriptDocument) -> dict[str, str]:
    evaluation = compile_scorecard(default_scorecard(language)).evaluate(doc)
    return {item.item_id: item.result.value for item in evaluation.items}


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_reference_calls_pass_every_item(language: str) -> None:
    evaluation = compile_scorecard(default_scorecard(language)).evaluate(variant(language))
    assert {i.item_id: i.result.value for i in evaluation.items} == dict.fromkeys(SPEC, "pass")
    assert evaluation.percentage == 100 and evaluation.passed
    for item in evaluation.items:
        if SPEC[item.item_id][1] == "requirement":
            assert item.evidence, f"{item.item_id} passed without showing where"


ZH_FAILS: dict[str, dict[str, Any]] = {
    "opening": {"replace": {0: "请讲。"}},
    "closing": {"replace": {6: "技术人员会联系您。", 8: "好的。"}},
    "thanks": {"replace": {4: "请稍等。这个问题需要技术人员上门处理，我帮您提交工单。", 8: "祝您生活愉快，再见。"}},
    "apology": {"replace": {2: "请您提供一下宽带账号，我帮您核实一下。"}},
    "forbidden_phrases": {"replace": {4: "这个我也不知道。"}},
    "filler_words": {"replace": {4: "啊，这个，那个，我帮您看一下。"}},
    "insults": {"replace": {4: "你是不是傻？"}},
    "speech_rate": {"speech_rate": {"agent": 400}},
    "verify_details": {
        "replace": {2: "非常抱歉给您带来不便。", 4: "谢谢您，请稍等，我安排技术人员上门处理，提交工单。"}
    },
    "over_promise": {"replace": {6: "我保证明天一定修好。请问还有其他可以帮您的吗？"}},
    "shirking": {"replace": {4: "这不归我们管。"}},
    "interruptions": {"overlaps": [(3.0, 3.5, "agent"), (9.0, 9.4, "agent")]},
    "dead_air": {"replace": {4: "谢谢您。这个问题需要技术人员上门处理，我帮您提交工单。"}, "non_talk": [(20.0, 40.0)]},
    "core_request_30s": {"pauses": {2: 40.0}},
    "transfer_offered": {"replace": {4: "谢谢您，请稍等。", 6: "请问还有其他可以帮您的吗？"}},
    "customer_repetition": {
        "replace": {3: "宽带又断了能不能派人来修", 5: "宽带又断了能不能派人来修啊", 7: "宽带又断了，能不能派人来修？"}
    },
}
EN_FAILS: dict[str, dict[str, Any]] = {
    "opening": {"replace": {0: "Metro Telecom."}},
    "closing": {"replace": {6: "The technician will call you within a day, sir.", 8: "Okay."}},
    "thanks": {
        "replace": {
            0: "Hello, Metro Telecom, my name is Anna, how can I help you today?",
            4: "Please hold while I look. I will book a technician.",
            8: "Have a nice day. Goodbye.",
        }
    },
    "apology": {"replace": {2: "Could you please confirm your account number for me?"}},
    "forbidden_phrases": {"replace": {4: "I don't know, calm down."}},
    "filler_words": {"replace": {4: "Um, so, uh, like, you know, please hold."}},
    "insults": {"replace": {4: "Are you deaf? Please hold."}},
    "speech_rate": {"speech_rate": {"agent": 240}},
    "verify_details": {"replace": {2: "I'm so sorry about that."}},
    "over_promise": {
        "replace": {6: "I guarantee it will be fixed tomorrow, sir. Is there anything else I can help with?"}
    },
    "shirking": {"replace": {4: "That is not my department."}},
    "interruptions": {"overlaps": [(3.0, 3.5, "agent"), (9.0, 9.4, "agent")]},
    "dead_air": {"replace": {4: "Thank you. I will book a technician and open a ticket."}, "non_talk": [(20.0, 40.0)]},
    "core_request_30s": {"pauses": {2: 31.0}},
    "transfer_offered": {"replace": {4: "Thank you, please hold.", 6: "Is there anything else I can help with, sir?"}},
    "customer_repetition": {
        "replace": {
            3: "my internet keeps dropping all day",
            5: "My internet keeps dropping all day!",
            7: "my internet keeps dropping all the day",
        }
    },
}


@pytest.mark.parametrize(("language", "item"), [("zh", i) for i in ZH_FAILS] + [("en", i) for i in EN_FAILS])
def test_each_default_item_can_fail(language: str, item: str) -> None:
    fails = ZH_FAILS if language == "zh" else EN_FAILS
    results = scored(language, variant(language, **fails[item]))
    assert results[item] == "fail", results


def politeness_call(language: str, polite: bool) -> list[TurnSpec]:
    if language == "zh":
        said = ["您好，请讲。", "请稍等。", "好的，您请说。"] if polite else ["喂。", "等一下。", "好的。"]
        return [("agent", said[0]), ("customer", "我查账单。"), ("agent", said[1]), ("agent", said[2])]
    said = ["Hello, please go ahead.", "Please hold, sir.", "Okay."] if polite else ["Yes.", "Hold on.", "Okay."]
    return [("agent", said[0]), ("customer", "My bill."), ("agent", said[1]), ("agent", said[2])]


@pytest.mark.parametrize("language", ["zh", "en"])
def test_politeness_can_pass_fail_and_not_apply(language: str) -> None:
    assert scored(language, build(politeness_call(language, True), language=language))["politeness"] == "pass"
    assert scored(language, build(politeness_call(language, False), language=language))["politeness"] == "fail"
    short = politeness_call(language, True)[:2]
    assert scored(language, build(short, language=language))["politeness"] == "not_applicable"


@pytest.mark.parametrize("language", ["zh", "en"])
def test_items_that_do_not_apply(language: str) -> None:
    calm = {"zh": "我想问一下宽带的资费。", "en": "I would like to ask about my tariff."}[language]
    results = scored(language, variant(language, {1: calm}))
    assert results["apology"] == "not_applicable" and results["transfer_offered"] == "not_applicable"
    agent_only = build([(role, text) for role, text, *_ in CALLS[language] if role == "agent"], language=language)
    results = scored(language, agent_only)
    assert {results[i] for i in ("interruptions", "core_request_30s", "customer_repetition")} == {"not_applicable"}
    assert results["verify_details"] != "not_applicable"
    nobody = build([("customer", calm)], language=language)
    results = scored(language, nobody)
    assert results["opening"] == results["speech_rate"] == results["closing"] == "not_applicable"
    assert results["insults"] == "pass" and results["dead_air"] == "pass", "these always apply"


def test_the_rude_call_fails_with_evidence() -> None:
    rude: Sequence[TurnSpec] = [
        ("agent", "喂，什么事？"),
        ("customer", "我的宽带又断了，你们怎么回事，我要投诉！"),
        ("agent", "不知道，那你想好了再打来吧。"),
        ("customer", "你这是什么态度？"),
        ("agent", "神经病。"),
    ]
    evaluation = compile_scorecard(default_scorecard("zh")).evaluate(build(rude))
    items = {i.item_id: i for i in evaluation.items}
    assert evaluation.auto_failed and evaluation.percentage == 0
    quoted = {(e.turn_id, e.text) for e in items["forbidden_phrases"].evidence}
    assert quoted == {("t0", "喂"), ("t2", "不知道"), ("t2", "那你想好了再打来吧")}
    assert [(e.turn_id, e.text) for e in items["insults"].evidence] == [("t4", "神经病")]


@pytest.mark.parametrize(
    ("text", "forbidden"),
    [
        ("喂，什么事？", True),
        ("喂？", True),
        ("喂你听得到吗", True),
        ("喂您好，这里是客服中心。", False),
        ("喂，您好，这里是客服中心。", False),
        ("喂 您好", False),
        ("您好，请问有什么可以帮您？", False),
    ],
)
def test_addressing_the_customer_with_wei(text: str, forbidden: bool) -> None:
    assert scored("zh", build([("agent", text), ("customer", "你好。")]))["forbidden_phrases"] == (
        "fail" if forbidden else "pass"
    )


@pytest.mark.parametrize(
    ("text", "fails"),
    [
        ("啊，好的。嗯嗯，这个，我看一下。", True),
        ("这个月的账单，那个订单，我都看了。", False),
        ("这 个 月 的 账单 ， 那个 订单 。", False),
        ("好的呀，是啊，这个，", True),
    ],
)
def test_filler_words(text: str, fails: bool) -> None:
    assert scored("zh", build([("agent", text), ("customer", "好。")]))["filler_words"] == ("fail" if fails else "pass")


def test_a_copied_card_can_be_edited() -> None:
    document = copy.deepcopy(default_scorecard("zh").model_dump(mode="json"))
    document["id"] = "billing-zh"
    document["sections"][0]["items"][0]["points"] = 7
    card = Scorecard.model_validate(document)
    evaluation = compile_scorecard(card).evaluate(variant("zh"))
    assert evaluation.scorecard_id == "billing-zh" and evaluation.max_points == 105
