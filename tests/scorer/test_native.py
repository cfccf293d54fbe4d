"""The scorer's C inner loops (`scorer.rules._native`) against the definitions they implement: jieba's own
cut, a brute-force substring search, pairwise Jaccard similarity, and their errors on bad input."""

from __future__ import annotations

import random
import re
from array import array
from collections.abc import Sequence
from itertools import accumulate, combinations
from math import log

import jieba
import pytest

from scorer.rules._native import Automaton, Dictionary, Normaliser, columns, near, non_overlapping, similar_turns
from tests.scorer.dataset import load_all

# --- Dictionary: jieba's dictionary-only cut -----------------------------------------------------------------


@pytest.fixture(scope="module")
def tokenizer() -> jieba.Tokenizer:
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def jieba_spans(tokenizer: jieba.Tokenizer, text: str) -> list[tuple[int, int]]:
    words = tokenizer.lcut(text, HMM=False)
    ends = list(accumulate(len(word) for word in words))
    return [(end - len(word), end) for word, end in zip(words, ends, strict=True)]


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


def test_segment_cuts_every_labelled_clause_as_jieba_does(tokenizer: jieba.Tokenizer) -> None:
    dictionary = Dictionary(tokenizer.FREQ)
    logtotal = log(tokenizer.total)
    clauses = [*labelled_clauses(), "工号1017号", "app登录不了", "abc", "", "ｘｙ１２3", "𠀀𠀁不知道"]
    assert len(clauses) > 1000
    for clause in clauses:
        assert dictionary.segment(clause, logtotal) == jieba_spans(tokenizer, clause), clause


def test_set_follows_jieba_add_word() -> None:
    """Words added to jieba (scorecard phrases) change the cut the same way in the copy."""
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    dictionary = Dictionary(tokenizer.FREQ)
    text = "那你想好了再打来吧谢谢"
    for word in ("那你想好了再打来吧", "好了再打"):
        tokenizer.add_word(word)
        for end in range(1, len(word) + 1):
            dictionary.set(word[:end], tokenizer.FREQ[word[:end]])
        assert dictionary.segment(text, log(tokenizer.total)) == jieba_spans(tokenizer, text)
    assert dictionary.segment(text, log(tokenizer.total))[0] == (0, 9), "the phrase is one word now"


def test_a_dictionary_grows_past_its_first_size() -> None:
    dictionary = Dictionary({"a": 1})
    words = [f"词{k}" for k in range(5000)]
    for word in words:
        dictionary.set(word, 10)
    dictionary.set("词", 0)
    assert dictionary.segment("词17词4999", log(5001)) == [(0, 3), (3, 8)]


def test_characters_beyond_the_direct_array_are_keys_too() -> None:
    far, near = "\U00031350", "\U0002a6d6"  # CJK extension G (kept in the hash table) and B (the array)
    dictionary = Dictionary({far: 5, far + near: 0, far + near + far: 50, near: 5})
    assert dictionary.segment(far + near + far + near, log(60)) == [(0, 3), (3, 4)]
    dictionary.set(far + far, 1000)
    assert dictionary.segment(far + far + near, log(1060)) == [(0, 2), (2, 3)]


def test_dictionary_rejects_bad_tables() -> None:
    with pytest.raises(TypeError):
        Dictionary({1: 2})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="negative"):
        Dictionary({"a": -1})
    with pytest.raises(ValueError, match="negative"):
        Dictionary({"a": 1}).set("b", -5)
    with pytest.raises(ValueError, match="2\\*\\*32"):
        Dictionary({"a": 1}).set("ab", 2**32)


# --- Automaton: every occurrence within a turn ---------------------------------------------------------------


