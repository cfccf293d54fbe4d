"""Verified follow-up: did coaching work? Free of SQL and HTTP.

The unit is a call: it passes the focus items when none of them failed (calls where every focus item was not
applicable do not count). For one agent we compare the pass rate after coaching with before it:

- a minimum sample on both sides of the agent (`min_calls`), else `insufficient_data`;
- Fisher's exact test, one-sided (scipy): is the after rate above the before rate;
- the effect: the difference of the two rates with its 95 % Newcombe interval, and Cohen's h (statsmodels);
- the control: the rest of the agent's group over the same two windows, on the same items. Difference in
  differences on the pass rate (a linear probability model `passed ~ after * agent` with heteroscedasticity-robust
  HC3 errors, statsmodels OLS): the interaction is the agent's change beyond the group's, so a scorecard change
  or a seasonal effect that moves everyone is not mistaken for coaching.

Verdict: `improved` when the agent's test and the difference in differences are both significant (one-sided, at
`alpha`); `not_improved` otherwise; `insufficient_data` when either the agent or (with `require_control`) the group
lacks `min_calls` calls in a window.

Recurrence: later, the agent's pass rate in a recurrence window is compared with the after-coaching window
(Fisher, one-sided: lower?); `recurred` when it fell significantly, `None` with too few calls.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import statsmodels.api as sm
from pydantic import BaseModel, Field
from scipy.stats import fisher_exact, norm
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_effectsize

Verdict = Literal["improved", "not_improved", "insufficient_data"]


class FollowUpParams(BaseModel):
    min_calls: int = Field(10, ge=1, le=100_000, description="calls needed in each window (agent, and group)")
    alpha: float = Field(0.05, gt=0, lt=1, description="one-sided significance level of both tests")
    require_control: bool = Field(True, description="no verdict but insufficient_data without a comparison group")


@dataclass(frozen=True)
class Window:
    """Calls observed in a window: 1 = passed the focus items, 0 = failed one of them."""

    outcomes: tuple[int, ...]

    @classmethod
    def of(cls, outcomes: Sequence[bool | int]) -> Window:
        return cls(tuple(int(bool(x)) for x in outcomes))

    @property
    def calls(self) -> int:
        return len(self.outcomes)

    @property
    def passed(self) -> int:
        return sum(self.outcomes)

    @property
    def rate(self) -> float | None:
        return self.passed / self.calls if self.calls else None

    def summary(self) -> dict[str, Any]:
        return {"calls": self.calls, "passed": self.passed, "rate": _round(self.rate)}


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), digits)


def improved_p(before: Window, after: Window) -> float:
    """One-sided Fisher exact p-value that the after pass rate is above the before one."""
    table = [[after.passed, after.calls - after.passed], [before.passed, before.calls - before.passed]]
    return float(fisher_exact(table, alternative="greater").pvalue)


def effect(before: Window, after: Window) -> tuple[float, tuple[float, float], float]:
    """after - before, its 95 % Newcombe interval, and Cohen's h."""
    low, high = confint_proportions_2indep(
        after.passed, after.calls, before.passed, before.calls, method="newcomb", compare="diff"
    )
    h = proportion_effectsize(after.rate or 0.0, before.rate or 0.0)
    return (after.rate or 0.0) - (before.rate or 0.0), (float(low), float(high)), float(h)


