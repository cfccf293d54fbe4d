"""Bulk import of an archive through the upload API, against the real app, broker, store and database."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from callqa.auth import Role
from recorder_ingest import __main__ as cli
from recorder_ingest import bulk_import
from recorder_ingest.bulk_import import (
    API_KEY_ENV,
    DEFAULT_URL,
    Backoff,
    ImportRefused,
    ImportSummary,
    default_state_path,
    metadata_from_columns,
    parse_args,
    run_import,
)
from tests.recorder_ingest.helpers import PLATFORM, bearer, make_audio

pytestmark = pytest.mark.timeout(120)

API_KEY = PLATFORM["X-API-Key"]
CALL_IDS = [f"arch-{n}" for n in range(1, 6)]
COLUMNS = ["file", "call_id", "agent_id", "group", "started_at", "customer_number", "tags", "consent_status"]
COLUMNS += ["consent_method", "language"]


def row(call_id: str, **overrides: str) -> dict[str, str]:
    return {
        "file": f"{call_id}.wav",
        "call_id": call_id,
        "agent_id": "agent-042",
        "group": "billing",
        "started_at": "2025-03-01T09:30:00+08:00",
        "customer_number": "",  # empty cells are left out
        "tags": "complaint; vip|",
        "consent_status": "notified",
        "consent_method": "ivr_announcement",
        "language": "zh",
    } | overrides


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    folder = tmp_path / "archive"
    folder.mkdir()
    for n, call_id in enumerate(CALL_IDS):
        make_audio(folder / f"{call_id}.wav", seconds=0.5, channels=1, freq=300 + 100 * n)
    return folder


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "manifest.csv", [row(call_id) for call_id in CALL_IDS])


@pytest.fixture
def posts(client: TestClient) -> Iterator[list[str]]:
    """Paths of the requests the importer sends, recorded by an httpx event hook."""
    sent: list[str] = []

    def hook(request: httpx.Request) -> None:
        sent.append(request.url.path)

    client.event_hooks["request"].append(hook)
    yield sent
    client.event_hooks["request"].remove(hook)


def stored(client: TestClient) -> list[dict[str, Any]]:
    page = client.get("/v1/recordings", params={"limit": 500}, headers=bearer(Role.qa_analyst)).json()
    items: list[dict[str, Any]] = page["items"]
    assert page["total"] == len(items)
    return items


def do_import(folder: Path, manifest: Path, client: httpx.Client, **options: Any) -> ImportSummary:
    return run_import(folder, manifest, client, api_key=API_KEY, progress=False, **options)


def counts(summary: ImportSummary) -> dict[str, int]:
    return {outcome.value: n for outcome, n in summary.counts.items() if n}


def state_records(manifest: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in default_state_path(manifest).read_text().splitlines()]


def test_a_csv_manifest_imports_every_file_with_its_metadata(
    client: TestClient, archive: Path, manifest: Path, posts: list[str]
) -> None:
    # Three workers on one TestClient: its portal serialises the calls into the app's event loop.
    summary = do_import(archive, manifest, client, concurrency=3)

    assert counts(summary) == {"created": 5}
    assert (summary.ok, summary.skipped, summary.problems) == (True, 0, [])
    assert posts == ["/v1/recordings"] * 5
    recordings = {r["call_id"]: r for r in stored(client)}
    assert sorted(recordings) == CALL_IDS
    first = recordings["arch-1"]
    assert first["tags"] == ["complaint", "vip"]
    assert (first["consent"]["status"], first["consent"]["method"]) == ("notified", "ivr_announcement")
    assert (first["has_customer_number"], first["audio"]["channels"]) == (False, 1)
    records = state_records(manifest)
    assert {(r["call_id"], r["outcome"]) for r in records} == {(c, "created") for c in CALL_IDS}
    assert {r["recording_id"] for r in records} == {r["id"] for r in recordings.values()}


def test_a_json_manifest_may_nest_the_metadata_or_be_flat(client: TestClient, archive: Path, tmp_path: Path) -> None:
    nested = {
        "file": "arch-1.wav",
        "metadata": {
            "call_id": "arch-1",
            "agent_id": "agent-7",
            "started_at": "2025-03-01T09:30:00Z",
            "tags": ["dispute"],
            "consent": {"status": "accepted", "method": "verbal"},
        },
    }
    flat = {k: v for k, v in row("arch-2").items() if v} | {"tags": ["vip"], "direction": "outbound"}
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps([nested, flat]))

    summary = do_import(archive, manifest, client, concurrency=1)

    assert counts(summary) == {"created": 2}
    recordings = {r["call_id"]: r for r in stored(client)}
    assert (recordings["arch-1"]["retention"]["policy"], recordings["arch-1"]["consent"]["status"]) == (
        "dispute",
        "accepted",
    )
    assert (recordings["arch-2"]["direction"], recordings["arch-2"]["tags"]) == ("outbound", ["vip"])


def test_a_rerun_skips_what_the_state_file_records_as_stored(
    client: TestClient, archive: Path, manifest: Path, posts: list[str]
) -> None:
    done = [
        {"call_id": c, "file": f"{c}.wav", "outcome": "created", "recording_id": "r", "detail": None}
        for c in CALL_IDS[:2]
    ]
    failed = {"call_id": "arch-3", "file": "arch-3.wav", "outcome": "failed", "recording_id": None, "detail": "503"}
    lines = [json.dumps(r) for r in [*done, failed]]
    default_state_path(manifest).write_text("\n".join(lines) + '\n{"call_id": "arch-4", "outc')  # killed mid-write

    summary = do_import(archive, manifest, client, concurrency=1)

    assert (counts(summary), summary.skipped) == ({"created": 3}, 2)
    assert len(posts) == 3, "the two recorded as created are not uploaded again; the failed one is retried"
    assert sorted(r["call_id"] for r in stored(client)) == CALL_IDS[2:]


def test_a_killed_import_completes_on_rerun_without_duplicates(
    client: TestClient, archive: Path, manifest: Path, posts: list[str]
) -> None:
    first = do_import(archive, write_csv(manifest, [row(c) for c in CALL_IDS[:2]]), client, concurrency=1)
    write_csv(manifest, [row(c) for c in CALL_IDS])  # the rest of the archive, same state file

    rest = do_import(archive, manifest, client, concurrency=1)

    assert (counts(first), counts(rest), rest.skipped) == ({"created": 2}, {"created": 3}, 2)
    assert len(posts) == 5
    assert sorted(r["call_id"] for r in stored(client)) == CALL_IDS


def test_rows_with_a_missing_file_or_bad_metadata_are_rejected_by_line_and_the_rest_import(
    client: TestClient, archive: Path, tmp_path: Path, posts: list[str]
) -> None:
    rows = [row(c) for c in CALL_IDS]
    rows[1]["file"] = "nowhere.wav"  # line 3
    rows[3]["consent_status"] = "maybe"  # line 5
    manifest = write_csv(tmp_path / "manifest.csv", rows)

    summary = do_import(archive, manifest, client, concurrency=1)

    assert counts(summary) == {"created": 3, "rejected": 2}
    assert not summary.ok
    missing, bad = summary.problems
    assert (missing.entry.where, missing.entry.call_id) == ("line 3", "arch-2")
    assert missing.detail is not None
    assert "file not found" in missing.detail
    assert bad.entry.where == "line 5"
    assert bad.detail is not None
    assert "metadata.consent.status" in bad.detail
    assert "line 3 (arch-2, nowhere.wav): rejected: file not found" in summary.render()
    assert len(posts) == 3, "rejected rows are never uploaded"
    assert sorted(r["call_id"] for r in stored(client)) == ["arch-1", "arch-3", "arch-5"]


def test_incomplete_rows_and_duplicate_call_ids_are_rejected(client: TestClient, archive: Path, tmp_path: Path) -> None:
    rows = [row("arch-1"), row("arch-2", agent_id="", started_at=""), row("arch-1", file="arch-3.wav")]
    summary = do_import(archive, write_csv(tmp_path / "m.csv", rows), client, concurrency=1)

    assert counts(summary) == {"created": 1, "rejected": 2}
    incomplete, duplicate = summary.problems
    assert incomplete.entry.where == "line 3"
    assert incomplete.detail is not None
    assert "metadata.agent_id" in incomplete.detail
    assert "metadata.started_at" in incomplete.detail
    assert (duplicate.entry.where, duplicate.detail) == ("line 4", "call_id 'arch-1' is also on line 2")


def test_rerunning_a_finished_import_is_harmless(
    client: TestClient, archive: Path, manifest: Path, posts: list[str]
) -> None:
    do_import(archive, manifest, client, concurrency=1)

    again = do_import(archive, manifest, client, concurrency=1)
    assert (counts(again), again.skipped, len(posts)) == ({}, 5, 5), "nothing uploaded twice"

    default_state_path(manifest).unlink()  # state lost: the server's idempotency still holds
    without_state = do_import(archive, manifest, client, concurrency=1)
    assert (counts(without_state), without_state.ok) == ({"already_present": 5}, True)
    assert sorted(r["call_id"] for r in stored(client)) == CALL_IDS


def test_conflicting_audio_for_a_stored_call_id_is_a_conflict(
    client: TestClient, archive: Path, manifest: Path
) -> None:
    do_import(archive, manifest, client, concurrency=1)
    other = write_csv(manifest.with_name("other.csv"), [row("arch-1", file="arch-2.wav")])

    summary = do_import(archive, other, client, concurrency=1)

    assert counts(summary) == {"conflict": 1}
    assert summary.problems[0].detail is not None
    assert summary.problems[0].detail.startswith("409")


# --- against a scripted server: retries and refusals ------------------------------------------


def scripted(answers: Sequence[httpx.Response | Exception]) -> tuple[httpx.Client, list[httpx.Request]]:
    """A client whose server answers with `answers` in turn (an exception is a transport failure)."""
    seen: list[httpx.Request] = []
    responses = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()  # the multipart body, streamed from the file
        seen.append(request)
        answer = responses.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.Client(transport=httpx.MockTransport(handler), base_url="http://ingest"), seen


def recorder() -> tuple[Backoff, list[float]]:
    slept: list[float] = []
    return Backoff(attempts=3, base_s=0.5, cap_s=10, sleep=slept.append), slept


def one_row(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "one.csv", [row("arch-1")])


def test_503_is_retried_after_the_retry_after_delay_capped(archive: Path, tmp_path: Path) -> None:
    busy = httpx.Response(503, headers={"Retry-After": "120"}, json={"title": "Object store unavailable"})
    client, seen = scripted([busy, httpx.ConnectError("refused"), httpx.Response(201, json={"id": "rec-1"})])
    backoff, slept = recorder()

    summary = run_import(archive, one_row(tmp_path), client, api_key="k", backoff=backoff, progress=False)

    assert counts(summary) == {"created": 1}
    assert len(seen) == 3
    assert slept[0] == 10, "Retry-After is respected up to the cap"
    assert 0 <= slept[1] <= 1.0, "without Retry-After: jittered exponential backoff"
    assert seen[0].headers["X-API-Key"] == "k"
    assert b'"call_id": "arch-1"' in seen[0].content
    assert seen[0].content.count(b"RIFF") == 1, "the audio part is the file"


def test_an_entry_still_unavailable_after_the_retries_fails_and_is_retried_next_run(
    archive: Path, tmp_path: Path
) -> None:
    manifest = one_row(tmp_path)
    client, _ = scripted([httpx.ReadTimeout("slow")] * 3 + [httpx.Response(201, json={"id": "rec-1"})])
    backoff, slept = recorder()

    failed = run_import(archive, manifest, client, api_key="k", backoff=backoff, progress=False)
    later = run_import(archive, manifest, client, api_key="k", backoff=backoff, progress=False)

    assert (counts(failed), failed.ok, len(slept)) == ({"failed": 1}, False, 2)
    assert failed.problems[0].detail == "gave up after 3 attempts: ReadTimeout: slow"
    assert counts(later) == {"created": 1}


def test_a_refused_api_key_stops_the_import(archive: Path, manifest: Path) -> None:
    client, seen = scripted([httpx.Response(401, json={"title": "Unauthorized", "detail": "unknown API key"})] * 5)
    with pytest.raises(ImportRefused, match="unknown API key"):
        run_import(archive, manifest, client, api_key="nope", concurrency=1, progress=False)
    assert len(seen) == 1, "after one refusal no further upload is attempted"


# --- units ------------------------------------------------------------------------------------


def test_flat_columns_become_the_api_metadata_document() -> None:
    columns = {"call_id": " c1 ", "tags": "a;b | c", "consent_status": "notified", "consent_at": "", "queue": None}
    assert metadata_from_columns(columns) == {
        "call_id": "c1",
        "tags": ["a", "b", "c"],
        "consent": {"status": "notified"},
    }


def test_arguments_have_defaults_and_take_the_key_from_the_environment() -> None:
    args = parse_args(["/data/calls", "--manifest", "m.csv"], environ={API_KEY_ENV: "secret"})
    assert (args.folder, args.manifest, args.url, args.api_key) == (
        Path("/data/calls"),
        Path("m.csv"),
        DEFAULT_URL,
        "secret",
    )
    assert (args.concurrency, args.state) == (4, None)

    given = parse_args(
        ["f", "--manifest", "m.json", "--url", "http://h:9", "--api-key", "k", "--concurrency", "8", "--state", "s"],
        environ={API_KEY_ENV: "ignored"},
    )
    assert (given.url, given.api_key, given.concurrency, given.state) == ("http://h:9", "k", 8, Path("s"))


@pytest.mark.parametrize(
    "argv",
    [["f", "--manifest", "m.csv"], ["f", "--manifest", "m.csv", "--api-key", "k", "--concurrency", "0"], ["f"]],
    ids=["no key", "zero concurrency", "no manifest"],
)
def test_bad_arguments_exit_with_usage(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(argv, environ={})
    assert exited.value.code == 2
    assert "usage: python -m recorder_ingest import" in capsys.readouterr().err


def test_the_module_entry_point_dispatches_import(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.argv", ["recorder_ingest", "import", "--help"])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 0
    assert "--manifest MANIFEST" in capsys.readouterr().out


def test_a_missing_manifest_stops_the_cli_with_status_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(API_KEY_ENV, "k")
    assert bulk_import.main([str(tmp_path), "--manifest", str(tmp_path / "absent.csv")]) == 2
    assert "import stopped" in capsys.readouterr().err