def brute_force(phrases: Sequence[str], text: str, bounds: Sequence[int]) -> dict[int, list[tuple[int, int, int]]]:
    first_id = {phrase: pid for pid, phrase in reversed(list(enumerate(phrases)))}
    found: dict[int, list[tuple[int, int, int]]] = {}
    for turn in range(len(bounds) - 1):
        for start in range(bounds[turn], bounds[turn + 1]):
            for phrase, pid in first_id.items():
                end = start + len(phrase)
                if phrase and end <= bounds[turn + 1] and text.startswith(phrase, start):
                    found.setdefault(pid, []).append((turn, start, end))
    return {pid: sorted(hits, key=lambda hit: hit[2]) for pid, hits in found.items()}


def test_scan_finds_every_overlapping_occurrence_inside_turns() -> None:
    rng = random.Random(5)
    for _ in range(300):
        alphabet = rng.choice(["ab", "abc", "不知道您", "a不b"])
        phrases = ["".join(rng.choices(alphabet, k=rng.randint(0, 4))) for _ in range(rng.randint(1, 8))]
        text = "".join(rng.choices(alphabet, k=rng.randint(0, 40)))
        cuts = sorted(rng.choices(range(len(text) + 1), k=rng.randint(0, 5)))
        bounds = [0, *cuts, len(text)]
        found = {
            pid: [hit[:3] for hit in hits] for pid, hits in Automaton(phrases).scan(text, bounds).by_phrase().items()
        }
        assert found == brute_force(phrases, text, bounds), (phrases, text, bounds)


def test_scan_edge_cases() -> None:
    automaton = Automaton(["您好", "好", "您好"])
    assert automaton.scan("您好", [0, 2]).by_phrase() == {0: [(0, 0, 2, 3)], 1: [(0, 1, 2, 1)]}, (
        "a repeated phrase keeps its id"
    )
    assert automaton.scan("您好", [0, 1, 2]).by_phrase() == {1: [(1, 1, 2, 3)]}, "not across two turns"
    assert automaton.scan("", [0, 0]).by_phrase() == {}
    assert Automaton([]).scan("您好", [0, 2]).by_phrase() == {}
    assert Automaton([""]).scan("abc", [0, 3]).by_phrase() == {}, "an empty phrase matches nothing"


WHOLE, ALIGNED = 1, 2


def test_scan_flags_word_boundaries_at_spaces_or_from_jiebas_cut(tokenizer: jieba.Tokenizer) -> None:
    words = Automaton(["know", "now", "dont know"])
    assert words.scan("i dont know", [0, 11]).by_phrase() == {
        2: [(0, 2, 11, WHOLE | ALIGNED)],
        0: [(0, 7, 11, WHOLE | ALIGNED)],
        1: [(0, 8, 11, WHOLE)],
    }
    dictionary, logtotal = Dictionary(tokenizer.FREQ), log(tokenizer.total)
    chinese = Automaton(["不知道", "道理"])
    assert chinese.scan("不知道理", [0, 4], (), dictionary, logtotal).by_phrase() == {
        0: [(0, 0, 3, WHOLE)],  # 不知/道理: not a word of its own here
        1: [(0, 2, 4, WHOLE | ALIGNED)],
    }
    assert chinese.scan("我不知道", [0, 4], (), dictionary, logtotal).by_phrase() == {0: [(0, 1, 4, WHOLE | ALIGNED)]}
    unchecked = Automaton(["不知道", "道理"], None, [False, True])
    assert unchecked.scan("不知道理", [0, 4], (), dictionary, logtotal).by_phrase() == {
        0: [(0, 0, 3, WHOLE)],
        1: [(0, 2, 4, WHOLE | ALIGNED)],
    }, "word boundaries are checked only for the phrases that ask for it"
    assert Automaton(["不知道"], None, [False]).scan("我不知道", [0, 4], (), dictionary, logtotal).by_phrase() == {
        0: [(0, 1, 4, WHOLE)]
    }


