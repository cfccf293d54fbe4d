"""Page parts without a browser: the dashboard's SVG charts from a report's JSON (the forecast and its interval
included, which the browser test's single month cannot show), an error's path found in the scorecard document, and
both languages having every string."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from console.api.reports import charts
from console.charts import bar_chart, trend_chart
from console.config import MIGRATIONS_DIR, Settings
from console.i18n import EN, ZH, translate
from console.main import create_app
from console.paths import layout, line_of, steps
from console.web import templates
from fastapi.testclient import TestClient

from callqa.db import Database

RESULT: dict[str, Any] = {
    "summary": {
        "calls": 40,
        "pass_rate": 0.75,
        "average_score": 81.5,
        "problems": {"A": 2, "B": 5, "C": 0},
        "by_source": {"auto": 30, "human": 10},
    },
    "comparison": {"problems": {"A": {"now": 2, "before": 4}, "B": {"now": 5, "before": 1}, "C": {"now": 0}}},
    "groups": [{"group": "billing", "calls": 30, "pass_rate": 0.8}, {"group": "售后", "calls": 10, "pass_rate": 0.6}],
    "top_failed_items": [{"section": "service", "item_id": "closing", "failed": 7, "failure_rate": 0.175}],
    "trend": [
        {"period": "2026-08", "calls": 20, "pass_rate": 0.6},
        {"period": "2026-09", "calls": 0, "pass_rate": None},
        {"period": "2026-10", "calls": 25, "pass_rate": 0.7},
        {"period": "2026-11", "calls": 40, "pass_rate": 0.75},
    ],
    "forecast": {
        "available": True,
        "pass_rate": 0.8,
        "lower": 0.65,
        "upper": 0.95,
        "confidence_level": 0.95,
        "low_confidence": True,
        "period": "2026-12",
        "explanation": "low confidence: 3 periods of history",
    },
}


def test_the_trend_chart_draws_each_period_with_calls_then_the_forecast_and_its_interval() -> None:
    chart = trend_chart(RESULT["trend"], RESULT["forecast"], width=520, height=240)
    assert [p.label for p in chart.points] == ["2026-08", "2026-10", "2026-11"], "a month without calls has no point"
    assert [p.label for p in chart.labels] == ["2026-08", "2026-09", "2026-10", "2026-11", "2026-12"]
    assert chart.forecast is not None and chart.interval is not None
    assert chart.interval.high < chart.forecast.y < chart.interval.low, "SVG's y grows downwards"
    assert chart.points[0].y > chart.points[-1].y, "a higher pass rate is drawn higher"
    assert chart.forecast.x > chart.points[-1].x
    assert trend_chart(RESULT["trend"], {"available": False}).forecast is None


def test_bars_are_scaled_to_the_largest_or_to_a_given_maximum() -> None:
    counts = bar_chart([("A", 2, "2"), ("B", 4, "4"), ("C", 0, "0")], width=400, label_width=90)
    assert counts.bars[1].width == 2 * counts.bars[0].width > 0 == counts.bars[2].width
    rates = bar_chart([("x", 0.5, "50%")], maximum=1.0, width=400, label_width=90)
    assert rates.bars[0].width == pytest.approx((400 - 90 - 110) / 2)
    assert bar_chart([("none", 0, "0")]).bars[0].width == 0


def test_the_dashboard_renders_every_chart_and_the_forecast_in_both_languages() -> None:
    run = {
        "id": "r-1",
        "kind": "monthly",
        "period_first": "2026-11-01",
        "period_last": "2026-11-30",
        "definition": {"group": "billing", "time_zone": "Asia/Shanghai"},
    }
    user = SimpleNamespace(subject="qa", roles=["qa_analyst"], is_staff=True, csrf="c")
    request = SimpleNamespace(url=SimpleNamespace(path="/reports/r-1"))
    for lang in ("en", "zh"):
        html = templates.get_template("report.html").render(
            request=request,
            user=user,
            lang=lang,
            t=lambda key, lang=lang: translate(lang, key),
            run=run,
            result=RESULT,
            charts=charts(RESULT),
        )
        for chart in ("chart-trend", "chart-groups", "chart-problems", "chart-items", "chart-sources"):
            assert f'data-testid="{chart}"' in html
        assert 'data-testid="forecast-interval"' in html and 'data-testid="forecast-point"' in html
        assert "65.0% – 95.0%" in html and "售后" in html
    assert "预测" in html and "合格率趋势与预测" in html


def test_an_errors_path_is_found_in_the_document_as_the_editor_lays_it_out() -> None:
    document = {"id": "c", "sections": [{"id": "s", "items": [{"id": "a", "points": -5}, {"id": "b"}]}], "中": None}
    text, where = layout(document)
    assert text == json.dumps(document, ensure_ascii=False, indent=2)
    lines = text.split("\n")
    assert lines[line_of(where, "sections[0].items[0].points") - 1].strip() == '"points": -5'
    assert lines[line_of(where, "sections[0].items[1].condition.pattern") - 1].strip() == "{", "missing: its parent"
    assert line_of(where, "scorecard") == 1
    assert steps("sections[1].items[3].condition.pattern") == ["sections", 1, "items", 3, "condition", "pattern"]


def test_every_string_is_in_both_languages() -> None:
    assert EN.keys() == ZH.keys()
    assert all(ZH[key].strip() for key in ZH)


def test_the_editor_says_why_a_chosen_call_cannot_be_dry_run(tmp_path: Path) -> None:
    """A call recorder-ingest refuses, and one without a transcript in the index: errors in the editor, draft kept."""
    version = {"id": "c1", "version": 1, "name": "card", "document": {"id": "c1", "sections": []}}

    def upstream(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v1/scorecards/c1/versions":
            return httpx.Response(200, json=[version])
        if path == "/v1/recordings/theirs":
            return httpx.Response(403, json={"title": "Forbidden", "detail": "not your call"})
        if path == "/v1/recordings/silent":
            return httpx.Response(200, json={"id": "silent"})
        return httpx.Response(404, json={"title": "Not Found"})

    url = f"sqlite:///{tmp_path / 'console.db'}"
    Database(url).migrate(MIGRATIONS_DIR)
    app = create_app(Settings(database_url=url, auth={"jwt_secret": "s" * 40}))
    app.state.users.add("lin", "a long password", ["qa_analyst"])
    app.state.upstream.client = httpx.AsyncClient(transport=httpx.MockTransport(upstream))
    client = TestClient(app)
    pre = client.get("/login").cookies.get("callqa_signin") or ""
    client.post("/login", data={"username": "lin", "password": "a long password", "pre": pre})
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/scorecards/c1").text)
    assert csrf is not None
    form = {"csrf": csrf[1], "action": "dry-run", "document": '{"id": "c1", "sections": []}'}
    refused = client.post("/scorecards/c1", data=form | {"call": "theirs"})
    assert refused.status_code == 422 and "not your call" in refused.text and "&#34;c1&#34;" in refused.text
    silent = client.post("/scorecards/c1", data=form | {"call": "silent"})
    assert silent.status_code == 422 and "silent: no transcript of this call yet" in silent.text
