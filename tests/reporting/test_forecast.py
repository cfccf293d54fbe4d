"""The forecast's prediction interval covers a known synthetic trend; short histories are flagged."""

from __future__ import annotations

import numpy as np

from reporting.forecast import forecast_pass_rate


def test_prediction_intervals_cover_a_known_trend_about_as_often_as_they_say() -> None:
    rng = np.random.default_rng(17)
    covered, trials = 0, 400
    for _ in range(trials):
        truth = 0.6 + 0.02 * np.arange(13)  # a steady improvement, 2 points a period
        observed = truth + rng.normal(0, 0.03, size=13)
        forecast = forecast_pass_rate([(float(r), 500) for r in observed[:12]])
        assert forecast.available and not forecast.low_confidence
        assert forecast.lower is not None and forecast.upper is not None
        covered += forecast.lower <= observed[12] <= forecast.upper
    assert 0.9 <= covered / trials <= 0.99  # nominal 95 %


def test_a_short_history_is_low_confidence_and_too_short_gives_none() -> None:
    short = forecast_pass_rate([(0.8, 100), (0.82, 100), (0.84, 100), (0.86, 120)])
    assert short.available and short.low_confidence
    assert short.pass_rate is not None and 0.86 < short.pass_rate < 0.9
    none = forecast_pass_rate([(0.8, 100), (0.0, 0), (0.9, 100)])
    assert not none.available and none.periods_used == 2 and "3" in none.explanation


def test_the_interval_stays_within_zero_and_one() -> None:
    forecast = forecast_pass_rate([(0.97, 50), (0.99, 50), (1.0, 50), (1.0, 50), (0.98, 50), (1.0, 50)])
    assert forecast.upper is not None and forecast.upper <= 1.0
