"""The rule engine on small hand-built transcripts: normalisation, word boundaries, every condition type."""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from typing import Any

import pytest

from callqa.events import Evidence, ItemResult
from callqa.patterns import compile_pattern
from callqa.transcripts import (
    TranscriptDocument,
)
from scorer.rules import compile_scorecard
from scorer.rules.conditions import Regex
from scorer.rules.normalise import normalise, normalise_phrase
from tests.scorer.helpers import TurnSpec, build, one_item_card


def check(condition: Mapping[str, Any], doc: TranscriptDocument) -> tuple[bool, list[Evidence]]:
    """Is the condition met on the transcript, and with which evidence?"""
    scored = compile_scorecard(one_item_card(condition, doc.language)).evaluate(doc).items[0]
    return scored.result == ItemResult.passed, scored.evidence


def met(condition: Mapping[str, Any], *turns: TurnSpec, language: str = "zh", **doc: Any) -> bool:
    return check(condition, build(turns, language=language, **doc))[0]


def phrases(*words: str, **options: Any) -> dict[str, Any]:
    return {"type": "phrases", "phrases": list(words)} | options


# --- normalisation -----------------------------------------------------------------------------


def test_normalisation_folds_width_case_script_and_numerals() -> None:
    text = normalise("您好，這裡是ＡＢＣ客服，工號一零一七……九十八元", cjk=True)
    assert text.full == "您好,这里是abc客服,工号1017......98元"
    assert text.match == "您好这里是abc客服工号101798元"
    start = text.match.index("工号")
    assert text.quote_match(start, start + 6) == "工號一零一七", "evidence quotes what was said"
    assert normalise_phrase("第二次", cjk=True) == normalise_phrase("第2次", cjk=True) == "第2次"
    assert normalise_phrase("一三八", cjk=True) == "138"
    assert normalise_phrase("一定", cjk=True) == "一定", "a lone 一 is not a number"
    assert normalise("Don’t  know, SIR!", cjk=False).match == "don't know sir"


EDGE_TURNS = [
    "您好，這裡是ＡＢＣ客服，工號一零一七……九十八元",
    "第",  # an ordinal split across turns is not an ordinal
    "二次了",
    "两天后\n再说，第三次，一个小时",
    "",
    "，，开头和结尾。",
    "ﬁne ﬁx … İstanbul",
    "Don’t  know, SIR!  it's 'quoted' ok_ya 50%",
]


@pytest.mark.parametrize("cjk", [True, False], ids=["cjk", "words"])
def test_every_view_character_quotes_what_was_said(cjk: bool) -> None:
    """Evidence quotes the original behind a span: each match-view character comes from a full-view
    character, which comes from the original (a digit from its whole spoken number); breaks lie inside."""
    for text in EDGE_TURNS:
        view = normalise(text, cjk)
        assert all(0 < b < len(view.match) for b in view.breaks), text
        for start in range(len(view.match)):
            quoted = view.quote_match(start, start + 1)
            assert quoted and quoted in text, (text, start)
        for start in range(len(view.full)):
            assert view.quote_full(start, start + 1) in text, (text, start)
        assert view.quote_full(3, 3) == ""


def test_breaks_are_where_clause_punctuation_separated_words() -> None:
    assert normalise("不知道，您好。再见", cjk=True).breaks == [3, 5]
    assert normalise("，，开头和结尾。", cjk=True).breaks == [], "a turn's own edges are no breaks"
    assert normalise("a - b, c", cjk=False).match == "a b c"
    assert normalise("a - b, c", cjk=False).breaks == [3], "for words, the space that stands for the comma"


def test_traditional_characters_are_converted_phrase_by_phrase() -> None:
    """zhconv's phrase-level conversion, where a character's simplified form depends on its word."""
    assert normalise("乾隆皇帝很乾淨", cjk=True).full == "乾隆皇帝很干净"
    assert normalise("後來發現頭髮", cjk=True).full == "后来发现头发"


def test_traditional_full_width_and_numerals_match_the_same_phrases() -> None:
    assert met(phrases("对不起", "谢谢"), ("agent", "對不起，謝謝您的耐心。"))
    assert met(phrases("不知道"), ("agent", "我不知道。"))
    assert met(phrases("工号1017"), ("agent", "您好，我的工號一零一七。"))
    assert met(phrases("工号一零一七"), ("agent", "您好，我的工号１０１７。")), "full-width digits"
    assert met(phrases("138"), ("agent", "尾号是一三八。"))
    assert met(phrases("第二次", role="customer"), ("customer", "这已经是第2次了。"), ("agent", "好的。"))
    assert not met(phrases("第二次"), ("customer", "这已经是第2次了。"), ("agent", "好的。")), "agent turns only"


