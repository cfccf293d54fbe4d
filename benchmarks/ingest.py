"""recorder-ingest upload API vs the object store it writes to, and its memory on a 1 GB upload.

Starts the local stack (`callqa_stack.stack.up`) on free ports with a throw-away CALLQA_HOME, then:

1. posts a ~1 MB stereo 8 kHz WAV to `POST /v1/recordings` (unique call id per post) at each
   concurrency, and, side by side, `put_object`s the same file with the minio SDK into the same
   ministack bucket at the same concurrency: the storage floor. ratio = ingest rec/s ÷ put/s.
2. posts one 1 GB WAV (48 kHz 16-bit stereo, ~1.55 h) streamed from disk, sampling the ingest
   process's VmRSS/VmHWM from /proc while it runs.

The downstream workers (transcriber, scorer, coaching, reporting) are paused with SIGSTOP while
measuring, so their work on the posted calls does not compete for the cores; `--keep-workers`
leaves them running. The stack is taken down at the end, even on error.

    ./run bench ingest [--concurrency 1 8 32] [--requests 50 100 150] [--big-mb 1024]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import io
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import IO, Any, cast

import httpx
import urllib3
from minio import Minio
from tqdm import tqdm
from tqdm.utils import CallbackIOWrapper

from callqa.storage import DEFAULT_PART_SIZE
from callqa_stack import servers

INGEST = "recorder-ingest"
WORKERS = ("transcriber", "scorer", "coaching", "reporting")
BUCKET = "callqa"  # the stack's audio bucket
SMALL_BYTES = 1024 * 1024
REQUEST_TIMEOUT_S = 120.0
BIG_TIMEOUT_S = 600.0
UPLOAD_PARALLELISM = 2  # ObjectStore's default

Operation = Callable[[int], None]  # the i-th request of a level


def import_stack(home: Path) -> ModuleType:
    """`callqa_stack.stack` reads CALLQA_HOME once, at import: set it first."""
    if "callqa_stack.stack" in sys.modules:
        raise RuntimeError("callqa_stack.stack was imported before CALLQA_HOME was set")
    os.environ["CALLQA_HOME"] = str(home)
    return importlib.import_module("callqa_stack.stack")


def make_wav(path: Path, seconds: float, rate: int) -> None:
    """Stereo 16-bit PCM: a tone on the left, another on the right (content does not matter here)."""
    subprocess.run(
        [
            *("sox", "-n", "-r", str(rate), "-c", "2", "-b", "16", "-e", "signed-integer", str(path)),
            *("synth", f"{seconds:.3f}", "sine", "440", "sine", "660", "vol", "0.3"),
        ],
        check=True,
    )


def wav_seconds(size: int, rate: int) -> float:
    return (size - 44) / (rate * 2 * 2)  # 44-byte header, 2 channels x 2 bytes


def metadata(call_id: str) -> str:
    return json.dumps(
        {
            "call_id": call_id,
            "agent_id": "agent-bench",
            "started_at": "2026-11-02T09:30:00+08:00",
            "consent": {"status": "notified"},
        }
    )


# --- concurrency levels ---------------------------------------------------------------------


@dataclass(frozen=True)
class Level:
    rate: float  # operations per second
    p50_ms: float
    p99_ms: float
    failures: int


def run_level(operation: Operation, requests: int, concurrency: int, desc: str) -> Level:
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()

    def timed(i: int) -> None:
        nonlocal failures
        started = time.perf_counter()
        try:
            operation(i)
        except Exception as exc:  # count and report, so one bad response does not hide the figure
            with lock:
                failures += 1
            tqdm.write(f"{desc} #{i}: {exc}", file=sys.stderr)
            return
        with lock:
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    with (
        ThreadPoolExecutor(concurrency) as pool,
        tqdm(total=requests, desc=desc, unit="req", file=sys.stderr, leave=False) as progress,
    ):
        for future in [pool.submit(timed, i) for i in range(requests)]:
            future.result()
            progress.update()
    elapsed = time.perf_counter() - started
    if not latencies:
        raise RuntimeError(f"{desc}: every request failed")
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return Level(len(latencies) / elapsed, cuts[49] * 1000, cuts[98] * 1000, failures)


def ingest_poster(base_url: str, api_key: str, audio: bytes, concurrency: int) -> tuple[httpx.Client, Operation]:
    client = httpx.Client(
        base_url=base_url,
        headers={"X-API-Key": api_key},
        timeout=REQUEST_TIMEOUT_S,
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
    )
    run_id = uuid.uuid4().hex[:8]

    def post(i: int) -> None:
        response = client.post(
            "/v1/recordings",
            files={"audio": ("call.wav", audio, "audio/wav")},
            data={"metadata": metadata(f"bench-{run_id}-{concurrency}-{i}")},
        )
        if response.status_code != 201:
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:300]}")

    return client, post


def raw_putter(s3_port: int, audio: bytes, concurrency: int) -> tuple[urllib3.PoolManager, Operation]:
    # One pooled connection per thread, like the httpx side; the SDK's default pool holds 10.
    http = urllib3.PoolManager(maxsize=concurrency, timeout=urllib3.Timeout(connect=5, read=REQUEST_TIMEOUT_S))
    client = Minio(
        f"127.0.0.1:{s3_port}",
        servers.S3_ACCESS_KEY,
        servers.S3_SECRET_KEY,
        secure=False,
        region=servers.S3_REGION,
        http_client=http,
    )
    run_id = uuid.uuid4().hex[:8]

    def put(i: int) -> None:
        client.put_object(
            BUCKET, f"bench/raw/{run_id}/{concurrency}/{i}.wav", io.BytesIO(audio), len(audio), "audio/wav"
        )

    return http, put


# --- memory on a big upload -----------------------------------------------------------------


def put_file(s3_port: int, path: Path) -> float:
    """The big upload's storage floor: the SDK streams the file in the parts the ingest service uses."""
    client = Minio(
        f"127.0.0.1:{s3_port}", servers.S3_ACCESS_KEY, servers.S3_SECRET_KEY, secure=False, region=servers.S3_REGION
    )
    started = time.perf_counter()
    client.fput_object(
        BUCKET,
        f"bench/raw/big-{uuid.uuid4().hex[:8]}.wav",
        str(path),
        "audio/wav",
        part_size=DEFAULT_PART_SIZE,
        num_parallel_uploads=UPLOAD_PARALLELISM,
    )
    return time.perf_counter() - started


