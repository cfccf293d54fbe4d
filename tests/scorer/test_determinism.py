"""The same transcript and scorecard always give the same evaluation: items, points and evidence do not depend
on which other scorecards the process compiled before, after or never (a card's phrases once went into jieba's
shared dictionary, so validating an unrelated card could change how another card cut a sentence)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from callqa.transcripts import TranscriptDocument
from callqa_stack.labelled import build_document, load_all
from scorer.rules.engine import CompiledScorecard, compile_scorecard
from scorer.scorecard import Scorecard, default_scorecard

AMOUNT_TURN = "这个金额度很高"  # 金额 | 度 with 金额 a word; 金 | 额度很高 once 额度很高 is one


def amount_card(phrases: list[str], card_id: str = "amount") -> Scorecard:
    """A card with one item: the agent says one of `phrases`."""
    return Scorecard.model_validate(
        {
            "id": card_id,
            "name": card_id,
            "language": "zh",
            "sections": [
                {
                    "id": "s",
                    "name": "s",
                    "items": [
                        {
                            "id": "said",
                            "name": "said",
                            "kind": "requirement",
                            "points": 1,
                            "severity": "C",
                            "condition": {"type": "phrases", "phrases": phrases},
                        }
                    ],
                }
            ],
        }
    )


def transcripts() -> list[TranscriptDocument]:
    dialogues = [d for d in load_all() if d.language == "zh"][:40]
    amount = build_document("amount", "zh", [{"role": "agent", "text": AMOUNT_TURN}], {})
    return [amount, *(d.doc for d in dialogues)]


def adversaries(docs: list[TranscriptDocument]) -> list[Scorecard]:
    """Cards whose phrases overlap the words of the calls: every 2-4 character piece of their turns, so that a
    shared dictionary would cut those calls differently."""
    pieces = sorted(
        {
            turn.text[start : start + size]
            for doc in docs[:12]
            for turn in doc.turns
            for size in (2, 3, 4)
            for start in range(0, max(0, len(turn.text) - size), 3)
            if turn.text[start : start + size].isalnum()
        }
    )
    return [
        amount_card(["额度很高"], "adversary-issue"),
        amount_card(pieces[::2], "adversary-even"),
        amount_card(pieces[1::2], "adversary-odd"),
        default_scorecard("en"),
    ]


def evaluations(card: Scorecard, docs: list[TranscriptDocument], fresh: bool = False) -> list[dict[str, Any]]:
    compiled = CompiledScorecard(card) if fresh else compile_scorecard(card)
    return [compiled.evaluate(doc).model_dump(mode="json") for doc in docs]


FIXED = [amount_card(["金额"]), default_scorecard("zh")]


# The child gets the cards and the transcripts as JSON: it imports nothing but the scorer and compiles nothing else.
CHILD = """
import json, sys
from callqa.transcripts import TranscriptDocument
from scorer.rules.engine import compile_scorecard
from scorer.scorecard import Scorecard
job = json.load(sys.stdin)
docs = [TranscriptDocument.model_validate(doc) for doc in job["docs"]]
cards = [compile_scorecard(Scorecard.model_validate(card)) for card in job["cards"]]
print(json.dumps([[card.evaluate(doc).model_dump(mode="json") for doc in docs] for card in cards]))
"""


def reference_from_a_fresh_process(docs: list[TranscriptDocument]) -> list[list[dict[str, Any]]]:
    """What a process that compiles nothing but the fixed cards gives."""
    job = {
        "cards": [card.model_dump(mode="json") for card in FIXED],
        "docs": [doc.model_dump(mode="json") for doc in docs],
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD], input=json.dumps(job), capture_output=True, text=True, check=True
    )
    result: list[list[dict[str, Any]]] = json.loads(done.stdout)
    return result


def test_evaluations_do_not_depend_on_what_else_was_compiled() -> None:
    docs = transcripts()
    reference = reference_from_a_fresh_process(docs)
    amount = reference[0][0]["items"][0]
    assert amount["result"] == "pass" and amount["evidence"][0]["text"] == "金额", "金额 is found in 金额度"

    before = [evaluations(card, docs, fresh=True) for card in FIXED]  # compiled before any adversary
    for adversary in adversaries(docs):
        compile_scorecard(adversary).evaluate(docs[0])
    after = [evaluations(card, docs, fresh=True) for card in FIXED]  # compiled after them
    cached = [evaluations(card, docs) for card in FIXED]
    assert before == reference
    assert after == reference
    assert cached == reference
    adversary = compile_scorecard(amount_card(["额度很高"], "adversary-issue")).evaluate(docs[0])
    assert adversary.items[0].evidence[0].text == "额度很高", "the adversary cuts the turn its own way"
