"""`./run demo`: the main job on the local stack.

Posts the bundled sample calls to recorder-ingest the way a telephony platform does, then shows
what came out: the stored recordings, the events on the bus, the transcripts with their
conversation metrics, and each call's QA evaluation with the evidence for every failed item.
Then the QA loop in coaching: a sampling run, a scripted review with an override, an agent's appeal and
a supervisor's resolution.
It ends with the QA report of the demo's calls from the reporting service: a terminal summary and the
HTML and PDF files.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from tqdm import tqdm

from callqa_stack import coaching_demo, samples, stack

STORED_TOPIC = "callqa.recording.stored.v1"
READY_TOPIC = "callqa.transcript.ready.v1"
SCORED_TOPIC = "callqa.evaluation.scored.v1"


def run_demo(keep: bool = False) -> int:
    previous = stack.StackState.load()
    was_running = previous is not None and all(stack.alive(pid) for pid in previous.pids.values())
    print("==> starting the local stack (ministack, Tansu, services)")
    state = stack.up()
    try:
        return _walk_through(state)
    finally:
        if keep or was_running:
            print(f"\nstack left running; stop it with ./run stack down (data in {stack.STATE_DIR})")
        else:
            stack.down()
            print(f"\nstack stopped; data kept in {stack.STATE_DIR} (./run stack up to start it again)")


def _walk_through(state: stack.StackState) -> int:
    ingest = f"http://127.0.0.1:{state.ports.services['recorder-ingest']}"
    platform = {"X-API-Key": state.secrets["ingest_api_key"]}
    admin = {"X-API-Key": state.secrets["admin_api_key"]}

    print("==> rendering the sample calls (Kokoro-82M voices + sox, stereo 8 kHz μ-law; cached in .callqa/)")
    calls = samples.render_calls(progress=True)

    print(f"==> posting {len(calls)} recordings to {ingest}/v1/recordings")
    posted: list[tuple[str, dict[str, Any]]] = []
    sent: list[dict[str, Any]] = []  # the metadata each call was posted with
    renamed: list[str] = []
    with httpx.Client(base_url=ingest, timeout=60) as client:
        for call in tqdm(calls, unit="call"):
            metadata = call.metadata
            response = _post(client, call, metadata, platform)
            if response.status_code == 409:
                # The archive (kept in .callqa/ between demos) holds an earlier rendering of this call, from
                # before the script or the renderer changed; a call id is never reused for other audio, so
                # this rendering goes in as a call of its own, named after its audio (found again next time).
                tag = hashlib.sha256(call.path.read_bytes()).hexdigest()[:8]
                metadata = {**call.metadata, "call_id": f"{call.call_id}~{tag}"}
                response = _post(client, call, metadata, platform)
                renamed.append(metadata["call_id"])
            if response.status_code not in (200, 201):
                print(f"   {metadata['call_id']}: {response.status_code} {response.text}")
                return 1
            posted.append((response.reason_phrase, response.json()))
            sent.append(metadata)
        print()
        if renamed:
            print(
                f"   {len(renamed)} of the calls were posted by an earlier demo with other audio (an earlier"
                " rendering), so this rendering went in as <call id>~<audio hash>; for an empty archive:"
                " ./run stack down, then delete .callqa/data"
            )
        width = max(26, *(len(r["call_id"]) for _, r in posted))
        print(f"   {'call id':<{width}} {'http':<9} {'audio':<28} {'consent':<9} {'retention':<22} outcome")
        for reason, r in posted:
            audio = r["audio"]
            facts = f"{audio['duration_ms'] / 1000:.1f}s {audio['channels']}ch {audio['codec']}"
            retention = f"{r['retention']['policy']} → {r['retention']['retain_until'][:10]}"
            print(
                f"   {r['call_id']:<{width}} {reason:<9} {facts:<28} {r['consent']['status']:<9} {retention:<22} "
                f"{r['consent']['outcome']}"
            )

        first = sent[0]
        again = _post(client, calls[0], first, platform)
        print(
            f"\n==> posting {first['call_id']} again: {again.status_code} {again.reason_phrase} "
            "(idempotent, no new event)"
        )

        listed = client.get("/v1/recordings", params={"limit": 100}, headers=admin).json()
        print(f"==> GET /v1/recordings: {listed['total']} recordings in the archive")

    ids = {r["id"] for _, r in posted if r["audio"]["status"] == "stored" and r["consent"]["status"] != "declined"}
    print(f"==> waiting for {len(ids)} recording.stored events on {STORED_TOPIC}")
    events = asyncio.run(_events(f"127.0.0.1:{state.ports.kafka}", STORED_TOPIC, ids))
    for event in events:
        p = event["payload"]
        print(f"   {p['recording_id']}  {p['call_id']:<{width}} lang={p['language']} layout={p['channel_layout']}")
    missing = ids - {e["payload"]["recording_id"] for e in events}
    if missing:
        print(f"   missing events for {sorted(missing)}")
        return 1

    print(f"\n==> waiting for the transcriber (whisper base on CPU): {len(ids)} transcript.ready events")
    transcripts = asyncio.run(_events(f"127.0.0.1:{state.ports.kafka}", READY_TOPIC, ids, wait_s=900))
    call_ids = {r["id"]: r["call_id"] for _, r in posted}
    for event in transcripts:
        _print_transcript(call_ids[event["payload"]["recording_id"]], event["payload"]["document"])
    if len(transcripts) < len(ids):
        print(f"   only {len(transcripts)} of {len(ids)} transcripts arrived; see .callqa/logs/transcriber.log")
        return 1

    print(f"\n==> waiting for the scorer: {len(ids)} evaluation.scored events (default scorecards)")
    evaluations = asyncio.run(_events(f"127.0.0.1:{state.ports.kafka}", SCORED_TOPIC, ids, wait_s=120))
    for event in sorted(evaluations, key=lambda e: call_ids[e["payload"]["recording_id"]]):
        _print_evaluation(call_ids[event["payload"]["recording_id"]], event["payload"])
    if len(evaluations) < len(ids):
        print(f"   only {len(evaluations)} of {len(ids)} evaluations arrived; see .callqa/logs/scorer.log")
        return 1
    coaching_url = f"http://127.0.0.1:{state.ports.services['coaching']}"
    with httpx.Client(base_url=coaching_url, timeout=60) as client:
        if coaching_demo.walk(
            client, state.secrets["jwt_secret"], {e["payload"]["evaluation_id"] for e in evaluations}
        ):
            return 1
        if coaching_demo.follow_up(
            client, state.secrets["jwt_secret"], f"127.0.0.1:{state.ports.kafka}", [e["payload"] for e in evaluations]
        ):
            return 1
    print(f"\nAPI docs: {ingest}/docs  {coaching_url}/docs   metrics: {ingest}/metrics")
    _show_console(state)
    return _show_quality_report(state, evaluations, admin)


def _show_console(state: stack.StackState) -> None:
    """The console's URL and a login for each role (made once, kept in .callqa/console-users.json)."""
    print(f"\n==> the web console: http://127.0.0.1:{state.ports.services['console']}/  (logins, one per role:)")
    for user, login in stack.console_logins().items():
        roles = ", ".join(str(r) for r in login["roles"])  # type: ignore[attr-defined]
        print(f"   {user:<14} {login['password']}   {roles}")