def test_punctuation_inside_a_word_breaks_a_phrase_but_not_between_words_of_a_long_one() -> None:
    assert met(phrases("不知道"), ("agent", "不知道，"))
    assert not met(phrases("不知道"), ("agent", "不，知道了。")), "不，知道 = 'no, I know'"
    assert not met(phrases("不清楚"), ("agent", "不，清楚了。")), "two words: a comma changes the meaning"
    assert met(phrases("那你想好了再打来吧"), ("agent", "那你想好了，再打来吧。")), "ASR comma in a sentence"
    assert met(phrases("不知道"), ("agent", "不 知道")), "spaces are not punctuation"


# --- word boundaries, roles, exclusions, negations ----------------------------------------------


def test_phrases_align_with_jieba_words() -> None:
    assert not met(phrases("不知道"), ("agent", "不知道理在哪里。")), "不知/道理"
    assert not met(phrases("滚"), ("agent", "页面滚动一下就能看到。"))
    assert met(phrases("滚"), ("agent", "你给我滚！"))
    assert not met(phrases("保证"), ("agent", "保证金明天退回。"))
    # Card phrases become jieba words, yet a shorter phrase inside a longer one still matches.
    offer = phrases("请问有什么可以帮您", "有什么可以帮您", mode="all")
    assert met(offer, ("agent", "请问有什么可以帮您？"))
    # jieba's own compounds do hide a phrase: 感谢您 is a dictionary word, hence synonyms in the cards.
    assert not met(phrases("感谢"), ("agent", "感谢您的支持。"))
    assert met(phrases("感谢", synonyms={"感谢": ["感谢您"]}), ("agent", "感谢您的支持。"))
    assert met(phrases("您", mode="at_least", count=2, word_boundary=False), ("agent", "您好，您请讲。"))


def test_forbidden_phrase_exceptions_and_who_said_it() -> None:
    forbidden = phrases("不知道", exclude_after=["您", "是否"])
    assert not met(forbidden, ("agent", "不知道您现在方便吗？"))
    assert not met(forbidden, ("agent", "不知道是否方便？"))
    assert met(forbidden, ("agent", "不知道，您自己查吧。")), "a comma ends the polite form"
    assert not met(forbidden, ("customer", "你们客服上次说不知道。"), ("agent", "非常抱歉。"))


def test_a_turn_that_takes_the_phrase_back() -> None:
    """`exclude_in_turn`: a hit in a turn that also holds one of these counts for nothing, wherever it stands."""
    apology = phrases("对不起", exclude_in_turn=["这样行了吧"])
    assert not met(apology, ("agent", "行行行，对不起对不起，都是我们的错，这样行了吧。"))
    assert met(apology, ("agent", "这样行了吧。"), ("agent", "对不起，是我们的失误。")), "another turn's shrug"
    sorry = phrases("sorry", exclude_in_turn=["that's just how it goes"])
    assert not met(sorry, ("agent", "Sorry, but that's just how it goes sometimes."), language="en")


def test_a_sorry_that_asks_to_hear_it_again() -> None:
    """`exclude_next_clause`: "Sorry?" followed by a request to repeat is a pardon, not an apology, and so is a
    sorry asked as a clause of its own; an apology in its own clause before such a request still counts."""
    pardon = ["没听清", "刚才说哪", "信号"]
    apology = phrases("不好意思", "抱歉", exclude_next_clause=pardon)
    assert not met(apology, ("agent", "不好意思，您刚才说哪个航班？"))
    assert not met(apology, ("agent", "抱歉？您那边信号不太好。"))
    assert met(apology, ("agent", "非常抱歉给您添麻烦了，刚才没听清，您再说一遍？")), "not the end of its clause"
    assert met(apology, ("agent", "不好意思，让您久等了。"))
    sorry = phrases("sorry", exclude_next_clause=["didn't catch", "say that again"])
    assert not met(sorry, ("agent", "Sorry? I didn't catch that last bit."), language="en")
    assert met(sorry, ("agent", "I'm so sorry. Could you confirm the postcode?"), language="en")
    assert met(sorry, ("agent", "Sorry about that, I didn't catch it."), language="en"), "sorry about that ends nothing"
    assert not met(sorry, ("agent", "Okay, sorry? Which one?"), language="en"), "asked alone"
    assert not met(apology, ("agent", "不好意思？您说发货前什么？")), "asked alone, whatever follows"
    assert met(apology, ("agent", "不好意思，让您久等了？")), "a question, but not the sorry alone"
    assert met(sorry, ("agent", "I'm so sorry?"), language="en"), "not a clause of its own"


