"""Calibration statistics from blind scores: pure functions over verdicts, the statistics from
scikit-learn (Cohen's κ) and statsmodels (Fleiss' κ), never hand-written formulas.

A subject is one item of one call. Per item: how many analysts agree (the largest verdict's share).
Per analyst: alignment with the reference, 1 − |score − reference| ÷ item maximum weighted by the item's
points (MaestroQA), and Cohen's κ against the reference (or the consensus when there is none), shown from
`MIN_KAPPA_SUBJECTS` subjects. Across analysts: Fleiss' κ. The auto-scorer is one more rater, scored
against the human consensus (a verdict more than half of the analysts gave) and never counted in it.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

MIN_KAPPA_SUBJECTS = 10
Subject = tuple[str, str]  # (evaluation id, item id)


@dataclass(frozen=True)
class Score:
    result: str
    points: float


def cohen(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Cohen's κ of two raters over the same subjects; None when undefined (one category only)."""
    if not a:
        return None
    if len(set(a) | set(b)) < 2:
        return None  # perfect agreement on a single category: κ is 0/0
    value = float(cohen_kappa_score(list(a), list(b)))
    return None if math.isnan(value) else value


def fleiss(ratings: Sequence[Sequence[str]]) -> float | None:
    """Fleiss' κ; `ratings` is one row per subject with every rater's verdict."""
    if not ratings or len(ratings[0]) < 2:
        return None
    categories = sorted({v for row in ratings for v in row})
    if len(categories) < 2:
        return None
    codes = np.array([[categories.index(v) for v in row] for row in ratings])
    table, _ = aggregate_raters(codes, n_cat=len(categories))
    value = float(fleiss_kappa(table, method="fleiss"))
    return None if math.isnan(value) else value


def consensus(verdicts: Sequence[str]) -> str | None:
    """The verdict more than half gave, else None (no consensus)."""
    if not verdicts:
        return None
    verdict, count = Counter(verdicts).most_common(1)[0]
    return verdict if count * 2 > len(verdicts) else None


def alignment(
    scores: Mapping[Subject, Score], reference: Mapping[Subject, Score], maxima: Mapping[Subject, float]
) -> float | None:
    """Σ w·(1 − |s − r| / max) / Σ w over the subjects both scored, w = the item's maximum."""
    weighted = weights = 0.0
    for subject, ref in reference.items():
        score, maximum = scores.get(subject), maxima.get(subject, 0.0)
        if score is None or maximum <= 0:
            continue
        weighted += maximum * (1 - min(1.0, abs(score.points - ref.points) / maximum))
        weights += maximum
    return weighted / weights if weights else None


@dataclass
class RaterReport:
    rater: str
    subjects: int
    alignment: float | None
    agreement: float | None  # share of subjects with the same verdict as the reference (or consensus)
    kappa: float | None
    kappa_against: str
    kappa_shown: bool


@dataclass
class ItemReport:
    item_id: str
    subjects: int
    agreement: float | None  # mean over calls of the largest verdict's share among analysts
    consensus_rate: float  # share of calls with a consensus
    auto_agreement: float | None  # share of consensus calls where the auto-scorer gave the consensus


@dataclass
class Report:
    analysts: list[RaterReport]
    items: list[ItemReport]
    fleiss_kappa: float | None
    auto_scorer: RaterReport | None
    session_agreement: float | None
    subjects: int
    notes: list[str] = field(default_factory=list)


def rater_report(
    rater: str,
    scores: Mapping[Subject, Score],
    target: Mapping[Subject, str],
    against: str,
    reference: Mapping[Subject, Score],
    maxima: Mapping[Subject, float],
) -> RaterReport:
    common = sorted(s for s in target if s in scores)
    mine = [scores[s].result for s in common]
    theirs = [target[s] for s in common]
    agreed = sum(a == b for a, b in zip(mine, theirs, strict=True))
    kappa = cohen(mine, theirs) if len(common) >= MIN_KAPPA_SUBJECTS else None
    return RaterReport(
        rater=rater,
        subjects=len(common),
        alignment=alignment(scores, reference, maxima) if reference else None,
        agreement=agreed / len(common) if common else None,
        kappa=kappa,
        kappa_against=against,
        kappa_shown=len(common) >= MIN_KAPPA_SUBJECTS,
    )


def report(
    analysts: Mapping[str, Mapping[Subject, Score]],
    reference: Mapping[Subject, Score],
    auto: Mapping[Subject, Score],
    maxima: Mapping[Subject, float],
) -> Report:
    """The session's agreement. `analysts`: each submitted analyst's scores; `reference`: the lead's."""
    subjects = sorted({s for scores in analysts.values() for s in scores})
    verdicts: dict[Subject, list[str]] = {s: [a[s].result for a in analysts.values() if s in a] for s in subjects}
    agreed_by = {s: consensus(v) for s, v in verdicts.items()}
    if reference:
        target = {s: r.result for s, r in reference.items()}
        against = "reference"
    else:
        target = {s: c for s, c in agreed_by.items() if c is not None}
        against = "consensus"
    raters = [
        rater_report(name, scores, target, against, reference, maxima) for name, scores in sorted(analysts.items())
    ]
    # Fleiss: the subjects every analyst scored
    complete = [s for s in subjects if len(verdicts[s]) == len(analysts)]
    fleiss_value = fleiss([verdicts[s] for s in complete]) if len(analysts) >= 2 else None
    human_consensus = {s: c for s, c in agreed_by.items() if c is not None}
    auto_report = (
        rater_report("auto", auto, human_consensus, "consensus", reference, maxima)
        if auto and human_consensus
        else None
    )
    per_item: dict[str, list[Subject]] = defaultdict(list)
    for s in subjects:
        per_item[s[1]].append(s)
    items = []
    for item_id, item_subjects in sorted(per_item.items()):
        shares = [Counter(verdicts[s]).most_common(1)[0][1] / len(verdicts[s]) for s in item_subjects if verdicts[s]]
        with_consensus = [s for s in item_subjects if agreed_by[s] is not None]
        auto_seen = [s for s in with_consensus if s in auto]
        items.append(
            ItemReport(
                item_id=item_id,
                subjects=len(item_subjects),
                agreement=sum(shares) / len(shares) if shares else None,
                consensus_rate=len(with_consensus) / len(item_subjects),
                auto_agreement=(
                    sum(auto[s].result == agreed_by[s] for s in auto_seen) / len(auto_seen) if auto_seen else None
                ),
            )
        )
    notes = []
    if any(not r.kappa_shown for r in raters):
        notes.append(f"Cohen's κ is shown from {MIN_KAPPA_SUBJECTS} scored items against the {against}")
    agreements = [i.agreement for i in items if i.agreement is not None]
    return Report(
        analysts=raters,
        items=items,
        fleiss_kappa=fleiss_value,
        auto_scorer=auto_report,
        session_agreement=sum(agreements) / len(agreements) if agreements else None,
        subjects=len(subjects),
        notes=notes,
    )