def proc_status_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


@contextmanager
def rss_sampler(pid: int, every_s: float = 0.02) -> Iterator[list[int]]:
    """Collect VmRSS (KiB) of `pid` in a background thread while the block runs."""
    samples: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append(proc_status_kib(pid)["VmRSS"])
            done.wait(every_s)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        done.set()
        thread.join()


@dataclass(frozen=True)
class BigUpload:
    size: int
    seconds: float  # until the response
    body_seconds: float  # until the client had sent the last byte of the file
    status: int
    floor_seconds: tuple[float, float]  # minio fput_object of the same file, same part size: before, after
    rss_before_kib: int
    hwm_before_kib: int
    rss_peak_kib: int
    hwm_after_kib: int


class SendClock:
    """Read callback for the streamed file: ticks the progress bar, notes when the last byte went out."""

    def __init__(self, size: int, progress: tqdm[Any]) -> None:
        self.size = size
        self.read = 0
        self.progress = progress
        self.done_at = 0.0

    def __call__(self, n: int) -> None:
        self.read += n
        self.progress.update(n)
        if self.read >= self.size and not self.done_at:
            self.done_at = time.perf_counter()


def post_big(base_url: str, api_key: str, path: Path, pid: int) -> BigUpload:
    before = proc_status_kib(pid)
    size = path.stat().st_size
    with (
        httpx.Client(base_url=base_url, headers={"X-API-Key": api_key}, timeout=BIG_TIMEOUT_S) as client,
        path.open("rb") as file,
        tqdm(total=size, desc="1 GB post", unit="B", unit_scale=True, file=sys.stderr, leave=False) as progress,
        rss_sampler(pid) as samples,
    ):
        sent = SendClock(size, progress)
        # Streamed from the open file: httpx reads it in 64 KiB chunks (and seeks it for Content-Length).
        stream = CallbackIOWrapper(sent, file, "read")
        started = time.perf_counter()
        response = client.post(
            "/v1/recordings",
            files={"audio": ("big.wav", cast(IO[bytes], stream), "audio/wav")},
            data={"metadata": metadata(f"bench-big-{uuid.uuid4().hex[:8]}")},
        )
        seconds = time.perf_counter() - started
    if response.status_code != 201:
        tqdm.write(f"big upload: HTTP {response.status_code}: {response.text[:300]}", file=sys.stderr)
    after = proc_status_kib(pid)
    return BigUpload(
        size=size,
        seconds=seconds,
        body_seconds=(sent.done_at or started + seconds) - started,
        floor_seconds=(float("nan"), float("nan")),  # measured around this call, with the server idle
        status=response.status_code,
        rss_before_kib=before["VmRSS"],
        hwm_before_kib=before["VmHWM"],
        rss_peak_kib=max([*samples, after["VmRSS"]]),
        hwm_after_kib=after["VmHWM"],
    )