def difference_in_differences(
    agent_before: Window, agent_after: Window, group_before: Window, group_after: Window
) -> dict[str, Any]:
    """OLS `passed ~ after + agent + after:agent` (HC3 errors): the interaction, its interval and one-sided p."""
    rows: list[tuple[int, int, int]] = []  # (passed, after, agent)
    for window, after, agent in (
        (agent_before, 0, 1),
        (agent_after, 1, 1),
        (group_before, 0, 0),
        (group_after, 1, 0),
    ):
        rows.extend((o, after, agent) for o in window.outcomes)
    data = np.array(rows, dtype=float)
    y, after_col, agent_col = data[:, 0], data[:, 1], data[:, 2]
    x = sm.add_constant(np.column_stack([after_col, agent_col, after_col * agent_col]), has_constant="add")
    estimate = (
        (agent_after.rate or 0.0)
        - (agent_before.rate or 0.0)
        - ((group_after.rate or 0.0) - (group_before.rate or 0.0))
    )
    if np.var(y) == 0:  # every call alike: nothing changed anywhere
        return {"estimate": 0.0, "ci": (0.0, 0.0), "p_value": 1.0}
    fit = sm.OLS(y, x).fit(cov_type="HC3")
    coefficient, se = float(fit.params[3]), float(fit.bse[3])
    low, high = (float(v) for v in fit.conf_int(alpha=0.05)[3])
    degenerate = not math.isfinite(se) or se == 0
    p = (0.0 if coefficient > 0 else 1.0) if degenerate else float(norm.sf(coefficient / se))
    return {"estimate": _round(estimate), "ci": (_round(low), _round(high)), "p_value": _round(p, 6)}


def verify(
    agent_before: Window,
    agent_after: Window,
    group_before: Window,
    group_after: Window,
    params: FollowUpParams,
) -> dict[str, Any]:
    """The verdict and its evidence (everything a coach or an auditor needs to re-check it)."""
    evidence: dict[str, Any] = {
        "before": agent_before.summary(),
        "after": agent_after.summary(),
        "group_before": group_before.summary(),
        "group_after": group_after.summary(),
        "params": params.model_dump(),
        "effect": None,
        "effect_ci": None,
        "cohens_h": None,
        "p_value": None,
        "difference_in_differences": None,
        "did_ci": None,
        "did_p_value": None,
        "reasons": [],
    }
    reasons: list[str] = evidence["reasons"]
    for name, window in (("before coaching", agent_before), ("after coaching", agent_after)):
        if window.calls < params.min_calls:
            reasons.append(f"the agent has {window.calls} calls {name}, fewer than {params.min_calls}")
    control = group_before.calls >= params.min_calls and group_after.calls >= params.min_calls
    if not control:
        reasons.append(
            f"the rest of the group has {group_before.calls} calls before and {group_after.calls} after,"
            f" fewer than {params.min_calls} in a window: no control"
        )
    if agent_before.calls < params.min_calls or agent_after.calls < params.min_calls:
        return {"verdict": "insufficient_data", **evidence}
    diff, ci, h = effect(agent_before, agent_after)
    p = improved_p(agent_before, agent_after)
    evidence |= {"effect": _round(diff), "effect_ci": (_round(ci[0]), _round(ci[1])), "cohens_h": _round(h)}
    evidence["p_value"] = _round(p, 6)
    if not control:
        if params.require_control:
            return {"verdict": "insufficient_data", **evidence}
        verdict: Verdict = "improved" if p < params.alpha else "not_improved"
        return {"verdict": verdict, **evidence}
    did = difference_in_differences(agent_before, agent_after, group_before, group_after)
    evidence |= {"difference_in_differences": did["estimate"], "did_ci": did["ci"], "did_p_value": did["p_value"]}
    if p >= params.alpha:
        reasons.append(f"the agent's pass rate did not rise significantly (p = {p:.3g})")
    if did["p_value"] >= params.alpha:
        reasons.append(
            f"the agent's change is not significantly beyond the group's (difference in differences"
            f" {did['estimate']:+.2f}, p = {did['p_value']:.3g})"
        )
    verdict = "improved" if p < params.alpha and did["p_value"] < params.alpha else "not_improved"
    return {"verdict": verdict, **evidence}


def recurrence(after: Window, later: Window, params: FollowUpParams) -> dict[str, Any]:
    """Did the problem come back? The later window against the after-coaching one."""
    out: dict[str, Any] = {"after": after.summary(), "later": later.summary(), "p_value": None, "recurred": None}
    if after.calls < params.min_calls or later.calls < params.min_calls:
        return out
    p = improved_p(later, after)  # after above later = the later rate fell
    out |= {"p_value": _round(p, 6), "recurred": p < params.alpha}
    return out