def _show_quality_report(state: stack.StackState, evaluations: list[dict[str, Any]], headers: dict[str, str]) -> int:
    """The monthly QA report of the month of the latest demo call, from the reporting service."""
    reporting = f"http://127.0.0.1:{state.ports.services['reporting']}"
    latest = max(e["payload"]["started_at"] for e in evaluations)
    month = latest[:7]
    expected = sum(1 for e in evaluations if e["payload"]["started_at"][:7] == month)
    print(
        f"\n==> the QA report of {month} from {reporting}: the demo's {expected} evaluated calls of that month"
        " and the evaluations generated for the coaching follow-up above"
    )
    with httpx.Client(base_url=reporting, timeout=120) as client:
        deadline = time.monotonic() + 60
        while True:
            answer = client.post("/v1/report-runs", json={"kind": "monthly", "day": latest[:10]}, headers=headers)
            if answer.status_code != 201:
                print(f"   the report failed: {answer.status_code} {answer.text[:300]}")
                return 1
            run = answer.json()
            if run["result"]["summary"]["calls"] >= expected or time.monotonic() > deadline:
                break
            time.sleep(1)
        report = run["result"]
        summary = report["summary"]
        print(
            f"   {report['period']['label']}  calls {summary['calls']}  pass rate {_pct(summary['pass_rate'])}  "
            f"A/B/C problems {summary['problems']['A']}/{summary['problems']['B']}/{summary['problems']['C']}"
        )
        for group in report["groups"][:10]:
            print(f"   group {group['group'] or '—':12} calls {group['calls']:4}  pass rate {_pct(group['pass_rate'])}")
        for item in report["top_failed_items"][:5]:
            print(f"   failed {item['section']}/{item['item_id']} ({item['severity'] or '-'}): {item['failed']} calls")
        forecast = report["forecast"]
        print(f"   forecast {forecast['period']}: {_pct(forecast['pass_rate'])}  ({forecast['explanation']})")
        folder = stack.STATE_DIR / "reports"
        folder.mkdir(parents=True, exist_ok=True)
        for fmt in ("html", "pdf"):
            file = client.get(f"/v1/report-runs/{run['id']}/download", params={"format": fmt}, headers=headers)
            if file.status_code != 200:
                print(f"   the {fmt} download failed: {file.status_code}")
                return 1
            path = folder / f"callqa-monthly-{month}.{fmt}"
            path.write_bytes(file.content)
            print(f"   {fmt.upper()}: {path}")
    return 0


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _post(
    client: httpx.Client, call: samples.SampleCall, metadata: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    with call.path.open("rb") as audio:
        return client.post(
            "/v1/recordings",
            files={"audio": (call.path.name, audio, "audio/wav")},
            data={"metadata": json.dumps(metadata)},
            headers=headers,
        )


def _print_transcript(call_id: str, doc: dict[str, Any]) -> None:
    metrics = doc["metrics"]
    print(f"\n   {call_id}  [{doc['language']}, {doc['duration_ms'] / 1000:.0f}s, {doc['model']['id']}]")
    for turn in doc["turns"][:8]:
        begin = turn["begin_ms"] // 1000
        print(f"     {begin // 60:02d}:{begin % 60:02d} {turn['role']:<8} {turn['text'][:90]}")
    if len(doc["turns"]) > 8:
        print(f"     … {len(doc['turns']) - 8} more turns")
    talk = ", ".join(f"{role} {m['talk_ratio']:.0%}" for role, m in metrics["roles"].items())
    rates = ", ".join(
        f"{role} {m['speech_rate']:.0f} {m['speech_rate_unit'].replace('_per_min', '/min')}"
        for role, m in metrics["roles"].items()
        if m["speech_rate"]
    )
    latency = metrics["mean_response_latency_ms"]
    latency_s = "-" if latency is None else f"{latency / 1000:.1f}s"
    print(
        f"     talk: {talk} | non-talk ≥3s: {len(metrics['non_talk'])} ({metrics['non_talk_time_ms'] / 1000:.1f}s)"
        f" | overlaps: {len(metrics['overlaps'])} | mean agent latency: {latency_s} | rate: {rates}"
        f" | PII redacted: {len(doc['redactions'])}"
    )


def _print_evaluation(call_id: str, evaluation: dict[str, Any]) -> None:
    verdict = "AUTO-FAIL" if evaluation["auto_failed"] else "PASS" if evaluation["passed"] else "FAIL"
    print(
        f"\n   {call_id}  {evaluation['scorecard_id']} v{evaluation['scorecard_version']}: "
        f"{evaluation['percentage']:.0f}% ({evaluation['total_points']:g}/{evaluation['max_points']:g}) {verdict}"
    )
    for item in evaluation["items"]:
        if item["result"] != "fail":
            continue
        where = ""
        if item["evidence"]:
            first = item["evidence"][0]
            seconds = (first.get("begin_ms") or 0) // 1000
            text = (first.get("text") or "")[:60]
            where = f" @ {seconds // 60:02d}:{seconds % 60:02d} {first.get('turn_id') or ''} «{text}»"
        print(f"     ✗ {item['item_id']:<20} sev {item['severity'] or '-'}  {item['points']:g} pts{where}")


async def _events(bootstrap: str, topic: str, ids: set[str], wait_s: float = 30) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    found: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + wait_s
    try:
        while set(found) < ids and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    event = json.loads(record.value)
                    if event["payload"]["recording_id"] in ids:
                        found[event["payload"]["recording_id"]] = event
    finally:
        await consumer.stop()
    return list(found.values())
