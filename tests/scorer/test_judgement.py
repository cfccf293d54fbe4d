"""The learned judgements (is the customer unhappy? is the issue complex? does the call need the customer
identified?): what they decide, how they say why,
how they fall back, and that the shipped weights were fitted on the corpus as it is (never its test part)."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from callqa.events import ItemResult
from callqa_stack import judgements as fitting
from callqa_stack.labelled import CORPUS_DIR, load_all
from scorer.rules import judgement
from scorer.rules.engine import CompiledScorecard
from scorer.scorecard import default_scorecard
from tests.scorer.helpers import TurnSpec, build, one_item_card

LEARNED = {"type": "dissatisfaction", "role": "customer", "learned": True}
ANGRY_ZH: list[TurnSpec] = [
    ("agent", "您好，这里是顺达快递客服。"),
    ("customer", "我的快递已经丢了一个星期了，你们到底管不管？"),
    ("agent", "您别着急，我查一下。"),
    ("customer", "这都第三次打电话了，再不给我处理我就投诉！"),
]
CALM_EN: list[TurnSpec] = [
    ("agent", "Good morning, Harbour Gym, how can I help?"),
    ("customer", "Hi, I'd like to know your opening hours on Saturday."),
    ("agent", "We're open eight till six."),
    ("customer", "Great, thanks."),
]


def judged(*turns: TurnSpec, language: str = "zh", condition: dict[str, object] = LEARNED) -> tuple[bool, list[str]]:
    """Is the customer judged unhappy, and with which evidence?"""
    card = CompiledScorecard(one_item_card(condition, language))  # compiled afresh: patches apply
    item = card.evaluate(build(list(turns), language=language))
    return item.items[0].result == ItemResult.passed, [e.text for e in item.items[0].evidence]


def test_an_angry_customer_is_judged_unhappy_with_the_moment_that_shows_it() -> None:
    met, evidence = judged(*ANGRY_ZH)
    assert met
    assert evidence[0].startswith("judged dissatisfied: p = "), evidence
    assert float(evidence[0].rsplit(" ", 1)[1]) >= 0.9, evidence
    assert "第三次打电话" in evidence[1] or "丢了一个星期" in evidence[1], "the most telling turn, quoted"
    assert "投诉" in evidence, "and the lexicon's cues"


def test_a_calm_enquiry_is_not_and_the_skipped_item_says_what_the_model_measured() -> None:
    skip = {"type": "not", "condition": LEARNED}
    card = one_item_card({"type": "phrases", "phrases": ["sorry"]}, "en", not_applicable_when=skip)
    item = CompiledScorecard(card).evaluate(build(CALM_EN, language="en")).items[0]
    assert item.result == ItemResult.not_applicable
    assert item.evidence[0].text.startswith("not applicable: not (judged dissatisfied (learned from")
    assert "judged not dissatisfied: p = 0.0" in item.evidence[0].text, item.evidence


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("I was charged twice and I want my money back", "en", True),  # cues, and the model agrees
        ("说好的上午上门，等到现在都没人来，一整天都耽误了。", "zh", True),  # cues, and the model finds it possible
        # a cue ("gone up") the model rules out; "Why has my bill gone up by forty pounds?" sits on the line
        # (p 0.29-0.31 by fit): the corpus's readers hear a complaint in it about as often as not
        ("Hi, my bill has gone up a bit this month, what is that for?", "en", False),
        ("我不是要退款，就是问一下发票怎么开。", "zh", False),  # no cue (negated), and the model rules it out
        ("我没有要投诉的意思，就问下发票怎么开。", "zh", False),  # the model does not read the denied complaint
        ("I don't want a refund, just checking", "en", False),
    ],
)
def test_the_model_and_the_lexicon_decide_together(text: str, language: str, expected: bool) -> None:
    hello = "Hello." if language == "en" else "您好。"
    assert judged(("agent", hello), ("customer", text), language=language)[0] == expected


@pytest.mark.parametrize(
    ("said", "read"),
    [
        ("我没有要投诉的意思，就问下发票怎么开。", "的意思，就问下发票怎么开。"),
        ("我也不是故意找茬，但是这已经第三次了", "，但是这已经第三次了"),
        ("I'm not trying to complain, I just want to know when it ships.", ", I just want to know when it ships."),
        ("I don't blame you, but this is the third time.", " you, but this is the third time."),
        # not denials: a threat to complain, a negated good, a complaint
        ("再不解决我就投诉你们", "再不解决我就投诉你们"),
        ("If this isn't fixed I will complain.", "If this isn't fixed I will complain."),
        ("I'm not happy about this at all.", "I'm not happy about this at all."),
        ("我对你们很不满，要投诉", "我对你们很不满，要投诉"),
    ],
)
def test_the_model_does_not_read_a_denied_complaint(said: str, read: str) -> None:
    """An embedding has no negation: a clause denying dissatisfaction is left out up to its cue."""
    assert judgement.guarded(said) == read


def test_without_the_encoder_the_lexicon_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(judgement, "load", lambda name: None)
    turns: list[TurnSpec] = [("agent", "您好。"), ("customer", "Why has my bill gone up by forty pounds?")]
    assert judged(*turns, language="en") == judged(*turns, language="en", condition={"type": "dissatisfaction"})
    assert judged(*turns, language="en")[0], "the lexicon's cues alone"


def test_the_judgement_is_learned_from_customers_only() -> None:
    with pytest.raises(ValidationError, match="role: customer"):
        one_item_card({"type": "dissatisfaction", "role": "agent", "learned": True})


def test_embeddings_are_the_same_alone_or_in_a_batch() -> None:
    texts = ["退款什么时候到？", "Why was I charged twice?"]
    batch = judgement.embed(texts)
    judgement.forget()
    assert all((judgement.embed([text])[0] == vector).all() for text, vector in zip(texts, batch, strict=True))


FAULT_CUE = {"type": "phrases", "role": "customer", "phrases": ["故障"]}
COMPLEX = {"type": "judgement", "name": "complex_issue", "cues": FAULT_CUE}
FAULT_ZH: list[TurnSpec] = [
    ("agent", "您好，这里是光速宽带客服，请问有什么可以帮您？"),
    ("customer", "我家网从上周开始每天晚上断好几次，师傅来修过两回了还是老样子。"),
    ("agent", "您先把光猫重启一下试试。"),
    ("customer", "重启过无数次了，没用，你们能不能派个懂行的人来彻底查一下？"),
]
HOURS_ZH: list[TurnSpec] = [
    ("agent", "您好，这里是光速宽带客服，请问有什么可以帮您？"),
    ("customer", "你们营业厅周末开门吗？"),
    ("agent", "周六周日都开，早九点到晚六点。"),
    ("customer", "好的，谢谢。"),
]


def test_a_very_long_turn_is_read_as_far_as_the_model_reads() -> None:
    """The encoder's time grows with the text: a turn is embedded from its first `TURN_CHARS` characters."""
    head = "我的宽带又断了，" * (judgement.TURN_CHARS // 8)
    long, cut = judgement.embed([head + "后面还有很多很多话。" * 400, head[: judgement.TURN_CHARS]])
    assert (long == cut).all()


def test_a_repeated_fault_is_judged_complex_and_a_simple_question_is_not() -> None:
    met, evidence = judged(*FAULT_ZH, condition=COMPLEX)
    assert met, evidence
    assert evidence[0].startswith("judged complex: p = "), evidence
    assert "断好几次" in evidence[1] or "懂行的人" in evidence[1], "the most telling turn"
    met, evidence = judged(*HOURS_ZH, condition=COMPLEX)
    assert not met and evidence[0].startswith("judged not complex: p = 0.0"), evidence


NEEDS_IDENTIFYING = {
    "type": "judgement",
    "name": "needs_identifying",
    "cues": {"type": "phrases", "role": "customer", "phrases": ["积分"]},
}
POINTS_ZH: list[TurnSpec] = [
    ("agent", "您好，萌芽优选会员中心，请问有什么可以帮您？"),
    ("customer", "你好，我想问一下你们会员积分能不能直接抵现金用？"),
    ("agent", "可以的，一百积分抵一块钱，结算时勾选使用积分就行。"),
    ("customer", "好的，知道了，谢谢。"),
]
MISSING_POINTS_ZH: list[TurnSpec] = [
    ("agent", "您好，萌芽优选会员中心，请问有什么可以帮您？"),
    ("customer", "我上周买了三罐奶粉，积分到现在都没到账，订单也显示已完成，你帮我看一下我的账户。"),
    ("agent", "好的，我看一下。"),
    ("customer", "麻烦快点，我等着用积分下单。"),
]


def test_a_general_question_that_names_the_customers_points_needs_no_identifying() -> None:
    met, evidence = judged(*POINTS_ZH, condition=NEEDS_IDENTIFYING)
    assert not met and evidence[0].startswith("judged not needing identification: p = "), evidence
    met, evidence = judged(*MISSING_POINTS_ZH, condition=NEEDS_IDENTIFYING)
    assert met and evidence[0].startswith("judged needing identification: p = "), evidence


def test_a_judgement_condition_without_its_encoder_is_its_cues(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(judgement, "load", lambda name: None)
    assert judged(*FAULT_ZH, condition=COMPLEX) == judged(*FAULT_ZH, condition=FAULT_CUE)
    assert not judged(*FAULT_ZH, condition=COMPLEX)[0], "no cue, and no model to weigh the call"
    assert judged(("agent", "您好。"), ("customer", "路由器故障了"), condition=COMPLEX)[0], "the cue alone decides"


def test_a_judgement_condition_names_a_shipped_judgement() -> None:
    with pytest.raises(ValidationError, match="complex_issue"):
        one_item_card({"type": "judgement", "name": "customer_happy", "cues": FAULT_CUE})


def test_the_default_cards_skip_the_transfer_item_only_when_the_issue_is_judged_simple() -> None:
    card = CompiledScorecard(default_scorecard("zh"))
    items = {i.item_id: i for i in card.evaluate(build(FAULT_ZH)).items}
    assert items["transfer_offered"].result == ItemResult.failed, "complex, and nothing offered"
    items = {i.item_id: i for i in card.evaluate(build(HOURS_ZH)).items}
    assert items["transfer_offered"].result == ItemResult.not_applicable
    assert "judged not complex" in items["transfer_offered"].evidence[0].text


@pytest.mark.parametrize("name", sorted(fitting.SPECS))
def test_the_shipped_weights_were_fitted_on_the_corpus_as_it_is(name: str) -> None:
    spec = fitting.SPECS[name]
    shipped = json.loads(judgement.path(name).read_text(encoding="utf-8"))
    training = fitting.training_set(spec)
    assert shipped["trained_on"]["fingerprint"] == fitting.fingerprint(training), (
        "the labelled corpus changed since the judgement was fitted: run ./run fit"
    )
    assert len(shipped["weights"]) == 2 * 384
    assert (shipped["likely"], shipped["possible"], shipped["party"]) == (spec.likely, spec.possible, spec.party)
    test_part = {fitting.group_of(d) for d in load_all(CORPUS_DIR / "test")}
    assert test_part.isdisjoint(e.group for e in training), "the test part is never trained on"


def test_fitting_reports_how_it_did_on_files_it_was_not_fitted_on() -> None:
    examples = [
        fitting.Example(group=f"f{i % 10}", said=[text], yes=bad)
        for i, (text, bad) in enumerate(
            [("我要投诉你们，太过分了！", True), ("请问营业时间是几点？", False)] * 5
            + [("You charged me twice, I'm furious.", True), ("What time do you open?", False)] * 5
        )
    ]
    fitted = fitting.fit(fitting.SPECS["customer_dissatisfied"], examples)
    assert len(fitted["weights"]) == 2 * 384  # type: ignore[arg-type]
    assert fitted["trained_on"]["dialogues"] == 20  # type: ignore[index]
    assert fitted["cross_validated_by_file"]["accuracy_at_0.5"] == 1.0  # type: ignore[index]
