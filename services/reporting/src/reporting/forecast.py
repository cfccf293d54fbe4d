"""Next period's pass rate from the previous periods' pass rates: a linear trend fitted by statsmodels
(weighted least squares, each period weighted by its number of calls) and its prediction interval
(`obs_ci`: the interval for one new period's value, not only for the trend line).

Seed 004 asks for "与下月指标作出质量趋势预测分析"; no product documents one (anchors §6). With fewer
than `MIN_PERIODS` periods there is no forecast; with fewer than `CONFIDENT_PERIODS` it is flagged
low-confidence, and so is one whose interval is wider than `WIDE_INTERVAL`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import statsmodels.api as sm

MIN_PERIODS = 3
CONFIDENT_PERIODS = 6
WIDE_INTERVAL = 0.3


def clip(value: float) -> float:
    """A pass rate lives in [0, 1]."""
    return min(1.0, max(0.0, value))


METHOD = "statsmodels WLS linear trend, prediction interval for the next period"


@dataclass(frozen=True)
class Forecast:
    available: bool
    pass_rate: float | None
    lower: float | None
    upper: float | None
    confidence_level: float
    periods_used: int
    low_confidence: bool
    method: str
    explanation: str


def forecast_pass_rate(history: Sequence[tuple[float, int]], confidence_level: float = 0.95) -> Forecast:
    """`history`: (pass rate, calls) per period, oldest first; periods without calls are left out."""
    points = [(rate, calls) for rate, calls in history if calls > 0]
    if len(points) < MIN_PERIODS:
        return Forecast(
            available=False,
            pass_rate=None,
            lower=None,
            upper=None,
            confidence_level=confidence_level,
            periods_used=len(points),
            low_confidence=True,
            method=METHOD,
            explanation=f"需要至少 {MIN_PERIODS} 个有数据的周期 / needs at least {MIN_PERIODS} periods with calls "
            f"(found {len(points)})",
        )
    rates = np.array([rate for rate, _ in points], dtype=float)
    weights = np.array([calls for _, calls in points], dtype=float)
    t = np.arange(len(points), dtype=float)
    design = sm.add_constant(t)
    fitted = sm.WLS(rates, design, weights=weights / weights.mean()).fit()
    following = np.array([[1.0, float(len(points))]])
    frame = fitted.get_prediction(following, weights=1.0).summary_frame(alpha=1 - confidence_level)
    mean = float(frame["mean"].iloc[0])
    lower = float(frame["obs_ci_lower"].iloc[0])
    upper = float(frame["obs_ci_upper"].iloc[0])
    if not np.isfinite(lower) or not np.isfinite(upper):  # a perfect fit on three points: no spread to go on
        lower = upper = mean
    low_confidence = len(points) < CONFIDENT_PERIODS or (upper - lower) > WIDE_INTERVAL
    return Forecast(
        available=True,
        pass_rate=clip(mean),
        lower=clip(lower),
        upper=clip(upper),
        confidence_level=confidence_level,
        periods_used=len(points),
        low_confidence=low_confidence,
        method=METHOD,
        explanation=(
            f"历史较短或波动较大，仅供参考 / low confidence: {len(points)} periods of history"
            if low_confidence
            else f"基于 {len(points)} 个周期 / based on {len(points)} periods"
        ),
    )
