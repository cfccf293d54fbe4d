"""Every download opens: XLSX parsed back, PDF rendered to an image with its CJK text and embedded font,
HTML with its charts, CSV read back."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any

import pypdfium2
import pytest
from openpyxl import load_workbook

from callqa.db import Database
from callqa.events import ItemResult
from reporting.config import MIGRATIONS_DIR
from reporting.periods import PeriodKind
from reporting.render import Format, render
from reporting.reports import ReportType
from reporting.rollups import from_reviewed, from_scored
from reporting.runs import ReportRuns
from reporting.store import RollupStore
from tests.reporting.helpers import ZONE, reviewed, scored


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('exports') / 'r.db'}")
    db.migrate(MIGRATIONS_DIR)
    store = RollupStore(db)
    events = [
        scored(
            agent_id=f"坐席-{n % 4}",
            group=["账单组", "宽带组"][n % 2],
            started_at=datetime(2026, 11, 1 + n % 20, 3, tzinfo=UTC),
            failed=("opening",) if n % 3 == 0 else ("forbidden_phrases",) if n % 7 == 0 else (),
        )
        for n in range(60)
    ]
    store.record([from_scored(e, ZONE) for e in events])
    changes = {"opening": ItemResult.passed, "closing": ItemResult.failed}
    appeals = [from_reviewed(reviewed(e, 2, changes, cause="appeal"), ZONE) for e in events[:9]]
    store.record([a for a in appeals if a is not None])
    runs = ReportRuns(db, store, ZONE)
    november = date(2026, 11, 1)
    made = {
        "monthly": runs.run(runs.definition(PeriodKind.monthly, november), "qa").result,
        "daily": runs.run(runs.definition(PeriodKind.daily, date(2026, 11, 2)), "qa").result,
        "empty": runs.run(runs.definition(PeriodKind.weekly, date(2026, 1, 5)), "qa").result,
        "cases": runs.run(runs.definition(PeriodKind.monthly, november, report=ReportType.case_analysis), "qa").result,
        "agreement": runs.run(runs.definition(PeriodKind.monthly, november, report=ReportType.agreement), "qa").result,
    }
    db.dispose()
    return {k: v for k, v in made.items() if v is not None}


@pytest.mark.parametrize("name", ["monthly", "daily", "empty"])
def test_xlsx_parses_back_with_the_figures(reports: dict[str, dict[str, Any]], name: str) -> None:
    report = reports[name]
    book = load_workbook(io.BytesIO(render(report, Format.xlsx)))
    summary = book.worksheets[0]
    values = [[c.value for c in row] for row in summary.iter_rows()]
    assert "质量报告" in str(values[0][0]) or "监听明细" in str(values[0][0])
    header = next(row for row in values if row[0] == "监听总量 / Calls monitored")
    figures = values[values.index(header) + 1]
    assert figures[0] == report["summary"]["calls"]
    if name == "empty":
        assert "no evaluated calls" in str(values[1][0])


def test_pdf_renders_with_embedded_cjk_font_and_chinese_text(reports: dict[str, dict[str, Any]]) -> None:
    data = render(reports["monthly"], Format.pdf)
    assert b"/FontFile2" in data  # the TrueType font program is embedded (subset), not referenced
    document = pypdfium2.PdfDocument(data)
    text = "".join(document[n].get_textpage().get_text_range() for n in range(len(document)))
    assert "每月质量报告" in text and "账单组" in text and "Monthly quality report" in text
    image = document[0].render(scale=1).to_pil().convert("L")
    document.close()
    dark = sum(1 for pixel in image.tobytes() if pixel < 128)  # mode L: a byte a pixel
    assert dark > 2000, "the page rendered blank"
    # The title's glyphs are drawn: the band where it sits has ink.
    top = image.crop((0, 0, image.width, image.height // 4))
    assert sum(1 for pixel in top.tobytes() if pixel < 128) > 100


def test_html_has_its_charts_and_bilingual_labels(reports: dict[str, dict[str, Any]]) -> None:
    html = render(reports["monthly"], Format.html).decode()
    assert html.count("<svg") == 2 and 'id="chart-trend"' in html and 'id="chart-groups"' in html
    assert "合格率 / Pass rate" in html and "账单组" in html
    empty = render(reports["empty"], Format.html).decode()
    assert 'class="empty"' in empty and "no evaluated calls" in empty


def test_csv_reads_back_including_the_daily_detail(reports: dict[str, dict[str, Any]]) -> None:
    text = render(reports["daily"], Format.csv).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0].startswith("每日监听明细 / Daily monitoring detail")
    detail = reports["daily"]["detail"]["rows"]
    ids = {row[-1] for row in rows if row}
    assert detail and all(call["evaluation_id"] in ids for call in detail)


@pytest.mark.parametrize(("name", "title"), [("cases", "案例分析"), ("agreement", "校准与自动评分一致性")])
def test_case_analysis_and_agreement_downloads_open(reports: dict[str, dict[str, Any]], name: str, title: str) -> None:
    report = reports[name]
    assert not report["empty"]
    book = load_workbook(io.BytesIO(render(report, Format.xlsx)))
    values = [[c.value for c in row] for sheet in book.worksheets for row in sheet.iter_rows()]
    assert title in str(values[0][0])
    document = pypdfium2.PdfDocument(render(report, Format.pdf))
    text = "".join(document[n].get_textpage().get_text_range() for n in range(len(document)))
    document.close()
    assert title in text
    html = render(report, Format.html).decode()
    if name == "cases":
        appealed = next(c for c in report["cases"] if c["category"] == "overturned_on_appeal")
        assert f'href="{appealed["links"]["evaluation"]}"' in html and "申诉改判" in html
        assert any(row[0] == "自动否决 / Auto-failed" for row in values if row)
    else:
        assert 'id="chart-agreement"' in html and "<svg" in html
        opening = next(i for i in report["items"] if i["item_id"] == "opening")
        assert opening["auto_stricter"] + opening["agreed"] == opening["items_compared"]
    rows = list(csv.reader(io.StringIO(render(report, Format.csv).decode("utf-8-sig"))))
    assert title in rows[0][0]
