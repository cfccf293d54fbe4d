"""Monthly report arithmetic, month over month; frozen definitions; the empty period explained."""

from __future__ import annotations

from datetime import UTC, date, datetime

from callqa.db import Database
from reporting.config import MIGRATIONS_DIR
from reporting.periods import PeriodKind
from reporting.rollups import from_scored
from reporting.runs import ReportRuns
from reporting.store import RollupStore, Scope
from tests.reporting.helpers import ZONE, scored


def month_of_calls(store: RollupStore, month: int, plan: dict[str, tuple[int, int]], failed_item: str) -> list[str]:
    """`plan`: group -> (calls, of which failed `failed_item`); the rest pass. Returns recording ids."""
    events = []
    for group, (calls, failing) in plan.items():
        for n in range(calls):
            events.append(
                scored(
                    agent_id=f"{group}-agent-{n % 3}",
                    group=group,
                    started_at=datetime(2026, month, 1 + n % 28, 4, tzinfo=UTC),
                    failed=(failed_item,) if n < failing else (),
                )
            )
    store.record([from_scored(e, ZONE) for e in events])
    return [e.recording_id for e in events]


def runs_on(store: RollupStore) -> ReportRuns:
    return ReportRuns(store.db, store, ZONE)


def test_monthly_report_month_over_month(store: RollupStore) -> None:
    # October: billing 10 calls, 4 fail identity (B: 80 %, still a pass); broadband 10, 5 forbidden (A: auto-fail)
    month_of_calls(store, 10, {"billing": (10, 4)}, "verify_identity")
    month_of_calls(store, 10, {"broadband": (10, 5)}, "forbidden_phrases")
    # November: billing 20 calls, 2 fail identity; broadband 10 calls, 1 forbidden phrase
    month_of_calls(store, 11, {"billing": (20, 2)}, "verify_identity")
    month_of_calls(store, 11, {"broadband": (10, 1)}, "forbidden_phrases")
    runs = runs_on(store)
    run = runs.run(runs.definition(PeriodKind.monthly, date(2026, 11, 15)), "qa-lin")
    report = run.result
    assert run.status == "done" and report is not None
    assert run.definition["scorecard_versions"] == {"default-zh": [1]}
    assert report["summary"]["calls"] == 30 and report["summary"]["by_source"] == {"auto": 30, "human": 0}
    assert report["summary"]["pass_rate"] == round(29 / 30, 4)
    assert report["summary"]["problems"] == {"A": 1, "B": 2, "C": 0}
    groups = {g["group"]: g for g in report["groups"]}
    assert groups["broadband"]["pass_rate"] == 0.9 and groups["broadband"]["previous_pass_rate"] == 0.5
    assert groups["broadband"]["pass_rate_change"] == 0.4
    assert groups["billing"]["pass_rate"] == 1.0 and groups["billing"]["previous_pass_rate"] == 1.0
    assert report["comparison"]["previous"]["pass_rate"] == 0.75
    assert report["comparison"]["pass_rate_change"] == round(29 / 30 - 0.75, 4)
    assert report["comparison"]["calls_change"] == 10
    assert report["comparison"]["problems"]["A"] == {"now": 1, "before": 5, "direction": "down"}
    assert report["comparison"]["problems"]["B"] == {"now": 2, "before": 4, "direction": "down"}
    top = {i["item_id"]: i for i in report["top_failed_items"]}
    # every call of both groups is scored on the item: 2 of 30 now, 4 of 20 before
    assert top["verify_identity"]["failure_rate"] == round(2 / 30, 4)
    assert top["verify_identity"]["previous_failure_rate"] == 0.2
    last = {p["item_id"]: p["verdict"] for p in report["last_period_problems"]}
    assert last == {"forbidden_phrases": "improved", "verify_identity": "improved"}
    assert [c["auto_failed"] for c in report["notable_cases"]] == [True]
    assert report["forecast"]["available"] is False  # two months of history are not enough
    assert set(report["pending_sections"]) == {"common_vs_individual", "training_plan", "coaching_effectiveness"}
    assert report["human_review"]["calls"] == 0 and report["human_review"]["agreement"]["agreement_rate"] is None