def test_a_phrase_the_agent_quotes_is_not_theirs() -> None:
    """`exclude_quoted`: a hit inside quotation marks is someone else's words; contractions are no quotes."""
    dont_know = phrases("不知道", exclude_quoted=True)
    assert not met(dont_know, ("agent", "之前同事回您一句“这个我不知道”，确实很不妥。"))
    assert met(dont_know, ("agent", "这个我不知道。"))
    assert met(phrases("不知道"), ("agent", "之前同事回您一句“这个我不知道”。")), "off unless asked for"
    not_ours = phrases("not our job", "not our problem", exclude_quoted=True)
    assert not met(not_ours, ("agent", "I'm sorry, 'not our job to sort it' is not the wording we use."), language="en")
    assert not met(not_ours, ("agent", 'The note says "not our problem if missing".'), language="en")
    assert met(not_ours, ("agent", "Honestly that's not our problem, it's the courier's."), language="en")
    assert met(not_ours, ("agent", "I don't think it's not our job, sorry."), language="en"), "apostrophes"


def test_negation_before_a_promise() -> None:
    promise = {
        "type": "proximity",
        "first": ["保证", "一定"],
        "second": ["明天", "到账"],
        "within": 10,
        "order": "first_then_second",
        "negations": ["不能保证", "不一定"],
    }
    assert met(promise, ("agent", "我保证明天到账。"))
    assert not met(promise, ("agent", "我不能保证明天到账。"))
    assert not met(promise, ("agent", "不一定明天能到账。"))
    assert not met(promise, ("agent", "明天我们一定处理。")), "order: the promise comes first"
    assert not met(promise, ("agent", "我保正明天到账。")), "homophones are opt-in"
    assert met(promise | {"homophones": True}, ("agent", "我保正明天到账。")), "保正: what ASR writes for 保证"
    assert met(phrases("sorry", negations=["not"]), ("agent", "I'm so sorry."), language="en")
    assert not met(phrases("sorry", negations=["not"]), ("agent", "I'm not sorry."), language="en")
    assert met(phrases("sorry", negations=["not"]), ("agent", "Not at all. Sorry for the wait."), language="en")


def test_english_words_and_exclusions() -> None:
    assert not met(phrases("sir"), ("agent", "Whatever you desire."), language="en")
    assert met(phrases("ma'am", "sir", mode="all"), ("agent", "Yes ma’am, of course sir."), language="en")
    dont_know = phrases("i don't know", exclude_after=["if you", "whether"])
    assert met(dont_know, ("agent", "I don't know."), language="en")
    assert not met(dont_know, ("agent", "I don't know if you have tried restarting it?"), language="en")
    assert not met(dont_know, ("agent", "I DON'T KNOW WHETHER it works"), language="en")
    assert not met(phrases("no idea"), ("agent", "No, idea: reboot."), language="en")


# --- proximity, modes, scopes ------------------------------------------------------------------


def test_proximity_within_characters_or_words() -> None:
    verify = {"type": "proximity", "first": ["核实"], "second": ["手机号"], "within": 8}
    assert met(verify, ("agent", "请您核实一下您的手机号。"))
    assert met(verify, ("agent", "手机号我帮您核实一下。")), "order any"
    assert not met(verify, ("agent", "我帮您核实一下，稍后会发短信到您登记的那个手机号。"))
    assert not met(verify, ("agent", "我帮您核实一下。"), ("agent", "您的手机号是多少？")), "same turn only"
    en = {"type": "proximity", "first": ["confirm"], "second": ["address"], "within": 2}
    assert met(en, ("agent", "Can you confirm your home address?"), language="en")
    assert not met(en, ("agent", "Can you confirm the name on your home address?"), language="en")


def test_modes_and_synonyms() -> None:
    turns: list[TurnSpec] = [("agent", "您好，谢谢您，再见。")]
    assert met(phrases("谢谢", "再见", mode="all", synonyms={"谢谢": ["谢谢您"]}), *turns)
    assert not met(phrases("谢谢", "抱歉", mode="all"), *turns)
    assert met(phrases("抱歉", mode="none"), *turns)
    assert not met(phrases("再见", mode="none"), *turns)
    assert met(phrases("您", "请", mode="at_least", count=2, word_boundary=False), *turns)
    assert not met(phrases("您", "请", mode="at_least", count=3, word_boundary=False), *turns)


