"""A computed report as a file: HTML with charts, CSV, XLSX, PDF (CJK font embedded). Labels in Chinese
and English. Every renderer reads only the stored result, so a download shows the frozen numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
from jinja2 import Environment, PackageLoader, select_autoescape
from matplotlib import font_manager
from matplotlib import pyplot as plt
from openpyxl import Workbook

matplotlib.rcParams["axes.unicode_minus"] = False  # the CJK font has no U+2212: negative ticks would be boxes

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # Debian fonts-wqy-zenhei: TrueType outlines, embeddable
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)


class Format(StrEnum):
    html = "html"
    csv = "csv"
    xlsx = "xlsx"
    pdf = "pdf"


MEDIA_TYPES = {
    Format.html: "text/html; charset=utf-8",
    Format.csv: "text/csv; charset=utf-8",
    Format.xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    Format.pdf: "application/pdf",
}

LABELS = {
    "daily": "每日监听明细 / Daily monitoring detail",
    "weekly": "每周质量报告 / Weekly quality report",
    "monthly": "每月质量报告 / Monthly quality report",
    "calls": "监听总量 / Calls monitored",
    "auto": "自动质检 / Auto",
    "human": "人工复核 / Human",
    "pass_rate": "合格率 / Pass rate",
    "average_score": "平均分 / Average score",
    "problems": "ABC类问题 / A/B/C problems",
    "group": "ACD组 / Group",
    "previous": "上期 / Previous",
    "change": "变化 / Change",
    "top_items": "突出问题 / Top failed items",
    "item": "项目 / Item",
    "failure_rate": "失败率 / Failure rate",
    "spread": "共性/个性 / Common or individual",
    "last_problems": "上期问题改进 / Last period's problems",
    "forecast": "下期趋势预测 / Forecast for next period",
    "cases": "典型案例 / Notable cases",
    "advice": "培训意见 / Training advice",
    "attention": "需关注坐席 / Agents needing attention",
    "detail": "监听明细 / Evaluated calls",
    "agent": "坐席 / Agent",
    "score": "得分 / Score",
    "result": "结果 / Result",
    "failed_items": "失败项目 / Failed items",
    "reviewer": "评分人 / Reviewer",
    "pending": "待辅导服务数据 / Awaiting coaching data",
    "trend": "合格率趋势 / Pass-rate trend",
    "empty": "空报告 / Empty report",
    "case_analysis": "案例分析 / Case analysis",
    "agreement": "校准与自动评分一致性 / Calibration and auto-scorer agreement",
    "human_review": "人工复核 / Human reviews",
    "agreement_rate": "一致率 / Agreement",
    "auto_stricter": "自动偏严 / Scorer stricter",
    "auto_lenient": "自动偏松 / Scorer more lenient",
    "compared": "对比项次 / Items compared",
    "reviews": "复核份数 / Human versions",
    "auto_failed": "自动否决 / Auto-failed",
    "lowest_score": "最低分 / Lowest score",
    "overturned_on_appeal": "申诉改判 / Overturned on appeal",
    "overridden_by_reviewer": "复核改分 / Overridden by reviewer",
    "category": "类别 / Category",
    "reasons": "原因 / Reasons",
    "recording": "录音 / Recording",
    "queue": "队列 / Queue",
}
KIND_LABELS = {"daily": "每日 / Daily", "weekly": "每周 / Weekly", "monthly": "每月 / Monthly"}


def title_of(report: dict[str, Any]) -> str:
    kind = report.get("report", "quality")
    if kind == "quality":
        return f"{LABELS[report['kind']]} — {report['period']['label']}"
    return f"{LABELS[kind]} ({KIND_LABELS[report['kind']]}) — {report['period']['label']}"


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


@cache
def cjk_font_path() -> Path:
    for candidate in FONT_CANDIDATES:
        if Path(candidate).exists():
            return Path(candidate)
    found = [f for f in font_manager.findSystemFonts() if "wqy" in f.lower() or "uming" in f.lower()]
    if not found:
        raise RuntimeError("no CJK TrueType font: install fonts-wqy-zenhei (./run setup does)")
    return Path(found[0])


@cache
def _chart_font() -> font_manager.FontProperties:
    path = cjk_font_path()
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path))


def charts(report: dict[str, Any], fmt: str = "svg") -> dict[str, bytes]:
    """Quality: pass-rate trend with the forecast, and pass rate per group. Agreement: agreement per item."""
    kind = report.get("report", "quality")
    if kind == "agreement":
        return agreement_chart(report, fmt)
    if kind != "quality":
        return {}
    font = _chart_font()
    out: dict[str, bytes] = {}
    figure, axes = plt.subplots(figsize=(7, 3))
    trend = report["trend"]
    xs = list(range(len(trend)))
    axes.plot(xs, [t["pass_rate"] if t["pass_rate"] is not None else float("nan") for t in trend], marker="o")
    forecast = report["forecast"]
    if forecast["available"]:
        nxt = len(trend)
        axes.errorbar(
            [nxt],
            [forecast["pass_rate"]],
            yerr=[[forecast["pass_rate"] - forecast["lower"]], [forecast["upper"] - forecast["pass_rate"]]],
            fmt="s",
            color="tab:orange",
            capsize=4,
        )
    axes.set_title(LABELS["trend"], fontproperties=font)
    axes.set_ylim(0, 1)
    axes.set_xticks(xs, [t["first"][5:] for t in trend], fontsize=7, rotation=45)
    figure.tight_layout()
    out["trend"] = _save(figure, fmt)
    figure, axes = plt.subplots(figsize=(7, 3))
    groups = report["groups"][:20]
    axes.bar([g["group"] or "—" for g in groups], [g["pass_rate"] or 0 for g in groups], color="tab:green")
    axes.set_title(f"{LABELS['group']} {LABELS['pass_rate']}", fontproperties=font)
    axes.set_ylim(0, 1)
    for label in axes.get_xticklabels():
        label.set_fontproperties(font)
        label.set_fontsize(7)
    figure.tight_layout()
    out["groups"] = _save(figure, fmt)
    return out


def agreement_chart(report: dict[str, Any], fmt: str) -> dict[str, bytes]:
    if not report["items"]:
        return {}
    font = _chart_font()
    figure, axes = plt.subplots(figsize=(7, 3))
    items = report["items"][:20]
    axes.bar([i["item_id"] for i in items], [i["agreement_rate"] or 0 for i in items], color="tab:blue")
    axes.set_title(LABELS["agreement_rate"], fontproperties=font)
    axes.set_ylim(0, 1)
    for label in axes.get_xticklabels():
        label.set_fontproperties(font)
        label.set_fontsize(7)
        label.set_rotation(30)
    figure.tight_layout()
    return {"agreement": _save(figure, fmt)}


def _save(figure: Any, fmt: str) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, dpi=110)
    plt.close(figure)
    return buffer.getvalue()


_templates = Environment(loader=PackageLoader("reporting", "templates"), autoescape=select_autoescape(["html"]))


def to_html(report: dict[str, Any]) -> bytes:
    svgs = {name: data.decode() for name, data in charts(report, "svg").items()}
    if report.get("report", "quality") == "quality":
        template = _templates.get_template("report.html")
        return template.render(report=report, labels=LABELS, title=title_of(report), charts=svgs, pct=pct).encode()
    template = _templates.get_template("tables.html")
    return template.render(
        report=report, labels=LABELS, title=title_of(report), charts=svgs, tables=list(table_rows(report))
    ).encode()


def table_rows(report: dict[str, Any]) -> Iterator[tuple[str, list[list[Any]]]]:
    """The report as named tables of cells: what CSV, XLSX and PDF lay out."""
    kind = report.get("report", "quality")
    if kind == "agreement":
        yield from agreement_rows(report)
        return
    if kind == "case_analysis":
        yield from case_rows(report)
        return
    yield from quality_rows(report)


def agreement_rows(report: dict[str, Any]) -> Iterator[tuple[str, list[list[Any]]]]:
    summary = report["summary"]
    head = [LABELS["compared"], LABELS["agreement_rate"], LABELS["auto_stricter"], LABELS["auto_lenient"]]

    def figures(row: dict[str, Any]) -> list[Any]:
        return [row["items_compared"], pct(row["agreement_rate"]), row["auto_stricter"], row["auto_lenient"]]

    yield (
        LABELS["agreement"],
        [
            [LABELS["reviews"], "calibration", *head],
            [summary["versions"]["human"], summary["versions"]["calibration"], *figures(summary)],
        ],
    )
    yield (
        LABELS["item"],
        [[LABELS["item"], "A/B/C", *head, LABELS["previous"], LABELS["change"]]]
        + [
            [
                f"{i['section']}/{i['item_id']}",
                i["severity"] or "",
                *figures(i),
                pct(i["previous_agreement_rate"]),
                pct(i["agreement_rate_change"]),
            ]
            for i in report["items"]
        ],
    )
    yield (LABELS["group"], [[LABELS["group"], *head]] + [[g["group"] or "—", *figures(g)] for g in report["groups"]])


def case_rows(report: dict[str, Any]) -> Iterator[tuple[str, list[list[Any]]]]:
    summary = report["summary"]
    categories = ("auto_failed", "lowest_score", "overturned_on_appeal", "overridden_by_reviewer")
    yield (LABELS["case_analysis"], [[LABELS[c] for c in categories], [summary[c] for c in categories]])
    yield (
        LABELS["cases"],
        [
            [
                LABELS["category"],
                LABELS["agent"],
                LABELS["group"],
                LABELS["queue"],
                "started_at",
                LABELS["score"],
                LABELS["result"],
                LABELS["reasons"],
                LABELS["failed_items"],
                "evaluation",
                LABELS["recording"],
            ]
        ]
        + [
            [
                LABELS[c["category"]],
                c["agent_id"],
                c["group"],
                c["queue"],
                c["started_at"],
                c["score"],
                "pass" if c["passed"] else "fail",
                "; ".join(c["reasons"]),
                ", ".join(i["item_id"] for i in c["failed_items"]),
                c["links"]["evaluation"],
                c["links"]["recording"],
            ]
            for c in report["cases"]
        ],
    )


def quality_rows(report: dict[str, Any]) -> Iterator[tuple[str, list[list[Any]]]]:
    summary = report["summary"]
    yield (
        LABELS["calls"],
        [
            [
                LABELS["calls"],
                LABELS["auto"],
                LABELS["human"],
                LABELS["pass_rate"],
                LABELS["average_score"],
                "A",
                "B",
                "C",
            ],
            [
                summary["calls"],
                summary["by_source"]["auto"],
                summary["by_source"]["human"],
                pct(summary["pass_rate"]),
                summary["average_score"],
                summary["problems"]["A"],
                summary["problems"]["B"],
                summary["problems"]["C"],
            ],
        ],
    )
    yield (
        LABELS["group"],
        [[LABELS["group"], LABELS["calls"], LABELS["pass_rate"], LABELS["previous"], LABELS["change"], "A", "B", "C"]]
        + [
            [
                g["group"] or "—",
                g["calls"],
                pct(g["pass_rate"]),
                pct(g["previous_pass_rate"]),
                pct(g["pass_rate_change"]),
                g["problems"]["A"],
                g["problems"]["B"],
                g["problems"]["C"],
            ]
            for g in report["groups"]
        ],
    )
    yield (
        LABELS["top_items"],
        [[LABELS["item"], "severity", LABELS["failure_rate"], LABELS["previous"], LABELS["spread"], "agents"]]
        + [
            [
                f"{i['section']}/{i['item_id']}",
                i["severity"] or "",
                pct(i["failure_rate"]),
                pct(i["previous_failure_rate"]),
                i["spread"],
                f"{i['agents_failed']}/{i['agents_evaluated']}",
            ]
            for i in report["top_failed_items"]
        ],
    )
    yield (
        LABELS["last_problems"],
        [[LABELS["item"], LABELS["previous"], LABELS["failure_rate"], LABELS["change"]]]
        + [
            [f"{p['section']}/{p['item_id']}", pct(p["failure_rate_before"]), pct(p["failure_rate_now"]), p["verdict"]]
            for p in report["last_period_problems"]
        ],
    )
    f = report["forecast"]
    yield (
        LABELS["forecast"],
        [
            [f["period"], LABELS["pass_rate"], "lower", "upper", "low confidence", "explanation"],
            ["", pct(f["pass_rate"]), pct(f["lower"]), pct(f["upper"]), f["low_confidence"], f["explanation"]],
        ],
    )
    yield (LABELS["advice"], [[LABELS["advice"]]] + [[a["advice"]] for a in report["training_advice"]])
    human = report.get("human_review")
    if human is not None:  # runs stored before human versions were counted have none
        agreement = human["agreement"]
        names = ("human", "pass_rate", "agreement_rate", "auto_stricter", "auto_lenient")
        values = (human["calls"], pct(human["pass_rate"]), pct(agreement["agreement_rate"]))
        yield (
            LABELS["human_review"],
            [[LABELS[n] for n in names], [*values, agreement["auto_stricter"], agreement["auto_lenient"]]],
        )
    detail = report.get("detail", {}).get("rows") or report["notable_cases"]
    yield (
        LABELS["detail"] if "detail" in report else LABELS["cases"],
        [
            [
                LABELS["agent"],
                LABELS["group"],
                "started_at",
                LABELS["score"],
                LABELS["result"],
                LABELS["failed_items"],
                LABELS["reviewer"],
                "evaluation",
            ]
        ]
        + [
            [
                c["agent_id"],
                c["group"],
                c["started_at"],
                c["score"],
                "pass" if c["passed"] else "fail",
                ", ".join(i["item_id"] for i in c["failed_items"]),
                c["reviewer"],
                c["evaluation_id"],
            ]
            for c in detail
        ],
    )


def to_csv(report: dict[str, Any]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([title_of(report)])
    if report["empty"]:
        writer.writerow([LABELS["empty"], report["explanation"]])
    for name, rows in table_rows(report):
        writer.writerow([])
        writer.writerow([name])
        writer.writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode()  # BOM: Excel opens UTF-8 Chinese correctly


def to_xlsx(report: dict[str, Any]) -> bytes:
    book = Workbook()
    first = book.active
    assert first is not None
    book.remove(first)
    for index, (name, rows) in enumerate(table_rows(report)):
        sheet = book.create_sheet(f"{index + 1} {name.split(' / ')[-1]}"[:31])
        sheet.append([title_of(report)])
        if report["empty"]:
            sheet.append([report["explanation"]])
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def to_pdf(report: dict[str, Any]) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    if "CJK" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("CJK", str(cjk_font_path()), subfontIndex=0))
    body = ParagraphStyle("body", fontName="CJK", fontSize=8, leading=10)
    heading = ParagraphStyle("heading", fontName="CJK", fontSize=11, leading=14, spaceBefore=6)
    title = ParagraphStyle("title", fontName="CJK", fontSize=15, leading=19)
    story: list[Any] = [Paragraph(title_of(report), title), Spacer(1, 4)]
    if report["empty"]:
        story.append(Paragraph(report["explanation"], body))
    for name, image in charts(report, "png").items():
        del name
        story.append(Image(io.BytesIO(image), width=170 * mm, height=73 * mm))
    for name, rows in table_rows(report):
        story.append(Paragraph(name, heading))
        cells = [[Paragraph(str(cell), body) for cell in row] for row in rows[:500]]
        table = Table(cells, repeatRows=1)
        table.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        story.append(table)
    if report.get("pending_sections"):
        pending = "; ".join(p["reason"] for p in report["pending_sections"].values())
        story += [Paragraph(LABELS["pending"], heading), Paragraph(pending, body)]
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=landscape(A4), title=title_of(report)).build(story)
    return buffer.getvalue()


RENDERERS = {Format.html: to_html, Format.csv: to_csv, Format.xlsx: to_xlsx, Format.pdf: to_pdf}


def render(report: dict[str, Any], fmt: Format) -> bytes:
    return RENDERERS[fmt](report)


def file_name(report: dict[str, Any], fmt: Format) -> str:
    kind = report.get("report", "quality")
    prefix = "callqa" if kind == "quality" else f"callqa-{kind.replace('_', '-')}"
    return f"{prefix}-{report['kind']}-{report['period']['first']}.{fmt.value}"