def test_scan_flags_a_phrase_split_by_a_clause_break_unless_at_a_joint() -> None:
    text, bounds, breaks = "那你想好了再打来吧", [0, 9], [5]  # 那你想好了，再打来吧
    assert Automaton([text]).scan(text, bounds, breaks).by_phrase() == {0: [(0, 0, 9, ALIGNED)]}
    assert Automaton([text], [[2, 5]]).scan(text, bounds, breaks).by_phrase() == {0: [(0, 0, 9, WHOLE | ALIGNED)]}
    assert Automaton([text], [[2, 4]]).scan(text, bounds, breaks).by_phrase() == {0: [(0, 0, 9, ALIGNED)]}
    assert Automaton(["不知道"], [None]).scan("不知道", [0, 3], [1]).by_phrase()[0] == [(0, 0, 3, ALIGNED)], "不，知道"


def test_shapes_add_the_inner_boundaries_of_a_phrase_cut_out_whole() -> None:
    dictionary = Dictionary({"感": 0, "感谢": 10, "感谢您": 0, "感谢您的": 0, "感谢您的来": 0, "感谢您的来电": 5})
    automaton = Automaton(["感谢"])
    assert automaton.scan("感谢您的来电", [0, 6], (), dictionary, log(15)).by_phrase() == {0: [(0, 0, 2, WHOLE)]}
    dictionary.set_shape("感谢您的来电", [2, 3, 4])
    assert automaton.scan("感谢您的来电", [0, 6], (), dictionary, log(15)).by_phrase() == {
        0: [(0, 0, 2, WHOLE | ALIGNED)]
    }
    with pytest.raises(ValueError, match="inside the phrase"):
        dictionary.set_shape("感谢", [2])


