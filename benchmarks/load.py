"""Load with faults: N recordings through ingest → transcriber → scorer on a throw-away local stack,
with the transcriber killed (kill -9) mid-call once and the broker restarted once during the run.

Reports throughput, end-to-end latency (post answered → `evaluation.scored` event's `occurred_at`)
percentiles, and lost and duplicated recordings (both must be 0), beside the baseline a site would
compare with: the same calls through the same stack with no faults, run first.

    ./run bench load [--calls 1000] [--model tiny.en] [--concurrency 4] [--skip-baseline]

The calls are the short English calls of benchmarks/data/load_calls.yaml rendered by espeak-ng (~10 s
each), posted round-robin under fresh call ids by a few threads at once (a burst, as a platform uploading
its backlog would); one in three has consent declined: stored, never transcribed, not expected downstream.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from tqdm import tqdm

from callqa.events import topic_for
from callqa_stack import consistency, samples
from callqa_stack.consistency import StackClient
from callqa_stack.throwaway import ThrowawayStack

SCORED = topic_for("evaluation.scored")
CALLS = Path(__file__).with_name("data") / "load_calls.yaml"
DRAIN_TIMEOUT_S = 3600


@dataclass
class Run:
    label: str
    posted_at: dict[str, float] = field(default_factory=dict)  # recording id -> wall time the post was answered
    retained: set[str] = field(default_factory=set)
    scored_at: dict[str, float] = field(default_factory=dict)  # first evaluation.scored per recording
    events: Counter[str] = field(default_factory=Counter)
    audio_s: float = 0.0
    wall_s: float = 0.0
    faults: list[str] = field(default_factory=list)
    problems: dict[str, list[str]] = field(default_factory=dict)

    @property
    def latencies(self) -> list[float]:
        return [self.scored_at[rid] - self.posted_at[rid] for rid in self.retained if rid in self.scored_at]

    @property
    def lost(self) -> int:
        return len(self.retained - set(self.scored_at)) + len(self.problems.get("rows without audio", []))

    @property
    def duplicated(self) -> int:
        return len(self.problems.get("evaluations duplicated", []))


class ScoredWatcher(threading.Thread):
    """Reads evaluation.scored from the start of the topic, across broker restarts."""

    def __init__(self, bootstrap: str, run: Run) -> None:
        super().__init__(daemon=True)
        self.bootstrap = bootstrap
        self.run_ = run
        self.stopping = threading.Event()

    def run(self) -> None:
        asyncio.run(self._watch())

    async def _watch(self) -> None:
        consumer = AIOKafkaConsumer(SCORED, bootstrap_servers=self.bootstrap, auto_offset_reset="earliest")
        await consumer.start()
        try:
            while not self.stopping.is_set():
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        event = json.loads(record.value or b"{}")
                        rid = event["payload"]["recording_id"]
                        self.run_.events[rid] += 1
                        at = datetime.fromisoformat(event["occurred_at"]).timestamp()
                        self.run_.scored_at.setdefault(rid, at)
        finally:
            await consumer.stop()


def load(label: str, calls: list[samples.SampleCall], count: int, args: argparse.Namespace, faults: bool) -> Run:
    environment = {"CALLQA_TRANSCRIBER_ASR__MODEL": args.model}
    with tempfile.TemporaryDirectory(prefix="callqa-load-") as home:
        local = ThrowawayStack(Path(home), environment)
        local.run("up")
        run = Run(label)
        client = StackClient(local.state(), timeout=120)
        watcher = ScoredWatcher(local.bootstrap, run)
        watcher.start()
        try:
            _drive(local, client, calls, count, args.concurrency, run, faults)
            state = consistency.check(client, expected=run.posted_at)
            run.problems = state.problems
        except BaseException:
            print(local.logs(), file=sys.stderr)
            raise
        finally:
            watcher.stopping.set()
            watcher.join(10)
            client.close()
            local.run("down")
    return run


def _drive(
    local: ThrowawayStack,
    client: StackClient,
    calls: list[samples.SampleCall],
    count: int,
    concurrency: int,
    run: Run,
    faults: bool,
) -> None:
    lock = threading.Lock()
    declined = {c.call_id for c in calls if c.metadata.get("consent", {}).get("status") == "declined"}

    def post(i: int) -> None:
        call = calls[i % len(calls)]
        for attempt in range(30):  # a post refused while the store or broker is away is retried, as a PBX would
            response = client.post(call, f"load-{i:05d}-{call.call_id}")
            if response.status_code in (200, 201):
                break
            time.sleep(min(2**attempt * 0.1, 5))
        else:
            raise RuntimeError(f"call {i} refused: {response.status_code} {response.text}")
        rid = response.json()["id"]
        with lock:
            run.posted_at[rid] = time.time()
            if call.call_id not in declined:
                run.retained.add(rid)
                run.audio_s += call.duration_s

    # Faults at fixed shares of the run: the transcriber killed in the middle of a call, the broker restarted.
    schedule: list[tuple[float, str, Callable[[], None]]] = []
    if faults:
        schedule = [
            (0.25, "transcriber killed mid-call (kill -9), started again", lambda: _kill_transcriber_mid_call(local)),
            (0.5, "broker restarted", lambda: local.run("restart", "tansu")),
        ]
    expected = sum(1 for i in range(count) if calls[i % len(calls)].call_id not in declined)
    progress = tqdm(total=expected, desc=f"{run.label}: evaluated", unit="call", file=sys.stderr)
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        futures = [pool.submit(post, i) for i in range(count)]
        done_before = 0
        while True:
            evaluated = len(run.retained & set(run.scored_at))
            progress.update(evaluated - done_before)
            done_before = evaluated
            if schedule and evaluated >= schedule[0][0] * expected:
                _share, what, inject = schedule.pop(0)
                tqdm.write(f"{run.label}: {what} at {evaluated} evaluated", file=sys.stderr)
                inject()
                run.faults.append(what)
            if all(f.done() for f in futures) and evaluated >= len(run.retained):
                break
            if time.perf_counter() - started > DRAIN_TIMEOUT_S:
                tqdm.write(f"{run.label}: gave up waiting after {DRAIN_TIMEOUT_S}s", file=sys.stderr)
                break
            time.sleep(0.2)
        for future in futures:
            future.result()
    run.wall_s = time.perf_counter() - started
    progress.close()
    time.sleep(3)  # a duplicate would follow right behind its first evaluation


def _kill_transcriber_mid_call(local: ThrowawayStack) -> None:
    local.wait_until_transcribing()
    local.kill("transcriber")
    local.run("up")


def report(runs: list[Run]) -> None:
    print(
        f"\n{'run':<16} {'calls':>6} {'retained':>8} {'audio h':>8} {'wall s':>7} {'calls/s':>8} {'audio s/s':>9} "
        f"{'p50 s':>6} {'p90 s':>6} {'p99 s':>6} {'max s':>6} {'lost':>5} {'dup':>4} {'dup events':>10}"
    )
    for run in runs:
        lat = sorted(run.latencies)
        cuts = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) > 1 else [0.0] * 99
        dup_events = sum(1 for rid, n in run.events.items() if n > 1)
        print(
            f"{run.label:<16} {len(run.posted_at):>6} {len(run.retained):>8} {run.audio_s / 3600:>8.2f} "
            f"{run.wall_s:>7.0f} {len(run.retained) / run.wall_s:>8.2f} {run.audio_s / run.wall_s:>9.1f} "
            f"{cuts[49]:>6.1f} {cuts[89]:>6.1f} {cuts[98]:>6.1f} {max(lat, default=0):>6.1f} "
            f"{run.lost:>5} {run.duplicated:>4} {dup_events:>10}"
        )
    for run in runs:
        for what, ids in run.problems.items():
            print(f"  {run.label}: {what}: {len(ids)} ({', '.join(ids[:5])})")
        for fault in run.faults:
            print(f"  {run.label}: {fault}")
    if len(runs) == 2:
        baseline, faulted = (len(run.retained) / run.wall_s for run in runs)
        print(f"\nthroughput with faults ÷ without: {faulted / baseline:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--model", default="tiny.en", help="the transcriber's model (CALLQA_TRANSCRIBER_ASR__MODEL)")
    parser.add_argument("--concurrency", type=int, default=4, help="parallel posts")
    parser.add_argument("--skip-baseline", action="store_true", help="only the run with faults")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="callqa-load-calls-") as out:
        calls = samples.render_calls(CALLS, out_dir=Path(out), engine="espeak", clip_cache=None)
        runs = []
        if not args.skip_baseline:
            runs.append(load("no faults", calls, args.calls, args, faults=False))
            report(runs)  # printed as soon as it is known: a later failure keeps it
        runs.append(load("with faults", calls, args.calls, args, faults=True))
    report(runs)
    return 0 if all(run.lost == 0 and run.duplicated == 0 for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