def test_scopes_by_time_turns_and_anchor() -> None:
    late = [("customer", "喂？", 0.0, 1.0), ("agent", "您好。", 20.0, 21.0)]
    assert not met(phrases("您好", scope={"first_seconds": 15}), *late)
    assert met(phrases("您好", scope={"first_turns": 1}), *late)
    # Measured from the first speech, a recording that starts with 10 s of ringing still counts.
    ringing = [("agent", "您好。", 10.0, 11.0)]
    assert not met(phrases("您好", scope={"first_seconds": 5}), *ringing)
    assert met(phrases("您好", scope={"first_seconds": 5, "seconds_from": "speech"}), *ringing)

    call: list[TurnSpec] = [("agent", "再见。"), ("customer", "好。"), ("agent", "好的。"), ("agent", "嗯。")]
    assert not met(phrases("再见", scope={"last_turns": 2}), *call)
    assert met(phrases("再见", scope={"last_turns": 3}), *call)
    assert met(phrases("好", role="customer", scope={"last_turns": 1}), *call)

    anchored = {"phrases": ["投诉"], "role": "customer", "within_turns": 2}
    complaint: list[TurnSpec] = [
        ("agent", "抱歉。"),
        ("customer", "我要投诉！"),
        ("agent", "好的。"),
        ("agent", "抱歉。"),
    ]
    assert met(phrases("抱歉", scope={"after_anchor": anchored}), *complaint)
    assert not met(phrases("抱歉", scope={"after_anchor": anchored | {"within_turns": 1}}), *complaint)
    assert met(phrases("抱歉", scope={"before_anchor": anchored}), *complaint)
    assert not met(phrases("抱歉", scope={"after_anchor": anchored | {"phrases": ["退款"]}}), *complaint)


# --- regex --------------------------------------------------------------------------------------


def test_regex_runs_per_turn_on_normalised_text() -> None:
    wei = {"type": "regex", "pattern": r"^喂[\pP\s]"}
    assert met(wei, ("agent", "您好。"), ("customer", "在吗"), ("agent", "喂，听得到吗？")), "^ is each turn's start"
    assert not met(wei, ("agent", "您好，喂，听得到吗？"))
    assert met({"type": "regex", "pattern": "a", "count": 3}, ("agent", "a a"), ("agent", "A"), language="en")
    assert not met({"type": "regex", "pattern": "a", "count": 4}, ("agent", "a a"), ("agent", "A"), language="en")


def test_a_regex_match_across_two_turns_counts_in_neither_and_hides_none() -> None:
    """Turns are searched joined by newlines first, to find the turns worth matching one by one: a match
    that runs over a turn break (\\s* takes the newline) is not a match, and must not hide one that a
    turn holds on its own."""
    across = {"type": "regex", "pattern": r"x\s*y", "count": 1}
    assert not met(across, ("agent", "ax"), ("agent", "yb"), language="en")
    assert met(across, ("agent", "ax"), ("agent", "y xy"), language="en")
    assert met(across | {"count": 2}, ("agent", "ax"), ("agent", "y xy"), ("agent", "x y"), language="en")
    assert not met(across | {"count": 3}, ("agent", "ax"), ("agent", "y xy"), ("agent", "x y"), language="en")


@pytest.mark.parametrize(
    "pattern",
    [
        r"x\s*y",
        r"^y",
        r"x$",
        r"y*",
        r"(x)\s",
        r"\s",
        r"[^x]+",
        r"x\s*$",
        r"^\s*y",
        r"\Ax",
        r"y\z",
        "好*",
        r".",
        r"\b",
        "(好)?y",
    ],
)
def test_regex_finds_what_searching_each_turn_alone_finds(pattern: str) -> None:
    """Random calls (with a character of three UTF-8 bytes), with and without a role scope: every match,
    in order, is a match of searching that turn's text on its own, and none is missing."""
    rng = random.Random(pattern)
    for role in ("any", "agent"):
        item = {"type": "regex", "pattern": pattern, "role": role, "count": 1}
        card = compile_scorecard(one_item_card(item, "en"))
        for _ in range(60):
            turns = [
                (rng.choice(["agent", "customer"]), "".join(rng.choices("xy ,好", k=rng.randint(0, 6))))
                for _ in range(rng.randint(1, 6))
            ]
            doc = build(turns, language="en")
            ctx = card.context(doc)
            condition = card.items[0].condition
            assert isinstance(condition, Regex)
            selection = ctx.select(condition.scope)
            compiled = compile_pattern("(?m)" + pattern)
            expected = []
            for index in selection.indices:
                spans, last = [], None
                for match in compiled.finditer(ctx.texts[index].full):
                    if match.start() == match.end() and match.span() == last:
                        continue  # the re2 module reports some empty matches twice
                    last = match.span()
                    spans.append(match.span(1) if compiled.groups and match.start(1) >= 0 else match.span())
                if spans:
                    expected.append((index, spans))
            assert condition._matches(ctx, selection) == expected, (pattern, role, turns)