def test_automaton_rejects_bad_input() -> None:
    with pytest.raises(TypeError, match="sequence of str"):
        Automaton(["ok", 3])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="one entry per phrase"):
        Automaton(["ok", "no"], [None])
    with pytest.raises(ValueError, match="one entry per phrase"):
        Automaton(["ok", "no"], None, [True])
    with pytest.raises(TypeError):
        Automaton(["ok"]).scan("text", ["0", "4"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="ascending"):
        Automaton(["ok"]).scan("text", [0, 9])
    with pytest.raises(ValueError, match="ascending"):
        Automaton(["ok"]).scan("text", [0, 4], [3, 1])
    with pytest.raises(TypeError, match="Dictionary"):
        Automaton(["ok"]).scan("text", [0, 4], [], {"ok": 1}, 0.0)  # type: ignore[arg-type]


# --- select_hits / non_overlapping: what a phrase rule takes from the raw hits -------------------------------


def test_select_keeps_member_turns_with_the_required_flags() -> None:
    rng = random.Random(3)
    for _ in range(300):
        phrases = ["".join(rng.choices("ab ", k=rng.randint(1, 3))) for _ in range(rng.randint(1, 6))]
        text = "".join(rng.choices("ab ", k=rng.randint(0, 30)))
        bounds = [0, *sorted(rng.choices(range(len(text) + 1), k=rng.randint(0, 4))), len(text)]
        hits = Automaton(phrases).scan(
            text, bounds, sorted(rng.sample(range(len(text) + 1), min(len(text) + 1, rng.randint(0, 3))))
        )
        by_phrase = hits.by_phrase()
        assert len(hits) == sum(len(found) for found in by_phrase.values())
        groups = [tuple(rng.sample(range(8), rng.randint(0, 3))) for _ in range(rng.randint(0, 4))]
        members = bytes(rng.choice([0, 1]) for _ in range(rng.randint(0, len(bounds))))
        required = rng.choice([0, 1, 2, 3])
        expected = [
            [
                (turn, start, end)
                for pid in group
                for turn, start, end, flags in by_phrase.get(pid, [])
                if turn < len(members) and members[turn] and flags & required == required
            ]
            for group in groups
        ]
        assert hits.select(groups, members, required) == expected
        kept, limit = non_overlapping(expected), rng.randint(0, 4)
        assert hits.tally(groups, members, required, limit) == (sum(map(bool, expected)), len(kept), kept[:limit])
        firsts, seconds = (tuple(rng.sample(range(8), rng.randint(0, 3))) for _ in range(2))
        within, ordered, words = rng.randint(-1, 6), rng.random() < 0.5, rng.choice([None, text])
        pairs = near(
            hits.select((firsts,), members, required)[0],
            hits.select((seconds,), members, required)[0],
            within,
            ordered,
            words,
            limit,
        )
        assert hits.near(firsts, seconds, members, required, within, ordered, words, limit) == pairs


def test_non_overlapping_is_leftmost_longest() -> None:
    rng = random.Random(4)
    for _ in range(300):
        groups = [
            [(0, start, start + rng.randint(1, 4)) for start in sorted(rng.choices(range(20), k=rng.randint(0, 5)))]
            for _ in range(rng.randint(0, 3))
        ]
        kept: list[tuple[int, int, int]] = []
        for hit in sorted((hit for group in groups for hit in group), key=lambda h: (h[1], -h[2])):
            if not kept or hit[1] >= kept[-1][2]:
                kept.append(hit)
        assert non_overlapping(groups) == kept
    assert non_overlapping([[(0, 0, 2)], [(0, 0, 3), (0, 2, 4)]]) == [(0, 0, 3)], "感谢 and 感谢您 count once"


def test_hit_selection_rejects_bad_input() -> None:
    hits = Automaton(["ab"]).scan("ab", [0, 2])
    with pytest.raises(TypeError, match="sequences of phrase ids"):
        hits.select(3, b"\x01", 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        hits.select([("0",)], b"\x01", 1)  # type: ignore[list-item]
    with pytest.raises(TypeError):
        hits.select([(0,)], [1], 1)  # type: ignore[arg-type]
    assert hits.select([(5, -1)], b"\x01", 0) == [[]], "ids the automaton does not have find nothing"
    assert hits.tally([(5, -1), (0,)], b"\x01", 0, 3) == (1, 1, [(0, 0, 2)])
    assert hits.near((0,), (0, 7), b"\x01", 0, 0, False, None, 3) == [(0, 0, 2)]
    with pytest.raises(TypeError, match="words"):
        hits.near((0,), (0,), b"\x01", 0, 0, False, b"ab", 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        hits.tally([(0,)], b"\x01", 0, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="lists of hits"):
        non_overlapping([(0, 1, 2)])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="tuple of 3"):
        non_overlapping([[(0, 1)]])  # type: ignore[list-item]


def near_by_definition(
    firsts: list[tuple[int, int, int]],
    seconds: list[tuple[int, int, int]],
    within: int,
    ordered: bool,
    words: str | None,
) -> list[tuple[int, int, int]]:
    def gap(left_end: int, right_start: int) -> int:
        if right_start <= left_end or words is None:
            return right_start - left_end
        return len(words[left_end:right_start].split())

    found: list[tuple[int, int, int]] = []
    for turn in sorted({t for t, _, _ in firsts} & {t for t, _, _ in seconds}):
        rights = sorted({(s, e) for t, s, e in seconds if t == turn})
        for s1, e1 in sorted({(s, e) for t, s, e in firsts if t == turn}):
            for s2, e2 in rights:
                if ordered and s2 < e1:
                    continue
                if (gap(e1, s2) if s2 >= s1 else gap(e2, s1)) <= within:
                    found.append((turn, min(s1, s2), max(e1, e2)))
                    break
        if len(found) >= 3:
            break
    return found


def test_near_pairs_hits_as_defined() -> None:
    rng = random.Random(6)
    words = "ab cd ef gh ij kl mn op qr st uv wx"
    for _ in range(500):

        def spans() -> list[tuple[int, int, int]]:
            out = []
            for _ in range(rng.randint(0, 6)):
                start = rng.randrange(len(words))
                out.append((rng.randint(0, 2), start, min(len(words), start + rng.randint(1, 5))))
            return out

        firsts, seconds = spans(), spans()
        within, ordered, text = rng.randint(-2, 8), rng.random() < 0.5, rng.choice([None, words])
        expected = near_by_definition(firsts, seconds, within, ordered, text)
        assert near(firsts, seconds, within, ordered, text, 3) == expected, (firsts, seconds, within, ordered, text)
    with pytest.raises(ValueError, match="outside the words"):
        near([(0, 0, 50)], [(0, 1, 2)], 3, False, "ab cd")
    with pytest.raises(TypeError, match="words"):
        near([(0, 0, 1)], [(0, 1, 2)], 3, False, b"ab")  # type: ignore[arg-type]


# --- similar_turns: pairwise Jaccard of unit bigrams ---------------------------------------------------------


def similar_by_definition(
    text: str, bounds: list[int], members: list[int], words: bool, min_length: int, min_repeats: int, similarity: float
) -> list[int] | None:
    units = {turn: text[bounds[turn] : bounds[turn + 1]] for turn in members}
    split = {turn: unit.split() if words else list(unit) for turn, unit in units.items()}
    kept = [turn for turn in members if len(split[turn]) >= min_length]
    grams = {turn: set(zip(split[turn], split[turn][1:], strict=False)) for turn in kept}

    def alike(a: int, b: int) -> bool:
        union = len(grams[a] | grams[b])
        return bool(union) and len(grams[a] & grams[b]) / union >= similarity

    pairs = {(a, b) for a, b in combinations(kept, 2) if alike(a, b)}
    for k in sorted(kept, key=lambda k: (len(grams[k]), kept.index(k))):
        group = sorted({k, *(b for a, b in pairs if a == k), *(a for a, b in pairs if b == k)})
        if grams[k] and len(group) >= min_repeats:
            return group
    return None


def random_call(rng: random.Random, words: bool) -> tuple[str, list[int]]:
    """A match view of short and long turns from a small vocabulary (so that turns resemble one another)."""
    vocabulary = ["refund", "not", "arrived", "yet", "my", "it's"] if words else list("退款没到账了吗")
    turns = []
    for _ in range(rng.randint(0, 9)):
        length = rng.choice([rng.randint(0, 8), rng.randint(30, 60)])
        turns.append((" " if words else "").join(rng.choices(vocabulary, k=length)))
    return "".join(turns), [0, *accumulate(len(turn) for turn in turns)]


def test_similar_turns_matches_the_definition() -> None:
    rng = random.Random(9)
    for case in range(600):
        words = case % 2 == 1
        text, bounds = random_call(rng, words)
        members = sorted(rng.sample(range(len(bounds) - 1), rng.randint(0, len(bounds) - 1)))
        min_length, min_repeats = rng.randint(0, 12), rng.randint(1, 4)
        similarity = rng.choice([0.05, 0.3, 0.5, 0.8, 1.0])
        args = (text, bounds, members, words, min_length, min_repeats, similarity)
        assert similar_turns(*args) == similar_by_definition(*args), args


def test_similar_turns_tells_words_apart_by_content() -> None:
    text = "ab cd ef" + "ab cd ef" + "ab cd xy"  # three turns; words are ids of their content
    assert similar_turns(text, [0, 8, 16, 24], [0, 1, 2], True, 2, 2, 1.0) == [0, 1]
    assert similar_turns(text, [0, 8, 16, 24], [0, 1, 2], True, 2, 3, 0.3) == [0, 1, 2]
    assert similar_turns(text, [0, 8, 16, 24], [2], True, 2, 1, 0.5) == [2]
    assert similar_turns(text, [0, 8, 16, 24], [0, 1, 2], True, 4, 2, 0.5) is None, "too short to compare"


def test_similar_turns_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="members"):
        similar_turns("abc", [0, 3], [1], False, 0, 2, 0.5)
    with pytest.raises(ValueError, match="bounds"):
        similar_turns("abc", [0, 5], [0], False, 0, 2, 0.5)
    with pytest.raises(ValueError, match="similarity"):
        similar_turns("abc", [0, 3], [0], False, 0, 2, 0.0)
    with pytest.raises(TypeError):
        similar_turns("abc", [0, 3], [0.5], False, 0, 2, 0.5)  # type: ignore[list-item]


# --- Normaliser: the tables it reads -------------------------------------------------------------------------


ONE, ALNUM, WORD, CLAUSE = 1 << 21, 1 << 23, 1 << 24, 1 << 25  # the packed layout of normalise._CodePoints


def test_normaliser_checks_its_table_and_reports_unknown_code_points() -> None:
    table = array("I", bytes(4 * 0x110000))
    for code in (ord("a"), ord("b")):
        table[code] = code | ONE | ALNUM | WORD
    normaliser = Normaliser(table, {}, lambda run: None, "", ())
    assert normaliser.views(["ab", "a?b"], True) == {ord("?")}, "unseen code points are for the caller to learn"
    table[ord("?")] = ord("?") | ONE | CLAUSE
    full, match, full_starts, match_starts, breaks, *_ = normaliser.views(["ab", "a?b"], True)
    assert (full, match, full_starts, match_starts, breaks) == ("ab\na?b", "abab", [0, 3, 7], [0, 2, 4], [3])
    with pytest.raises(ValueError, match="must hold"):
        Normaliser(array("I", bytes(40)), {}, lambda run: None, "", ())
    with pytest.raises(TypeError):
        normaliser.views(["ok", None], True)  # type: ignore[list-item]


def test_origins_quote_the_original_text_behind_a_span() -> None:
    table = array("I", bytes(4 * 0x110000))
    for code in (ord("a"), ord("b")):
        table[code] = code | ONE | ALNUM | WORD
    table[ord("?")] = ord("?") | ONE | CLAUSE
    views = Normaliser(table, {}, lambda run: None, "", ()).views(["ab", "a?b"], True)
    assert not isinstance(views, set)
    origins = views[5]
    assert origins.original == "ab\na?b"
    assert origins.match(2, 4) == "a?b", "a match-view span quotes the punctuation inside it"
    assert (origins.full(3, 4), origins.full(4, 4)) == ("a", "")
    ids, begins, ends = ["t0", "t1"], [0, 10], [5, 20]
    assert origins.evidence([(1, 2, 4), (0, 0, 1)], ids, begins, ends) == [
        {"turn_id": "t1", "begin_ms": 10, "end_ms": 20, "text": "a?b"},
        {"turn_id": "t0", "begin_ms": 0, "end_ms": 5, "text": "a"},
    ]
    for start, end in ((3, 3), (0, 9), (-1, 2)):
        with pytest.raises(IndexError):
            origins.match(start, end)
    with pytest.raises(IndexError):
        origins.full(0, 99)
    with pytest.raises(IndexError, match="turn"):
        origins.evidence([(2, 0, 1)], ids, begins, ends)
    with pytest.raises(TypeError):
        origins.evidence([(0, 0)], ids, begins, ends)  # type: ignore[list-item]
    with pytest.raises(TypeError):
        origins.evidence([[0, 0, 1]], ids, begins, ends)  # type: ignore[list-item]
    with pytest.raises(TypeError):
        type(origins)()


# --- columns: attributes of many objects ---------------------------------------------------------------------


def test_columns_reads_each_attribute_of_every_object() -> None:
    turns = [dialogue.doc.turns for dialogue in load_all()[:3]]
    for each in turns:
        expected = tuple([getattr(turn, name) for turn in each] for name in ("text", "id", "begin_ms"))
        assert columns(each, ("text", "id", "begin_ms")) == expected
    assert columns([], ("text",)) == ([],)

    class Spoken:  # a property, a class attribute and an instance attribute alike
        kind = "turn"

        def __init__(self, text: str) -> None:
            self.text = text

        @property
        def size(self) -> int:
            return len(self.text)

    assert columns([Spoken("ab"), Spoken("c")], ("text", "size", "kind")) == (["ab", "c"], [2, 1], ["turn", "turn"])
    with pytest.raises(AttributeError):
        columns([Spoken("a")], ("missing",))
    with pytest.raises(TypeError, match="names"):
        columns([Spoken("a")], (1,))  # type: ignore[arg-type]