def test_a_frozen_run_gives_the_same_numbers_after_a_scorecard_edit_and_re_score(store: RollupStore) -> None:
    recordings = month_of_calls(store, 11, {"billing": (10, 5)}, "opening")
    runs = runs_on(store)
    first = runs.run(runs.definition(PeriodKind.monthly, date(2026, 11, 1)), "qa-lin")
    # The card is edited (version 2) and November re-scored: every call passes under the new version.
    store.record(
        [
            from_scored(scored(recording_id=r, started_at=datetime(2026, 11, 3, tzinfo=UTC), scorecard_version=2), ZONE)
            for r in recordings
        ]
    )
    again = runs.rerun(first.id, "qa-lin")
    assert again.definition == first.definition and again.rerun_of == first.id
    assert again.result is not None and first.result is not None
    assert again.result["summary"] == first.result["summary"]
    assert again.result["groups"] == first.result["groups"]
    fresh = runs.run(
        runs.definition(PeriodKind.monthly, date(2026, 11, 1), scorecard_versions={"default-zh": [2]}), "qa-lin"
    )
    assert fresh.result is not None and fresh.result["summary"]["pass_rate"] == 1.0
    assert fresh.definition["scorecard_versions"] == {"default-zh": [2]}


def test_an_empty_period_gives_an_explained_empty_report(store: RollupStore) -> None:
    runs = runs_on(store)
    run = runs.run(runs.definition(PeriodKind.weekly, date(2026, 11, 4), group="nobody"), "qa-lin")
    assert run.status == "empty" and run.result is not None
    assert run.result["summary"]["calls"] == 0 and run.result["summary"]["pass_rate"] is None
    assert "no evaluated calls" in run.result["explanation"] and "2026-W45" in run.result["explanation"]


def test_the_daily_detail_lists_every_call_of_the_local_day(store: RollupStore) -> None:
    late = scored(started_at=datetime(2026, 11, 8, 15, 30, tzinfo=UTC), failed=("closing",))  # 23:30 Sunday local
    next_day = scored(started_at=datetime(2026, 11, 8, 16, 30, tzinfo=UTC))  # 00:30 Monday local
    store.record([from_scored(late, ZONE), from_scored(next_day, ZONE)])
    runs = runs_on(store)
    report = runs.run(runs.definition(PeriodKind.daily, date(2026, 11, 8)), "qa-lin").result
    assert report is not None
    rows = report["detail"]["rows"]
    assert [r["recording_id"] for r in rows] == [late.recording_id]
    assert rows[0]["failed_items"][0]["item_id"] == "closing" and rows[0]["reviewer"] == "auto-scorer"
    week = runs.run(runs.definition(PeriodKind.weekly, date(2026, 11, 8)), "qa-lin").result
    assert week is not None and week["summary"]["calls"] == 1


def test_forecast_from_rollup_history(database_url: str) -> None:
    db = Database(database_url)
    db.migrate(MIGRATIONS_DIR)
    store = RollupStore(db)
    events = []
    for month in range(1, 12):  # January to November: one more failing call per month, 20 calls each
        for n in range(20):
            failing = n < 12 - month
            events.append(
                scored(
                    started_at=datetime(2026, month, 2 + n, 4, tzinfo=UTC),
                    failed=("forbidden_phrases",) if failing else (),
                )
            )
    store.record([from_scored(e, ZONE) for e in events])
    runs = ReportRuns(db, store, ZONE)
    report = runs.run(runs.definition(PeriodKind.monthly, date(2026, 11, 1)), "qa-lin").result
    assert report is not None
    forecast = report["forecast"]
    assert forecast["available"] and forecast["period"] == "2026-12"
    assert forecast["periods_used"] == 11 and not forecast["low_confidence"]
    assert forecast["pass_rate"] >= 0.99 and forecast["lower"] <= forecast["pass_rate"] <= forecast["upper"] <= 1.0
    db.dispose()


def test_the_worst_calls_come_auto_failed_first_then_lowest_score_page_by_page(store: RollupStore) -> None:
    day = datetime(2026, 11, 3, 2, tzinfo=UTC)
    events = [
        scored(started_at=day, failed=failed, percentage=percentage)
        for failed, percentage in [
            ((), 100.0),
            (("opening",), 80.0),
            (("forbidden_phrases",), 0.0),
            (("opening", "closing"), 60.0),
            (("closing",), 70.0),
        ]
    ]
    store.record([from_scored(e, ZONE) for e in events])
    scope = Scope(first=date(2026, 11, 3), last=date(2026, 11, 3), sources=("auto",))
    pages = [store.evaluations(scope, order="worst", limit=2, offset=offset) for offset in (0, 2, 4)]
    assert [total for _, total in pages] == [5, 5, 5]
    assert [e.percentage for found, _ in pages for e in found] == [0.0, 60.0, 70.0, 80.0, 100.0]
    assert pages[0][0][0].auto_failed
    assert store.evaluations(scope, order="worst", limit=10, auto_failed=False)[1] == 4