def test_regex_evidence_quotes_the_original_text() -> None:
    ok, evidence = check({"type": "regex", "pattern": r"工号\d+"}, build([("agent", "我的工號是一零一七。")]))
    assert not ok, "工號是一零一七 has 是 between"
    ok, evidence = check({"type": "regex", "pattern": r"工号是\d+"}, build([("agent", "我的工號是一零一七。")]))
    assert ok
    assert evidence == [Evidence(turn_id="t0", begin_ms=0, end_ms=2500, text="工號是一零一七")]


def test_regex_evidence_can_be_narrowed_with_a_group() -> None:
    ok, evidence = check({"type": "regex", "pattern": r"^(喂)[\pP\s]*[^您\pP\s]"}, build([("agent", "喂，什么事？")]))
    assert ok and [e.text for e in evidence] == ["喂"]


def test_a_negated_regex_match_does_not_count() -> None:
    """`negations` as for phrases: before the match, in the same clause, within the window; a negation may
    overlap the match (不会不 + 不归)."""
    owning = {"type": "regex", "pattern": "不归我们[^\\pP\\s]{0,2}管", "negations": ["不会说", "不会不"]}
    assert met(owning, ("agent", "这个不归我们管。"))
    assert not met(owning, ("agent", "这个不会说不归我们管的。"))
    assert not met(owning, ("agent", "放心，不会不归我们管。"))
    assert met(owning, ("agent", "不会说的。不归我们管。")), "a clause break ends a negation's reach"
    assert met(owning, ("agent", "不会说，这个问题真的不归我们管"))
    assert met(owning, ("agent", "不会不归我们管，那个不归我们管")), "the second match stands"
    english = {"type": "regex", "pattern": r"not my (?:job|problem)", "negations": ["never said"], "negation_window": 1}
    assert met(english, ("agent", "Sorry, that's not my job."), language="en")
    assert not met(english, ("agent", "Well,  I never   said it's not my problem."), language="en")
    ok, evidence = check(owning, build([("agent", "不会不归我们管，那个不归我们来管")]))
    assert ok and [e.text for e in evidence] == ["不归我们来管"], "evidence quotes the match that counts"


def test_a_pathological_regex_is_linear() -> None:
    doc = build([("agent", "a" * 100_000 + "b"), ("agent", "a" * 50_000 + "!")], language="en")
    card = compile_scorecard(one_item_card({"type": "regex", "pattern": "(a+)+$", "role": "any"}, "en"))
    started = time.perf_counter()
    card.evaluate(doc)
    assert time.perf_counter() - started < 1.0


# --- metrics, repetition, sentiment -------------------------------------------------------------


def metric(name: str, op: str, value: float, value2: float | None = None) -> dict[str, Any]:
    return {"type": "metric", "metric": name, "op": op, "value": value, "value2": value2}


def test_each_silence_needs_its_own_announcement() -> None:
    """`silence`: a hold announced in the agent's turn before the silence excuses it; one announced earlier in the
    call does not excuse a later one, nor does anything excuse a silence before the agent's first word."""
    dead_air = {"type": "silence", "min_ms": 15000, "announced_by": ["请稍等"]}
    turns = [
        ("agent", "您好，请讲。", 0.0, 2.0),
        ("customer", "我查一下订单。", 3.0, 5.0),
        ("agent", "好的，请稍等，我查一下。", 6.0, 9.0),
        ("agent", "查到了，已经发货。", 30.0, 33.0),
        ("customer", "那什么时候到？", 34.0, 36.0),
        ("agent", "明天到。", 60.0, 61.0),
    ]
    announced = check(dead_air, build(turns[:4], non_talk=[(9.0, 30.0)]))
    assert not announced[0], announced
    ok, evidence = check(dead_air, build(turns, non_talk=[(9.0, 30.0), (36.0, 60.0)]))
    assert ok, "the first hold's announcement does not cover the second silence"
    assert "non-talk 24.0 s at 00:36" in evidence[0].text and "(t4)" not in evidence[0].text
    assert "(t3) announced no hold" in evidence[0].text
    before_any_word = build([("customer", "喂？", 0.0, 1.0), ("agent", "您好。", 20.0, 21.0)], non_talk=[(1.0, 20.0)])
    assert check(dead_air, before_any_word)[0]
    assert not check(dead_air, build(turns[:2]))[0], "no long silence"
    misheard = [*turns[:2], ("agent", "好的，请稍登，我查一下。", 6.0, 9.0), turns[3]]
    assert not check(dead_air, build(misheard, non_talk=[(9.0, 30.0)]))[0], "ASR's 请稍登 still announces the hold"


