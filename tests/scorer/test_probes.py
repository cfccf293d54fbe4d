"""The default cards on single-sentence probes (tests/scorer/probes.yaml): wordings of each concept that no corpus
part holds, so a rule that only knows the corpus's wordings shows here. An agent probe is said by the agent to an
unhappy customer; a customer probe is said to an agent who neither apologises, hands anything over nor asks
for a detail; a bookend probe is the agent's first (opening) or last (closing) turn of a calm call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from callqa_stack.agreement import Outcome, score
from callqa_stack.labelled import Dialogue, load_dialogue
from scorer.scorecard import default_scorecard

PROBES = Path(__file__).parent / "probes.yaml"
MIN_SHARE = 0.96  # a few wordings are known misses (sarcasm, "who am I speaking with"): listed when the test runs
GREETING = {"zh": "您好，星河客服，请问有什么可以帮您？", "en": "Hello, Acme support, Sam speaking, how can I help?"}
# An unhappy customer with an order and a fault: apology, transfer and verification all apply.
CUSTOMER = {
    "zh": "我的订单出问题了，宽带故障三天了，我很生气，要投诉！",
    "en": "My order is wrong and my broadband has had a fault for three days, I'm furious!",
}
REPLY = {"zh": "嗯。", "en": "Right."}
CLOSING = {"zh": "还有其他问题吗？", "en": "Anything else?"}
LOOKING = {"zh": "好的，我看一下。", "en": "Okay, let me look."}
DONE = {"zh": "已经处理好了，还有其他问题吗？", "en": "That's done now. Anything else?"}


ASKING = {"zh": "你好，我想查一下我的订单。", "en": "Hi, I'd like to check my order."}
FOUND = {"zh": "好的，已经帮您查到了，明天送达。", "en": "Sure, I've found it, it arrives tomorrow."}
THANKING = {"zh": "好的，谢谢。", "en": "Great, thanks."}
BYE = {"zh": "再见。", "en": "Bye."}


def _turns(speaker: str, item: str, language: str, sentence: str) -> list[dict[str, str]]:
    probe = {language: sentence}
    if speaker == "agent":
        said = [GREETING, CUSTOMER, probe, REPLY, CLOSING]
    elif speaker == "customer":
        said = [GREETING, probe, LOOKING, REPLY, DONE]
    elif item == "opening":
        said = [probe, ASKING, FOUND, THANKING, BYE]
    else:
        said = [GREETING, ASKING, FOUND, THANKING, probe]
    return [{"role": ("agent", "customer")[i % 2], "text": text[language]} for i, text in enumerate(said)]


def _dialogue(number: int, speaker: str, language: str, item: str, expected: str, sentence: str) -> Dialogue:
    raw: dict[str, Any] = {
        "id": f"probe-{speaker}-{language}-{number:03d}",
        "language": language,
        "description": sentence,
        "expected": {item: expected},
        "turns": _turns(speaker, item, language, sentence),
    }
    return load_dialogue(raw, PROBES)


@pytest.fixture(scope="module")
def outcomes() -> list[Outcome]:
    probes = yaml.safe_load(PROBES.read_text(encoding="utf-8"))
    dialogues = [
        _dialogue(number, speaker, language, item, expected, sentence)
        for speaker, languages in probes.items()
        for language, items in languages.items()
        for item, by_result in items.items()
        for expected, sentences in by_result.items()
        for number, sentence in enumerate(sentences)
    ]
    return score(dialogues)


def test_probes_get_the_result_their_wording_deserves(outcomes: list[Outcome]) -> None:
    wrong = [o for o in outcomes if o.got != o.expected]
    listing = "\n".join(f"  {o.item_id}: want {o.expected}, got {o.got}: {o.dialogue.description}" for o in wrong)
    print(f"\n{len(outcomes) - len(wrong)}/{len(outcomes)} probes as expected\n{listing}")
    assert len(outcomes) >= 120
    assert 1 - len(wrong) / len(outcomes) >= MIN_SHARE, listing


def test_look_alikes_never_fail(outcomes: list[Outcome]) -> None:
    """A look-alike (a `pass` probe of an item that fails when its phrases are found) that fails is a false alarm
    on an agent; misses of a requirement's wordings are counted above instead."""
    found_means_fail = {
        item.id
        for language in ("zh", "en")
        for section in default_scorecard(language).sections
        for item in section.items
        if item.kind in ("deduction", "auto_fail")
    }
    alarms = [o for o in outcomes if o.item_id in found_means_fail and o.expected == "pass" and o.got == "fail"]
    assert not alarms, "\n".join(f"{o.item_id}: {o.dialogue.description}" for o in alarms)
