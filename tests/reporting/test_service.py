"""The reporting service against a real broker and database: rollups from the topics, a replay into an
empty database rebuilds identical rollups, the API (frozen runs, agents' own figures, audited downloads,
problem details naming the field), and a scheduled run e-mailed to a local SMTP server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from callqa.auth import Authenticator, Role
from callqa.bus import Bus
from callqa.db import Database
from callqa.events import Envelope, ItemResult
from callqa.settings import AuthSettings, KafkaSettings
from callqa_stack import servers
from callqa_stack.factories import recording_purged
from reporting.config import MIGRATIONS_DIR, Settings
from reporting.delivery import SmtpSettings
from reporting.main import create_app
from reporting.periods import PeriodKind
from reporting.store import RollupStore, Scope
from reporting.tables import Schedule
from tests.reporting.helpers import brute_force, envelope, human_versions, reviewed, scored, stream

pytestmark = pytest.mark.timeout(180)
JWT_SECRET = "r" * 40


def bearer(role: Role, subject: str = "qa-lin", groups: list[str] | None = None) -> dict[str, str]:
    authenticator = Authenticator(AuthSettings(jwt_secret=JWT_SECRET))  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {authenticator.issue_token(subject, [role], groups=groups)}"}


def publish(kafka: KafkaSettings, events: list[Envelope]) -> None:
    async def send() -> None:
        async with Bus(kafka) as bus:
            for event in events:
                await bus.publish(event)

    asyncio.run(send())


def settings_for(kafka: KafkaSettings, database_url: str, group: str, smtp_port: int = 25) -> Settings:
    Database(database_url).migrate(MIGRATIONS_DIR)
    return Settings(
        database_url=database_url,
        kafka=kafka,
        consumer_group=group,
        auth=AuthSettings(jwt_secret=JWT_SECRET),  # type: ignore[arg-type]
        smtp=SmtpSettings(port=smtp_port),
        schedules_enabled=False,
    )


def wait_for(condition: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@pytest.fixture
def client_of() -> Iterator[Any]:
    opened: list[TestClient] = []

    def start(settings: Settings) -> TestClient:
        client = TestClient(create_app(settings))
        client.__enter__()
        opened.append(client)
        wait_for(lambda: client.get("/readyz").status_code == 200)
        return client

    yield start
    for client in opened:
        client.__exit__(None, None, None)


def test_replaying_the_topics_into_an_empty_database_rebuilds_identical_rollups(
    private_kafka_settings: KafkaSettings, tmp_path: Path, client_of: Any
) -> None:
    scored_events = stream(11, 300)
    events: list[Any] = [*scored_events, *human_versions(11, scored_events)]
    purged = scored_events[0].recording_id
    publish(private_kafka_settings, [envelope(e) for e in events] + [recording_purged(purged)])
    expected = brute_force(events)

    live = settings_for(private_kafka_settings, f"sqlite:///{tmp_path / 'live.db'}", "reporting-live")
    client_of(live)
    live_store = RollupStore(Database(live.database_url))
    wait_for(lambda: live_store.dump() == expected)

    replay = settings_for(private_kafka_settings, f"sqlite:///{tmp_path / 'replay.db'}", "reporting-replay")
    client_of(replay)
    replay_store = RollupStore(Database(replay.database_url))
    wait_for(lambda: replay_store.dump() == expected)
    assert replay_store.dump() == live_store.dump()
    day = scored_events[0].started_at.date()
    for store in (live_store, replay_store):
        found, _ = store.evaluations(Scope(first=day - timedelta(days=1), last=day + timedelta(days=1)), limit=500)
        assert all(i.quote is None for e in found if e.recording_id == purged for i in e.items)


@pytest.fixture
def client(private_kafka_settings: KafkaSettings, tmp_path: Path, client_of: Any) -> TestClient:
    settings = settings_for(private_kafka_settings, f"sqlite:///{tmp_path / 'api.db'}", "reporting-api")
    calls = [
        scored(agent_id="agent-a", started_at=datetime(2026, 11, 3, 2, tzinfo=UTC), failed=("opening",)),
        scored(agent_id="agent-a", started_at=datetime(2026, 11, 4, 2, tzinfo=UTC)),
        scored(agent_id="agent-b", started_at=datetime(2026, 11, 5, 2, tzinfo=UTC), failed=("forbidden_phrases",)),
    ]
    publish(private_kafka_settings, [envelope(e) for e in calls])
    test_client: TestClient = client_of(settings)
    store: RollupStore = test_client.app.state.store  # type: ignore[attr-defined]
    wait_for(lambda: sum(1 for _ in store.dump()["evaluations"]) == 3)
    return test_client


def test_report_runs_api_with_frozen_definitions_agents_and_audited_downloads(client: TestClient) -> None:
    qa, agent = bearer(Role.qa_analyst), bearer(Role.agent, subject="agent-a")
    made = client.post("/v1/report-runs", json={"kind": "weekly", "day": "2026-11-04"}, headers=qa)
    assert made.status_code == 201, made.text
    run = made.json()
    assert run["definition"]["time_zone"] == "Asia/Shanghai"
    assert run["definition"]["scorecard_versions"] == {"default-zh": [1]}
    assert run["result"]["summary"]["calls"] == 3 and run["status"] == "done"

    again = client.post(f"/v1/report-runs/{run['id']}/rerun", headers=qa).json()
    assert again["result"]["summary"] == run["result"]["summary"] and again["rerun_of"] == run["id"]

    own = client.post(
        "/v1/report-runs", json={"kind": "weekly", "day": "2026-11-04", "agent_id": "agent-b"}, headers=agent
    )
    assert own.status_code == 201 and own.json()["definition"]["agent_id"] == "agent-a"
    assert own.json()["result"]["summary"]["calls"] == 2
    assert client.get(f"/v1/report-runs/{run['id']}", headers=agent).status_code == 403
    listed = client.get("/v1/report-runs", headers=agent).json()
    assert [r["id"] for r in listed["items"]] == [own.json()["id"]] and listed["items"][0]["result"] is None

    detail = client.get("/v1/monitoring-detail", params={"day": "2026-11-05"}, headers=agent).json()
    assert detail["total"] == 0  # agent-b's call is not agent-a's
    detail = client.get("/v1/monitoring-detail", params={"day": "2026-11-05"}, headers=qa).json()
    assert detail["total"] == 1 and detail["items"][0]["auto_failed"] is True

    pdf = client.get(f"/v1/report-runs/{run['id']}/download", params={"format": "pdf"}, headers=qa)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert "attachment" in pdf.headers["content-disposition"]
    audit = client.get("/v1/downloads", headers=bearer(Role.auditor, subject="audit-zhao")).json()
    assert audit["total"] == 1 and audit["items"][0]["subject"] == "qa-lin" and audit["items"][0]["format"] == "pdf"
    assert client.get("/v1/downloads", headers=qa).status_code == 403

    wrong = client.post("/v1/report-runs", json={"kind": "daily", "time_zone": "Europe/Berlin"}, headers=qa)
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "time_zone"
    bad = client.post("/v1/report-runs", json={"kind": "yearly"}, headers=qa)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "kind"
    assert client.get("/v1/report-runs/nope", headers=qa).status_code == 404


def test_groups_claim_confines_every_report_and_case_analysis_and_agreement_reports(
    client: TestClient, private_kafka_settings: KafkaSettings
) -> None:
    broadband = scored(agent_id="agent-c", group="broadband", started_at=datetime(2026, 11, 4, 3, tzinfo=UTC))
    appealed = scored(
        agent_id="agent-a", started_at=datetime(2026, 11, 6, 2, tzinfo=UTC), failed=("opening", "closing")
    )
    appeal = reviewed(appealed, 2, {"opening": ItemResult.passed}, cause="appeal")
    publish(private_kafka_settings, [envelope(broadband), envelope(appealed), envelope(appeal)])
    store: RollupStore = client.app.state.store  # type: ignore[attr-defined]
    wait_for(lambda: len(store.dump()["evaluations"]) == 6)
    qa, limited = bearer(Role.qa_analyst), bearer(Role.supervisor, "sup-wang", groups=["billing"])
    week = {"kind": "weekly", "day": "2026-11-04"}

    refused = client.post("/v1/report-runs", json=week | {"group": "broadband"}, headers=limited)
    assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
    confined = client.post("/v1/report-runs", json=week, headers=limited).json()
    assert confined["definition"]["groups"] == ["billing"]
    assert [g["group"] for g in confined["result"]["groups"]] == ["billing"]
    everything = client.post("/v1/report-runs", json=week, headers=qa).json()
    assert {g["group"] for g in everything["result"]["groups"]} == {"billing", "broadband"}
    assert client.get(f"/v1/report-runs/{everything['id']}", headers=limited).status_code == 403
    assert client.get(f"/v1/report-runs/{everything['id']}/download", headers=limited).status_code == 403
    listed = client.get("/v1/report-runs", headers=limited).json()
    assert [r["id"] for r in listed["items"]] == [confined["id"]]
    assert client.get(f"/v1/report-runs/{confined['id']}/download", headers=limited).status_code == 200
    detail = client.get("/v1/monitoring-detail", params={"day": "2026-11-04"}, headers=limited).json()
    assert detail["total"] == 1 and detail["items"][0]["group"] == "billing"
    assert client.get("/v1/monitoring-detail", params={"group": "broadband"}, headers=limited).status_code == 403
    made = client.post("/v1/schedules", json={"name": "mine", "kind": "weekly"}, headers=limited).json()
    assert made["filters"] == {"report": "quality", "groups": ["billing"]}
    other = client.post("/v1/schedules", json={"name": "all", "kind": "weekly"}, headers=bearer(Role.supervisor))
    assert client.get(f"/v1/schedules/{other.json()['id']}", headers=limited).status_code == 403
    assert [x["id"] for x in client.get("/v1/schedules", headers=limited).json()["items"]] == [made["id"]]

    cases = client.post("/v1/report-runs", json=week | {"report": "case_analysis"}, headers=qa).json()
    assert cases["report"] == "case_analysis" and cases["status"] == "done"
    by_category = {c["category"]: c for c in cases["result"]["cases"]}
    assert by_category["auto_failed"]["agent_id"] == "agent-b"
    overturned = by_category["overturned_on_appeal"]
    assert overturned["recording_id"] == appealed.recording_id and overturned["auto_passed"] is False
    assert overturned["changed_items"] == [
        {"item_id": "opening", "section": "service_language", "auto_result": "fail", "human_result": "pass"}
    ]
    assert overturned["links"]["recording"] == f"/v1/recordings/{appealed.recording_id}"
    html = client.get(f"/v1/report-runs/{cases['id']}/download", params={"format": "html"}, headers=qa)
    assert f"/v1/recordings/{appealed.recording_id}" in html.text and "申诉改判" in html.text
    only_a = client.post(
        "/v1/report-runs", json=week | {"report": "case_analysis", "agent_id": "agent-b"}, headers=qa
    ).json()
    assert {c["agent_id"] for c in only_a["result"]["cases"]} == {"agent-b"}

    agreement = client.post("/v1/report-runs", json=week | {"report": "agreement"}, headers=qa).json()
    summary = agreement["result"]["summary"]
    assert summary["versions"] == {"human": 1, "calibration": 0}
    assert summary["items_compared"] == 5 and summary["agreed"] == 4 and summary["auto_stricter"] == 1
    worst = agreement["result"]["items"][0]
    assert worst["item_id"] == "opening" and worst["agreement_rate"] == 0.0
    pdf = client.get(f"/v1/report-runs/{agreement['id']}/download", params={"format": "pdf"}, headers=qa)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    runs = client.get("/v1/report-runs", params={"report": "agreement"}, headers=qa).json()
    assert [r["id"] for r in runs["items"]] == [agreement["id"]]
    mine = client.post("/v1/report-runs", json=week | {"report": "agreement"}, headers=bearer(Role.agent, "agent-c"))
    assert mine.json()["definition"]["agent_id"] == "agent-c" and mine.json()["status"] == "empty"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


def test_a_due_weekly_schedule_runs_and_is_e_mailed_with_attachments(
    private_kafka_settings: KafkaSettings, tmp_path: Path, client_of: Any
) -> None:
    inbox = Inbox()
    port = servers.free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        settings = settings_for(private_kafka_settings, f"sqlite:///{tmp_path / 's.db'}", "reporting-smtp", port)
        publish(private_kafka_settings, [envelope(scored(started_at=datetime(2026, 11, 8, 15, 30, tzinfo=UTC)))])
        client = client_of(settings)
        store: RollupStore = client.app.state.store
        wait_for(lambda: bool(store.dump()["evaluations"]))
        made = client.post(
            "/v1/schedules",
            json={
                "name": "weekly",
                "kind": "weekly",
                "at_time": "07:00",
                "recipients": ["lead@example.com"],
                "formats": ["pdf", "xlsx"],
            },
            headers=bearer(Role.supervisor),
        )
        assert made.status_code == 201, made.text
        schedules = client.app.state.schedules
        monday = datetime(2026, 11, 9, 0, 0, tzinfo=UTC)  # 08:00 Monday in Shanghai: the 07:00 run is due
        with schedules.db.session() as session:
            row = session.get(Schedule, made.json()["id"])
            row.next_run_at = datetime(2026, 11, 8, 23, 0, tzinfo=UTC)
            session.add(row)
        runs = schedules.run_due(monday)
        assert len(runs) == 1 and runs[0].delivery_status == "sent", runs[0].delivery_error
        assert runs[0].period_first == date(2026, 11, 2) and runs[0].period_last == date(2026, 11, 8)
        assert runs[0].result["summary"]["calls"] == 1  # the Sunday 23:30 call is in the week
        wait_for(lambda: len(inbox.messages) == 1, timeout=10)
        mail = inbox.messages[0]
        names = sorted(part.get_filename() for part in mail.walk() if part.get_filename())
        assert names == ["callqa-weekly-2026-11-02.pdf", "callqa-weekly-2026-11-02.xlsx"]
        assert mail["To"] == "lead@example.com"
        assert schedules.run_due(monday) == []  # moved on to next Monday
        history = client.get(
            "/v1/report-runs", params={"schedule_id": made.json()["id"]}, headers=bearer(Role.qa_analyst)
        )
        assert history.json()["items"][0]["delivery_status"] == "sent"
        assert PeriodKind(history.json()["items"][0]["kind"]) is PeriodKind.weekly
    finally:
        smtp.stop()