def test_metric_conditions_and_their_evidence() -> None:
    doc = build(
        [("agent", "您好。"), ("customer", "你好。"), ("agent", "请讲。")],
        non_talk=[(83.0, 100.2), (120.0, 124.0)],
        overlaps=[(2.0, 2.5, "agent"), (5.0, 5.2, "agent"), (7.0, 7.1, "customer")],
        speech_rate={"agent": 250.0, "customer": None},
    )
    ok, evidence = check(metric("max_non_talk_ms", "ge", 15000), doc)
    assert ok
    assert evidence[0].text == "non-talk 17.2 s at 01:23" and evidence[0].begin_ms == 83000
    assert check(metric("non_talk_count", "eq", 2), doc)[0]
    assert check(metric("agent_interruptions", "ge", 2), doc)[0]
    assert not check(metric("customer_interruptions", "ge", 2), doc)[0]
    assert check(metric("speech_rate_agent", "between", 150, 330), doc)[0]
    assert not check(metric("speech_rate_agent", "between", 260, 330), doc)[0]
    assert not check(metric("speech_rate_customer", "lt", 10**9), doc)[0], "a missing metric is never met"
    assert check(metric("agent_turns", "eq", 2), doc)[0] and check(metric("turns", "ge", 3), doc)[0]
    assert check(metric("first_response_latency_ms", "le", 500), doc)[0]


def test_turns_without_speech_count_for_no_one() -> None:
    """An empty or blank turn (a diarised noise, say) is no turn of its speaker and not speech: turn counts
    skip it, and the speech window ignores it."""
    turns: list[TurnSpec] = [
        ("agent", " ", 0, 1),
        ("agent", "您好。", 3, 4),
        ("customer", "", 5, 6),
        ("agent", "再见。", 7, 8),
    ]
    doc = build(turns)
    assert check(metric("agent_turns", "eq", 2), doc)[0] and check(metric("customer_turns", "eq", 0), doc)[0]
    assert check(metric("turns", "eq", 2), doc)[0]
    opening = {"type": "phrases", "phrases": ["您好"], "scope": {"first_seconds": 0.5, "seconds_from": "speech"}}
    assert check(opening, doc)[0], "the speech starts at 3 s, with 您好"
    assert not check(opening | {"scope": {"first_seconds": 0.5}}, doc)[0], "the recording starts at 0 s"


def test_first_response_latency_from_the_turns_when_not_recorded() -> None:
    doc = build([("agent", "您好。"), ("customer", "我要查话费。"), ("customer", "喂？"), ("agent", "您好。")])
    doc.metrics.response_latencies = [
        r for r in doc.metrics.response_latencies if r.customer_turn_id != "t1"
    ]  # the transcriber paired only adjacent hand-overs
    # the agent's first turn after the customer's first one (t3) starts 0.5 + 0.5 + 0.5 s after t1 ends
    assert check(metric("first_response_latency_ms", "eq", 1500), doc)[0]
    assert not check(metric("first_response_latency_ms", "le", 30000), build([("agent", "您好。")]))[0]


def test_repetition_of_the_same_request() -> None:
    again = "我的宽带又断了能不能派人来修"
    repeat = {"type": "repetition", "role": "customer", "min_repeats": 3, "similarity": 0.5, "min_length": 6}
    turns: list[TurnSpec] = [("customer", again), ("agent", "好的。"), ("customer", again + "啊"), ("agent", "嗯。")]
    assert not met(repeat, *turns)
    ok, evidence = check(repeat, build([*turns, ("customer", "宽带又断了，能不能派人来修？")]))
    assert ok and [e.turn_id for e in evidence] == ["t0", "t2", "t4"]
    assert not met(repeat, ("customer", "好的"), ("customer", "好的"), ("customer", "好的")), "too short"
    en = repeat | {"min_length": 4}
    line = "my internet is down again"
    assert met(
        en, ("customer", line), ("customer", line + " today"), ("customer", "My internet is down!"), language="en"
    )