# --- the stack ------------------------------------------------------------------------------


@contextmanager
def paused(pids: list[int]) -> Iterator[None]:
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)  # before `down`, whose SIGTERM a stopped process would not act on


def fmt_mib(kib: int) -> str:
    return f"{kib / 1024:,.0f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32], help="levels (default 1 8 32)")
    parser.add_argument(
        "--requests", type=int, nargs="+", default=[50, 100, 150], help="posts per level (default 50 100 150)"
    )
    parser.add_argument("--big-mb", type=int, default=1024, help="size of the big upload in MiB; 0 skips it")
    parser.add_argument("--keep-workers", action="store_true", help="do not pause the downstream services")
    args = parser.parse_args()
    if len(args.requests) != len(args.concurrency):
        parser.error("give one --requests count per --concurrency level")

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="callqa-bench-ingest-") as tmp:
        home = Path(tmp)
        stack = import_stack(home / "callqa-home")
        ports = stack.Ports(
            s3=servers.free_port(),
            kafka=servers.free_port(),
            services={spec.name: servers.free_port() for spec in stack.SERVICES},
        )
        small = home / "call.wav"
        make_wav(small, wav_seconds(SMALL_BYTES, 8000), 8000)
        audio = small.read_bytes()

        print("starting the local stack (ministack, Tansu on s3://, 5 services) ...", file=sys.stderr, flush=True)
        try:
            state = stack.up(ports)
            workers = [] if args.keep_workers else [state.pids[name] for name in WORKERS]
            with paused(workers):
                levels, big = measure(args, stack, state, audio, home)
        finally:
            stack.down()  # stack.alive reaps the services, our children, as they exit

    # Other work on a 2-core machine moves these figures; the load average says how much there was.
    report(args, audio, levels, big, load=f"{load_before:.2f} -> {os.getloadavg()[0]:.2f}")


