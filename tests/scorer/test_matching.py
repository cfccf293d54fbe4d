"""The phrase matcher against the definitions it implements: jieba's own cut (with a scorecard's words added),
a brute-force substring search, leftmost-longest selection, pairing and pairwise Jaccard similarity."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from itertools import combinations, pairwise

import jieba
import pytest

from callqa_stack.labelled import load_all
from scorer.rules.matching import (
    ALIGNED,
    WHOLE,
    Hit,
    Hits,
    PhraseIndex,
    PhraseShape,
    Segmenter,
    near,
    non_overlapping,
    word_shape,
)
from scorer.rules.normalise import TurnText
from scorer.rules.similarity import similar_turns


def view(match: str, breaks: Sequence[int] = (), cjk: bool = True) -> TurnText:
    """A turn whose text already is its match view."""
    return TurnText(match, cjk, match, match, list(breaks), exact=True)


def labelled_clauses() -> list[str]:
    clauses = {
        clause
        for dialogue in load_all()
        if dialogue.language == "zh"
        for turn in dialogue.doc.turns
        for clause in re.split(r"[\W_]+", turn.text)
        if clause
    }
    return sorted(clauses)


# --- Segmenter: jieba's cut, one dictionary per scorecard ---------------------------------------------------


def test_a_segmenter_cuts_as_jieba_does_with_the_cards_words_added() -> None:
    words = ["那你想好了再打来吧", "好了再打", "请稍等", "不知道", "感谢您的来电", "金额"]
    reference = jieba.Tokenizer()
    reference.initialize()
    for word in words:
        if not reference.FREQ.get(word):
            reference.add_word(word)
    segmenter = Segmenter(words)
    clauses = [*labelled_clauses(), "工号1017号", "app登录不了", "abc", "那你想好了再打来吧谢谢", "这个金额度很高"]
    assert len(clauses) > 1000
    for clause in clauses:
        expected = [(start, end) for _, start, end in reference.tokenize(clause, HMM=False)]
        assert segmenter._tokens(clause) == expected, clause


def test_segmenters_share_no_words() -> None:
    """What one card adds to its dictionary is not in another's, nor in jieba's own."""
    plain = Segmenter([])
    before = plain.boundaries("这个金额度很高")
    with_amount = Segmenter(["金额"])
    adversary = Segmenter(["额度很高"])  # 这个/金/额度很高
    assert 4 in with_amount.boundaries("这个金额度很高"), "金额 is cut out: 这个/金额/度/…"
    assert with_amount.boundaries("这个金额度很高") == Segmenter(["金额"]).boundaries("这个金额度很高")
    assert adversary.boundaries("这个金额度很高") != with_amount.boundaries("这个金额度很高")
    assert Segmenter([]).boundaries("这个金额度很高") == before
    assert not jieba.dt.FREQ or "额度很高" not in jieba.dt.FREQ, "jieba's global dictionary is left alone"


def test_shapes_keep_a_phrases_own_words() -> None:
    segmenter = Segmenter(["感谢您", "感谢您的来电"])
    assert segmenter.shape("感谢您的来电").inner == {3, 4}, "感谢您/的/来电, taken before it became one word"
    assert segmenter._tokens("感谢您的来电") == [(0, 6)], "now one word ..."
    assert {0, 3, 6} <= segmenter.boundaries("感谢您的来电"), "... inside which 感谢您 still matches"
    assert word_shape("dont know") == PhraseShape(2, frozenset({4}))


# --- PhraseIndex.scan: every occurrence within a turn, flagged ------------------------------------------------


def brute_force(phrases: Sequence[str], turns: Sequence[str]) -> dict[int, list[Hit]]:
    found: dict[int, list[Hit]] = {}
    for turn, text in enumerate(turns):
        for start in range(len(text)):
            for pid, phrase in enumerate(phrases):
                if phrase and text.startswith(phrase, start):
                    found.setdefault(pid, []).append((turn, start, start + len(phrase)))
    return {pid: sorted(hits) for pid, hits in found.items()}


def flagged(hits: Hits) -> dict[int, list[tuple[int, ...]]]:
    """Every raw hit with both flags: WHOLE from the scan, ALIGNED as a rule would find it out."""
    return {
        pid: [(t, s, e, flags | (ALIGNED if hits.aligned(t, s, e) else 0)) for t, s, e, flags in found]
        for pid, found in hits.by_phrase.items()
    }


def scan(phrases: Sequence[str], turns: Sequence[TurnText], cjk: bool = False) -> dict[int, list[tuple[int, ...]]]:
    shapes = [word_shape(p) for p in phrases]
    segmenter = Segmenter(phrases) if cjk else None
    return flagged(PhraseIndex(phrases, shapes, segmenter).scan(turns))


def test_scan_finds_every_overlapping_occurrence_inside_turns() -> None:
    rng = random.Random(5)
    for _ in range(300):
        alphabet = rng.choice(["ab", "abc", "不知道您", "a不b"])
        phrases = ["".join(rng.choices(alphabet, k=rng.randint(0, 4))) for _ in range(rng.randint(1, 8))]
        turns = ["".join(rng.choices(alphabet, k=rng.randint(0, 12))) for _ in range(rng.randint(1, 4))]
        found = {pid: [hit[:3] for hit in hits] for pid, hits in scan(phrases, [view(t) for t in turns]).items()}
        assert found == brute_force(phrases, turns), (phrases, turns)


def test_scan_edge_cases() -> None:
    assert scan(["您好", "好", "您好"], [view("您好")]) == {0: [(0, 0, 2, 3)], 1: [(0, 1, 2, 1)], 2: [(0, 0, 2, 3)]}, (
        "a phrase given twice is found for each of its ids"
    )
    assert scan(["您好", "好"], [view("您"), view("好")]) == {1: [(1, 0, 1, 3)]}, "not across two turns"
    assert scan(["您好"], [view("")]) == {}
    assert scan([], [view("您好")]) == {}
    assert scan([""], [view("abc")]) == {}, "an empty phrase matches nothing"


def test_scan_flags_word_boundaries_at_spaces_or_from_jiebas_cut() -> None:
    assert scan(["know", "now", "dont know"], [view("i dont know", cjk=False)]) == {
        2: [(0, 2, 11, WHOLE | ALIGNED)],
        0: [(0, 7, 11, WHOLE | ALIGNED)],
        1: [(0, 8, 11, WHOLE)],
    }
    assert scan(["不知道", "道理"], [view("不知道理")], cjk=True) == {
        0: [(0, 0, 3, WHOLE)],  # 不知/道理: not a word of its own here
        1: [(0, 2, 4, WHOLE | ALIGNED)],
    }
    assert scan(["不知道", "道理"], [view("我不知道")], cjk=True) == {0: [(0, 1, 4, WHOLE | ALIGNED)]}
    calls: list[str] = []
    segmenter = Segmenter(["不知道", "道理"])
    segmenter.boundaries = lambda clause: calls.append(clause) or frozenset({0, 2, 4})  # type: ignore[method-assign]
    hits = PhraseIndex(["不知道", "道理"], [word_shape("不知道")] * 2, segmenter).scan(
        [view("不知道理"), view("不知道")]
    )
    assert hits.select([0, 1], b"\x01\x01", WHOLE) == [(0, 0, 3), (1, 0, 3), (0, 2, 4)] and not calls, (
        "a clause is cut only for a rule that wants word boundaries"
    )
    assert hits.select([1], b"\x01\x00", WHOLE | ALIGNED) == [(0, 2, 4)] and calls == ["不知道理"]
    assert hits.select([1], b"\x01\x00", WHOLE | ALIGNED) == [(0, 2, 4)] and calls == ["不知道理"], "once per hit"


def test_homophones_find_a_phrase_with_one_character_of_the_same_sound() -> None:
    phrases = ["不知道", "清楚", "您好"]
    segmenter = Segmenter(phrases)
    index = PhraseIndex(phrases, [segmenter.shape(p) for p in phrases], segmenter, [True, True, False])
    turns = [view("我也不知到"), view("这个我不清除"), view("布置到客厅"), view("你好"), view("不知道")]
    found = {pid: [hit[:3] for hit in hits] for pid, hits in index.scan(turns).by_phrase.items()}
    assert found == {0: [(0, 2, 5), (4, 0, 3)], 1: [(1, 4, 6)]}, (
        "不知到 and 不清除 sound alike; 布置到 differs in two characters; 您好 asked for no homophones"
    )
    plain = PhraseIndex(phrases, [segmenter.shape(p) for p in phrases], segmenter)
    assert {pid: len(hits) for pid, hits in plain.scan(turns).by_phrase.items()} == {0: 1}, "opt-in only"


def test_scan_flags_a_phrase_split_by_a_clause_break_unless_at_a_joint() -> None:
    text = "那你想好了再打来吧"  # 那你想好了，再打来吧

    def flags(shape: PhraseShape, phrase: str = text, breaks: Sequence[int] = (5,)) -> list[tuple[int, ...]]:
        return flagged(PhraseIndex([phrase], [shape], None).scan([view(phrase, breaks)]))[0]

    assert flags(PhraseShape(1, frozenset())) == [(0, 0, 9, ALIGNED)]
    assert flags(PhraseShape(3, frozenset({2, 5}))) == [(0, 0, 9, WHOLE | ALIGNED)]
    assert flags(PhraseShape(3, frozenset({2, 4}))) == [(0, 0, 9, ALIGNED)]
    assert flags(PhraseShape(2, frozenset({5}))) == [(0, 0, 9, ALIGNED)], "two words: a comma changes the meaning"
    assert flags(PhraseShape(1, frozenset()), "不知道", [1]) == [(0, 0, 3, ALIGNED)], "不，知道"


# --- what rules do with hits: selection, leftmost-longest, pairs ----------------------------------------------


def test_select_keeps_member_turns_with_the_required_flags() -> None:
    rng = random.Random(3)
    for _ in range(200):
        phrases = ["".join(rng.choices("ab ", k=rng.randint(1, 3))) for _ in range(rng.randint(1, 6))]
        turns = [view("".join(rng.choices("ab ", k=rng.randint(0, 12))), cjk=False) for _ in range(4)]
        hits = PhraseIndex(phrases, [word_shape(p) for p in phrases], None).scan(turns)
        pids = rng.sample(range(8), rng.randint(0, 3))
        members = bytes(rng.choice([0, 1]) for _ in range(4))
        required = rng.choice([0, 1, 2, 3])
        expected = [
            (turn, start, end)
            for pid in pids
            for turn, start, end, flags in flagged(hits).get(pid, [])
            if members[turn] and flags & required == required
        ]
        assert hits.select(pids, members, required) == expected


def test_non_overlapping_is_leftmost_longest() -> None:
    rng = random.Random(4)
    for _ in range(300):
        groups = [
            [(t, s, s + rng.randint(1, 4)) for t, s in sorted(rng.choices([(0, 0), (0, 3), (1, 1), (1, 2)], k=3))]
            for _ in range(rng.randint(0, 3))
        ]
        kept: list[Hit] = []
        for hit in sorted((hit for group in groups for hit in group), key=lambda h: (h[0], h[1], -h[2])):
            if not kept or hit[0] > kept[-1][0] or hit[1] >= kept[-1][2]:
                kept.append(hit)
        assert non_overlapping(groups) == kept
    assert non_overlapping([[(0, 0, 2)], [(0, 0, 3), (0, 2, 4)]]) == [(0, 0, 3)], "感谢 and 感谢您 count once"


def near_by_definition(
    firsts: list[Hit], seconds: list[Hit], within: int, ordered: bool, words: list[str] | None, distinct: bool
) -> list[Hit]:
    def gap(turn: int, left_end: int, right_start: int) -> int:
        if right_start <= left_end or words is None:
            return right_start - left_end
        return len(words[turn][left_end:right_start].split())

    found: list[Hit] = []
    for turn in sorted({t for t, _, _ in firsts} & {t for t, _, _ in seconds}):
        rights = sorted({(s, e) for t, s, e in seconds if t == turn})
        for s1, e1 in sorted({(s, e) for t, s, e in firsts if t == turn}):
            for s2, e2 in rights:
                if ordered and s2 < e1:
                    continue
                if distinct and s2 <= s1 and e1 <= e2:  # the first inside the second: one word read twice
                    continue
                if (gap(turn, e1, s2) if s2 >= s1 else gap(turn, e2, s1)) <= within:
                    found.append((turn, min(s1, s2), max(e1, e2)))
                    break
        if len(found) >= 3:
            break
    return found


def test_near_pairs_hits_as_defined() -> None:
    rng = random.Random(6)
    text = "ab cd ef gh ij kl mn op qr st uv wx"
    for _ in range(500):

        def spans() -> list[Hit]:
            out = []
            for _ in range(rng.randint(0, 6)):
                start = rng.randrange(len(text))
                out.append((rng.randint(0, 2), start, min(len(text), start + rng.randint(1, 5))))
            return out

        firsts, seconds = spans(), spans()
        within, ordered, words = rng.randint(-2, 8), rng.random() < 0.5, rng.choice([None, [text] * 3])
        distinct = rng.random() < 0.5
        expected = near_by_definition(firsts, seconds, within, ordered, words, distinct)
        got = near(firsts, seconds, within, ordered, words, 3, distinct)
        assert got == expected, (firsts, seconds, within, ordered, distinct)


# --- similar_turns: pairwise Jaccard of unit bigrams ---------------------------------------------------------


def similar_by_definition(
    units: dict[int, list[str]], min_length: int, min_repeats: int, similarity: float
) -> list[int] | None:
    kept = [turn for turn in sorted(units) if len(units[turn]) >= min_length]
    grams = {turn: set(pairwise(units[turn])) for turn in kept}

    def alike(a: int, b: int) -> bool:
        union = len(grams[a] | grams[b])
        return bool(union) and len(grams[a] & grams[b]) / union >= similarity

    pairs = {(a, b) for a, b in combinations(kept, 2) if alike(a, b)}
    for k in sorted(kept, key=lambda k: (len(grams[k]), k)):
        group = sorted({k, *(b for a, b in pairs if a == k), *(a for a, b in pairs if b == k)})
        if grams[k] and len(group) >= min_repeats:
            return group
    return None


def test_similar_turns_matches_the_definition() -> None:
    rng = random.Random(9)
    for case in range(600):
        vocabulary = ["refund", "not", "arrived", "yet", "my", "it's"] if case % 2 else list("退款没到账了吗")
        units = {
            turn: rng.choices(vocabulary, k=rng.choice([rng.randint(0, 8), rng.randint(30, 60)]))
            for turn in sorted(rng.sample(range(12), rng.randint(0, 9)))
        }
        min_length, min_repeats = rng.randint(0, 12), rng.randint(1, 4)
        similarity = rng.choice([0.05, 0.3, 0.5, 0.8, 1.0])
        args = (units, min_length, min_repeats, similarity)
        assert similar_turns(*args) == similar_by_definition(*args), args


def test_similar_turns_rejects_a_similarity_outside_zero_to_one() -> None:
    with pytest.raises(ValueError, match="similarity"):
        similar_turns({0: ["a", "b"]}, 0, 2, 0.0)