def test_a_request_repeated_in_other_words() -> None:
    """With `reworded`, a request asked again in other words counts: later turns insisting on it, or the same
    kind of question (when) in three turns; the literal operator does not see either."""
    literal = {"type": "repetition", "role": "customer", "min_repeats": 3, "similarity": 0.5, "min_length": 6}
    reworded = literal | {"reworded": True}
    insisting: list[TurnSpec] = [
        ("customer", "我上午转了五万块钱，证券账户里一直没看到。"),
        ("agent", "目前显示处理中。"),
        ("customer", "你们总得给个时间吧，你就告诉我几点能到账。"),
        ("agent", "一般当天到账。"),
        ("customer", "我不管什么延迟，我就问这五万块今天能不能进我账户里？"),
    ]
    assert not met(literal, *insisting)
    ok, evidence = check(reworded, build(insisting))
    assert ok and [e.turn_id for e in evidence] == ["t0", "t2", "t4"]
    assert not met(reworded, *insisting[:3]), "asked twice is not three times"
    once: list[TurnSpec] = [("customer", "我就想知道套餐多少钱。"), ("customer", "好的。"), ("customer", "没了。")]
    assert not met(reworded, *once), "insisting in the first request restates nothing"
    when = [
        ("customer", "The technician was due yesterday and never came. When is someone coming?"),
        ("customer", "Okay, but what date can you actually give me?"),
        ("customer", "So when will it be fixed, roughly?"),
    ]
    assert met(reworded | {"min_length": 4}, *when, language="en")
    assert not met(literal | {"min_length": 4}, *when, language="en")


def test_a_request_repeated_in_shared_words_or_for_a_manager() -> None:
    """Reworded repeats also count when three turns share a run of words (启动不了 ... 就是启动不了), or ask
    for someone senior three times; a run naming an amount or thing (二十块) or made of pronouns is no request."""
    reworded = {"type": "repetition", "role": "customer", "min_repeats": 3, "similarity": 0.5, "min_length": 6}
    reworded |= {"reworded": True}
    stuck: list[TurnSpec] = [
        ("customer", "扫码以后一直启动不了充电。"),
        ("customer", "拔了重插了，还是启动不了。"),
        ("customer", "都做了！它就是启动不了！"),
    ]
    assert met(reworded, *stuck)
    assert not met(reworded, *stuck[:2], ("customer", "好的，谢谢。")), "twice is not three times"
    amount: list[TurnSpec] = [
        ("customer", "扣了我二十块调度费。"),
        ("customer", "照片能证明，二十块退给我。"),
        ("customer", "那二十块到底怎么说？"),
    ]
    assert not met(reworded, *amount), "the same amount named three times"
    senior: list[TurnSpec] = [
        ("customer", "so could I speak to the practice manager"),
        ("customer", "Is there someone more senior I could talk to about it though"),
        ("customer", "so there's just no one in charge I can raise this with"),
    ]
    assert met(reworded | {"min_length": 4}, *senior, language="en")


def test_sentiment_is_a_dictionary_signal() -> None:
    negative = {"type": "sentiment", "role": "customer", "polarity": "negative", "min_hits": 2}
    assert met(negative, ("customer", "我真的很失望，你们让人很生气。"))
    assert not met(negative, ("customer", "好的，太好了。"))
    assert met({"type": "sentiment", "polarity": "positive"}, ("customer", "That was very helpful."), language="en")


# --- built-in operators: identifier requests, dissatisfaction ---------------------------------------------


ASKS = {"type": "identifier_request"}


@pytest.mark.parametrize(
    ("text", "asked"),
    [
        ("麻烦说一下您登记的手机号。", True),
        ("请报一下卡号后四位。", True),
        ("您的收货地址是北京市朝阳区建国路八号，对吗？", True),
        ("订单号方便提供一下吗？", True),
        ("好的，我帮您查一下物流。", False),
        ("您的问题已经记录了。", False),
        ("您可以在APP里输入订单号自己查询物流。", False),  # an instruction, not a question to this customer
        ("请问您是李女士本人吗？", True),
        ("新的收货地址是哪里？", False),  # a new detail taken down checks nobody
        ("请把预订确认码告诉我。", True),
        ("建档时候留的是哪个手机号，我帮您调一下档案。", True),
        ("缴费短信里报名流水号后面那串数字念给我听一下。", True),
        ("您现在用新号接收验证码就能登录。", False),  # 验证 inside 验证码 asks for nothing
    ],
)
def test_identifier_request_zh(text: str, asked: bool) -> None:
    assert met(ASKS, ("agent", text)) == asked, text