def measure(
    args: argparse.Namespace, stack: ModuleType, state: Any, audio: bytes, home: Path
) -> tuple[list[tuple[int, int, Level, Level]], BigUpload | None]:
    base_url = f"http://127.0.0.1:{state.ports.services[INGEST]}"
    api_key = stack.local_secrets()["ingest_api_key"]
    levels = []
    for concurrency, requests in zip(args.concurrency, args.requests, strict=True):
        # Storage floor first, then the API, at the same concurrency and request count.
        http, put = raw_putter(state.ports.s3, audio, concurrency)
        with http:
            raw = run_level(put, requests, concurrency, f"put_object c={concurrency}")
        client, post = ingest_poster(base_url, api_key, audio, concurrency)
        with client:
            ingest = run_level(post, requests, concurrency, f"ingest c={concurrency}")
        levels.append((concurrency, requests, ingest, raw))

    big = None
    if args.big_mb:
        path = home / "big.wav"
        print(f"generating a {args.big_mb} MiB WAV with sox ...", file=sys.stderr, flush=True)
        make_wav(path, wav_seconds(args.big_mb * 1024 * 1024, 48000), 48000)
        try:
            # The floor before and after the post, so drift in the store (or the machine) brackets it.
            floor_before = put_file(state.ports.s3, path)
            big = post_big(base_url, api_key, path, state.pids[INGEST])
            floor_after = put_file(state.ports.s3, path)
            big = dataclasses.replace(big, floor_seconds=(floor_before, floor_after))
        finally:
            path.unlink()  # do not keep a gigabyte around while the stack shuts down
    return levels, big


def report(
    args: argparse.Namespace,
    audio: bytes,
    levels: list[tuple[int, int, Level, Level]],
    big: BigUpload | None,
    load: str,
) -> None:
    print(
        f"\nPOST /v1/recordings with a {len(audio) / 1e6:.2f} MB stereo 8 kHz 16-bit WAV vs minio put_object of "
        f"the same bytes into the same ministack bucket; load average {load}\n"
    )
    header = (
        f"{'conc.':>5} {'posts':>5} {'ingest rec/s':>12} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'put/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>6} {'failed':>7}"
    )
    print(header)
    print("-" * len(header))
    for concurrency, requests, ingest, raw in levels:
        print(
            f"{concurrency:>5} {requests:>5} {ingest.rate:>12.1f} {ingest.p50_ms:>8.0f} {ingest.p99_ms:>8.0f} "
            f"{raw.rate:>8.1f} {raw.p50_ms:>8.0f} {raw.p99_ms:>8.0f} {ingest.rate / raw.rate:>6.2f} "
            f"{ingest.failures:>3}/{raw.failures:<3}"
        )
    print("ratio = ingest rec/s ÷ put_object/s (the storage floor); failed = ingest/put")
    if big is not None:
        mb = big.size / 1e6
        print(
            f"\n{big.size / 2**30:.2f} GiB WAV (48 kHz 16-bit stereo, {wav_seconds(big.size, 48000) / 3600:.2f} h), "
            f"streamed from disk: HTTP {big.status} in {big.seconds:.1f} s = {mb / big.seconds:.0f} MB/s end to end"
        )
        print(
            f"  body sent after {big.body_seconds:.1f} s ({mb / big.body_seconds:.0f} MB/s); the server's work after "
            f"the last byte (probe, hash, store, commit) took {big.seconds - big.body_seconds:.1f} s"
        )
        floor = statistics.mean(big.floor_seconds)
        print(
            f"  storage floor, minio fput_object of the same file: {big.floor_seconds[0]:.1f} s before, "
            f"{big.floor_seconds[1]:.1f} s after ({mb / floor:.0f} MB/s); ratio = floor time ÷ ingest time = "
            f"{floor / big.seconds:.2f}"
        )
        print(
            f"recorder-ingest RSS: before {fmt_mib(big.rss_before_kib)}, peak sampled {fmt_mib(big.rss_peak_kib)} "
            f"(growth {fmt_mib(big.rss_peak_kib - big.rss_before_kib)}); "
            f"VmHWM {fmt_mib(big.hwm_before_kib)} -> {fmt_mib(big.hwm_after_kib)}"
        )
    if not args.keep_workers:
        print("(downstream workers were paused while measuring)")


if __name__ == "__main__":
    main()