@pytest.mark.parametrize(
    ("text", "asked"),
    [
        ("what's the email on the account?", True),
        ("could you confirm your postcode for me", True),
        ("can I grab the last four digits of the card", True),
        ("I'll check the delivery status now", False),
        ("You can check the status online with your order number.", False),  # an instruction
        # "you could" across a sentence end is no instruction
        ("Let me look into that for you. Could you confirm your date of birth?", True),
        ("What's the new address please?", False),  # a new detail taken down checks nobody
        ("Thanks for calling, you're speaking with Dev, what's brought you to us?", False),  # an introduction
        ("May I ask who I'm speaking with today?", True),
        ("let's have a look may I grab the mobile number on the app please", True),
    ],
)
def test_identifier_request_en(text: str, asked: bool) -> None:
    assert met(ASKS, ("agent", text), language="en") == asked, text


def test_identifier_request_takes_extra_words_and_the_customer_role() -> None:
    assert met(ASKS | {"identifiers": ["会员卡"]}, ("agent", "方便出示一下会员卡吗？"))
    assert not met(ASKS, ("agent", "方便出示一下会员卡吗？")), "会员卡 is not a built-in identifier"
    assert not met(ASKS, ("customer", "我的手机号是多少来着？"), ("agent", "好的。")), "the agent's turns only"


def test_identifier_request_sees_a_detail_exchanged_in_any_wording() -> None:
    """A question answered at once with a detail-shaped reply (4+ digits, a code, an e-mail) counts however it
    was asked, and so does a detail read back as a question; a number the customer offers and the agent merely
    uses does not, nor does the greeting's "how can I help?"."""
    assert met(
        ASKS, ("agent", "您好，请问有什么可以帮您？"), ("agent", "好的，是哪一单呢？"), ("customer", "QH0520886。")
    )
    assert met(
        ASKS,
        ("agent", "Hello, how can I help?"),
        ("agent", "Which one is it?"),
        ("customer", "It's SW-7741."),
        language="en",
    )
    assert met(
        ASKS,
        ("agent", "您好，请问有什么可以帮您？"),
        ("customer", "我的订单是20240518号，一直没发货。"),
        ("agent", "20240518，对吗？"),
    )
    assert not met(
        ASKS,
        ("agent", "您好，请问有什么可以帮您？"),
        ("customer", "我的订单是20240518号，一直没发货。"),
        ("agent", "20240518这单明天发货。"),
    ), "used, not checked"
    assert not met(ASKS, ("agent", "Hello, how can I help?"), ("customer", "Order 55120, please."), language="en")
    read_out: list[TurnSpec] = [("agent", "您好，请问有什么可以帮您？"), ("agent", "您留的是尾号0365的这个号码吧？")]
    assert met(ASKS, *read_out, ("customer", "对对，是这个。")), "read out in a question and confirmed"
    assert not met(ASKS, *read_out, ("customer", "我想改个时间。")), "not confirmed"
    assert met(ASKS, ("agent", "好的"), ("agent", "订单号和手机号。")), "a list of identifiers on its own"
    assert not met(
        ASKS | {"exchanged": False}, ("agent", "好的"), ("agent", "是哪一单呢？"), ("customer", "QH0520886。")
    )
    new_number = ("customer", "新的是199 3071 5526。")
    assert not met(ASKS, ("agent", "好的"), ("agent", "请问您的新号码是多少？"), new_number), "a new detail taken down"
    assert not met(
        ASKS, ("agent", "Sure."), ("agent", "And the new number?"), ("customer", "07700 900123."), language="en"
    )


UNHAPPY = {"type": "dissatisfaction"}


@pytest.mark.parametrize(
    ("text", "unhappy"),
    [
        ("我的信用卡被盗刷了，你们赶紧给我退款！", True),  # problem + demand
        ("这已经是第三次了，到底什么时候能修好？", False),  # exasperation alone weighs 1
        ("我要投诉你们。", True),  # a complaint weighs 2
        ("我不是要投诉，就是问一下。", False),  # negated
        ("你好，我想查一下话费。", False),
        ("太过分了！气死我了！", True),  # emotion + exclamations
    ],
)
def test_dissatisfaction_zh(text: str, unhappy: bool) -> None:
    assert met(UNHAPPY, ("agent", "您好。"), ("customer", text)) == unhappy, text


def test_dissatisfaction_en_and_repetition() -> None:
    assert met(UNHAPPY, ("customer", "I was charged twice and I want my money back"), language="en")
    assert not met(UNHAPPY, ("customer", "I don't want a refund, just checking"), language="en")
    repeated = [("customer", "when will my parcel arrive please"), ("agent", "let me see")] * 3
    assert met(UNHAPPY, *repeated, language="en"), "the same request three times weighs 2"
    _, evidence = check(UNHAPPY, build([("customer", "我要投诉你们。")]))
    assert [e.text for e in evidence] == ["投诉"]
