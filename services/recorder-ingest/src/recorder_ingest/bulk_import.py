"""Bulk import of an existing call-recording archive through the public upload API.

Every file goes through `POST /v1/recordings`, the path the telephony platform takes, so consent,
retention, idempotency and the `recording.stored` event behave exactly as for live calls.

    python -m recorder_ingest import FOLDER --manifest MANIFEST [--url URL] [--api-key KEY]
        [--concurrency N] [--state FILE]

A JSON-lines state file records each finished entry, so a rerun after a crash or Ctrl-C skips what
was already stored and retries the rest.
"""

from __future__ import annotations

import argparse
import csv
import json
import mimetypes
import os
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

import httpx
from tqdm import tqdm  # tqdm ships no type hints

from callqa.http import ProblemError
from recorder_ingest.api.recordings import parse_metadata

UPLOAD_PATH = "/v1/recordings"
API_KEY_ENV = "CALLQA_IMPORT_API_KEY"
DEFAULT_URL = "http://127.0.0.1:8001"
# Large recordings are probed and copied to the object store before the API answers.
UPLOAD_TIMEOUT = httpx.Timeout(600.0, connect=10.0)
RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
CONSENT_COLUMNS = {"consent_status": "status", "consent_method": "method", "consent_at": "at"}
TAG_SEPARATORS = re.compile(r"[;|]")


class Outcome(StrEnum):
    created = "created"
    already_present = "already_present"
    conflict = "conflict"
    rejected = "rejected"
    failed = "failed"


DONE = frozenset({Outcome.created, Outcome.already_present})


class ManifestError(Exception):
    """The manifest as a whole cannot be read (not one bad row: those are rejected entries)."""


class ImportRefused(Exception):
    """The API refused our credentials: every further upload would fail the same way."""


@dataclass(frozen=True)
class Entry:
    where: str  # "line 3" (CSV) or "item 2" (JSON): how the operator finds the row
    file: str
    metadata: dict[str, Any]
    problem: str | None = None  # found while parsing the row

    @property
    def call_id(self) -> str:
        return str(self.metadata.get("call_id") or "")

    @property
    def key(self) -> tuple[str, str]:
        return self.call_id, self.file


@dataclass(frozen=True)
class Result:
    entry: Entry
    outcome: Outcome
    recording_id: str | None = None
    detail: str | None = None

    def state_line(self) -> str:
        record = {
            "call_id": self.entry.call_id,
            "file": self.entry.file,
            "where": self.entry.where,
            "outcome": self.outcome.value,
            "recording_id": self.recording_id,
            "detail": self.detail,
        }
        return json.dumps(record, ensure_ascii=False) + "\n"


# --- manifest ---------------------------------------------------------------------------------


def read_manifest(path: Path) -> list[Entry]:
    """Entries of a CSV manifest (header row) or a JSON manifest (a list of objects)."""
    try:
        if path.suffix.lower() == ".json":
            return _json_entries(json.loads(path.read_text(encoding="utf-8")))
        with path.open(encoding="utf-8-sig", newline="") as handle:  # -sig: spreadsheets write a BOM
            return list(_csv_entries(handle))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, csv.Error) as exc:
        raise ManifestError(f"{path}: {exc}") from exc


def _csv_entries(handle: TextIO) -> Iterator[Entry]:
    reader = csv.DictReader(handle)
    if "file" not in (reader.fieldnames or ()):
        raise ManifestError("the CSV header has no 'file' column")
    for row in reader:
        where = f"line {reader.line_num}"
        extra = row.pop(None, None)  # DictReader files surplus cells under the key None
        problem = f"{len(extra)} more cells than header columns" if extra else None
        file = (row.pop("file") or "").strip()
        yield Entry(where, file, metadata_from_columns(row), problem)


def _json_entries(document: Any) -> list[Entry]:
    if not isinstance(document, list):
        raise ManifestError("a JSON manifest is a list of objects")
    return [_json_entry(f"item {index}", item) for index, item in enumerate(document, start=1)]


def _json_entry(where: str, item: Any) -> Entry:
    if not isinstance(item, dict):
        return Entry(where, "", {}, "not a JSON object")
    fields = dict(item)
    file = str(fields.pop("file", "") or "").strip()
    nested = fields.pop("metadata", None)
    if isinstance(nested, dict):
        problem = f"fields beside 'metadata': {', '.join(sorted(fields))}" if fields else None
        return Entry(where, file, nested, problem)
    return Entry(where, file, metadata_from_columns(fields))


def metadata_from_columns(columns: Mapping[str, Any]) -> dict[str, Any]:
    """The API's metadata document from flat columns; empty cells mean "not given"."""
    metadata: dict[str, Any] = {}
    consent: dict[str, Any] = {}
    for name, raw in columns.items():
        value = raw.strip() if isinstance(raw, str) else raw
        if value is None or value == "":
            continue
        if name in CONSENT_COLUMNS:
            consent[CONSENT_COLUMNS[name]] = value
        elif name == "tags" and isinstance(value, str):
            metadata["tags"] = [tag.strip() for tag in TAG_SEPARATORS.split(value) if tag.strip()]
        else:
            metadata[name] = value
    if consent:
        metadata["consent"] = consent
    return metadata


def check_entries(entries: Iterable[Entry], folder: Path) -> Iterator[tuple[Entry, str | None]]:
    """Each entry with why it cannot be posted (None when it can), before anything is uploaded."""
    first_seen: dict[str, str] = {}
    for entry in entries:
        problem = entry.problem or _file_problem(folder, entry.file) or _metadata_problem(entry.metadata)
        if problem is None and entry.call_id in first_seen:
            problem = f"call_id {entry.call_id!r} is also on {first_seen[entry.call_id]}"
        first_seen.setdefault(entry.call_id, entry.where)
        yield entry, problem


def _file_problem(folder: Path, file: str) -> str | None:
    if not file:
        return "no file given"
    return None if (folder / file).is_file() else f"file not found: {folder / file}"


def _metadata_problem(metadata: dict[str, Any]) -> str | None:
    # The server's own parser, so the operator sees the same messages the API would give.
    try:
        parse_metadata(json.dumps(metadata))
    except ProblemError as exc:
        return exc.problem.detail
    return None


# --- state file -------------------------------------------------------------------------------


def default_state_path(manifest: Path) -> Path:
    return manifest.with_name(manifest.name + ".import-state.jsonl")


def load_finished(path: Path) -> set[tuple[str, str]]:
    """(call_id, file) of entries an earlier run stored, created or already present."""
    finished: set[tuple[str, str]] = set()
    if not path.exists():
        return finished
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short when a run was killed mid-write
        if isinstance(record, dict) and record.get("outcome") in DONE:
            finished.add((str(record.get("call_id", "")), str(record.get("file", ""))))
    return finished


class StateLog:
    """Append-only: one flushed line per finished entry, so a killed run loses at most the line in flight."""

    def __init__(self, path: Path) -> None:
        self._handle = path.open("a", encoding="utf-8")

    def write(self, result: Result) -> None:
        self._handle.write(result.state_line())
        self._handle.flush()

    def __enter__(self) -> StateLog:
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._handle.close()


# --- uploading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backoff:
    """Retries of transient failures (503 while the object store is down, dropped connections)."""

    attempts: int = 5
    base_s: float = 1.0
    cap_s: float = 60.0
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.cap_s)
        # Full jitter keeps parallel workers from retrying in lockstep.
        return random.uniform(0, min(self.cap_s, self.base_s * 2**attempt))


def post_entry(client: httpx.Client, folder: Path, entry: Entry, api_key: str, backoff: Backoff) -> Result:
    detail = ""
    for attempt in range(backoff.attempts):
        try:
            response = _send(client, folder / entry.file, entry.metadata, api_key)
        except httpx.TransportError as exc:
            retry_after, detail = None, f"{type(exc).__name__}: {exc}"
        else:
            if response.status_code not in RETRYABLE_STATUS:
                return classify(entry, response)
            retry_after, detail = retry_after_s(response), problem_detail(response)
        if attempt + 1 < backoff.attempts:
            backoff.sleep(backoff.delay(attempt, retry_after))
    return Result(entry, Outcome.failed, detail=f"gave up after {backoff.attempts} attempts: {detail}")


def _send(client: httpx.Client, path: Path, metadata: dict[str, Any], api_key: str) -> httpx.Response:
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    # httpx streams an open file in chunks: a multi-GB recording is never held in memory.
    with path.open("rb") as audio:
        return client.post(
            UPLOAD_PATH,
            files={"audio": (path.name, audio, content_type)},
            data={"metadata": json.dumps(metadata)},
            headers={"X-API-Key": api_key},
        )


def classify(entry: Entry, response: httpx.Response) -> Result:
    status = response.status_code
    if status in (401, 403):
        raise ImportRefused(problem_detail(response))
    if status in (200, 201):
        outcome = Outcome.created if status == 201 else Outcome.already_present
        return Result(entry, outcome, recording_id=response.json()["id"])
    if status == 409:
        return Result(entry, Outcome.conflict, detail=problem_detail(response))
    outcome = Outcome.rejected if 400 <= status < 500 else Outcome.failed
    return Result(entry, outcome, detail=problem_detail(response))


def problem_detail(response: httpx.Response) -> str:
    try:
        problem = response.json()
    except ValueError:
        return f"{response.status_code}: {response.text[:200]}"
    if not isinstance(problem, dict):
        return f"{response.status_code}: {str(problem)[:200]}"
    title = f"{response.status_code} {problem.get('title', '')}".strip()
    return f"{title}: {problem['detail']}" if problem.get("detail") else title


def retry_after_s(response: httpx.Response) -> float | None:
    """`Retry-After` as seconds: either a number or an HTTP date."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def post_all(
    client: httpx.Client, folder: Path, entries: Sequence[Entry], api_key: str, concurrency: int, backoff: Backoff
) -> Iterator[Result]:
    """Results in completion order, at most `concurrency` uploads in flight."""
    refusals: list[ImportRefused] = []

    def post(entry: Entry) -> Result:
        # A refused key is refused for every entry: once seen, later uploads do not start.
        if refusals:
            raise ImportRefused(str(refusals[0]))
        try:
            return post_entry(client, folder, entry, api_key, backoff)
        except ImportRefused as exc:
            refusals.append(exc)
            raise

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="import") as pool:
        futures = [pool.submit(post, entry) for entry in entries]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            # On Ctrl-C, queued uploads never start; those in flight finish.
            for future in futures:
                future.cancel()


# --- the import -------------------------------------------------------------------------------


@dataclass
class ImportSummary:
    counts: Counter[Outcome] = field(default_factory=Counter)
    skipped: int = 0  # stored by an earlier run, per the state file
    problems: list[Result] = field(default_factory=list)

    def add(self, result: Result) -> None:
        self.counts[result.outcome] += 1
        if result.outcome not in DONE:
            self.problems.append(result)

    @property
    def ok(self) -> bool:
        return not (self.counts[Outcome.rejected] or self.counts[Outcome.failed])

    def brief(self) -> str:
        return ", ".join(f"{outcome.value}={self.counts[outcome]}" for outcome in Outcome)

    def render(self) -> str:
        lines = [
            f"created:          {self.counts[Outcome.created]}",
            f"already present:  {self.counts[Outcome.already_present]}",
            f"skipped (done in an earlier run): {self.skipped}",
            f"conflicts:        {self.counts[Outcome.conflict]}",
            f"rejected:         {self.counts[Outcome.rejected]}",
            f"failed:           {self.counts[Outcome.failed]}",
        ]
        lines += [
            f"{r.entry.where} ({r.entry.call_id or '-'}, {r.entry.file or '-'}): {r.outcome.value}: {r.detail}"
            for r in self.problems
        ]
        return "\n".join(lines)


def run_import(
    folder: Path,
    manifest: Path,
    client: httpx.Client,
    *,
    api_key: str,
    state_path: Path | None = None,
    concurrency: int = 4,
    progress: bool = True,
    backoff: Backoff = Backoff(),  # frozen, so sharing the default is safe
) -> ImportSummary:
    """Post every manifest entry not yet stored; `client` carries the base URL (a TestClient works)."""
    entries = read_manifest(manifest)
    state_path = state_path or default_state_path(manifest)
    finished = load_finished(state_path)
    summary = ImportSummary()
    pending: list[Entry] = []
    with StateLog(state_path) as state:
        for entry, problem in check_entries(entries, folder):
            if entry.key in finished:
                summary.skipped += 1
            elif problem is not None:
                _finish(Result(entry, Outcome.rejected, detail=problem), summary, state)
            else:
                pending.append(entry)
        with tqdm(total=len(pending), unit="call", file=sys.stderr, disable=not (progress and pending)) as bar:
            for result in post_all(client, folder, pending, api_key, concurrency, backoff):
                _finish(result, summary, state)
                bar.set_postfix_str(summary.brief(), refresh=False)
                bar.update()
    return summary


def _finish(result: Result, summary: ImportSummary, state: StateLog) -> None:
    state.write(result)
    summary.add(result)


# --- command line -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportArgs:
    folder: Path
    manifest: Path
    url: str
    api_key: str
    concurrency: int
    state: Path | None


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m recorder_ingest import",
        description="Post an existing archive of recordings through the upload API, resumably.",
    )
    parser.add_argument("folder", type=Path, help="folder the manifest's file paths are relative to")
    parser.add_argument(
        "--manifest", type=Path, required=True, help="CSV (header: file + metadata columns) or JSON list"
    )
    parser.add_argument("--url", default=DEFAULT_URL, help=f"recorder-ingest base URL (default {DEFAULT_URL})")
    parser.add_argument("--api-key", help=f"platform API key (default: ${API_KEY_ENV}; prefer the variable)")
    parser.add_argument("--concurrency", type=_positive_int, default=4, help="uploads in flight (default 4)")
    parser.add_argument("--state", type=Path, help="resume file (default: MANIFEST.import-state.jsonl)")
    return parser


def parse_args(argv: Sequence[str], environ: Mapping[str, str] = os.environ) -> ImportArgs:
    parser = build_parser()
    args = parser.parse_args(argv)
    api_key = args.api_key or environ.get(API_KEY_ENV)
    if not api_key:
        parser.error(f"an API key is required: --api-key or ${API_KEY_ENV}")
    return ImportArgs(args.folder, args.manifest, args.url, api_key, args.concurrency, args.state)


def main(argv: Sequence[str]) -> int:
    """Exit status: 0 all stored, 1 something rejected or failed, 2 the import could not run."""
    args = parse_args(argv)
    with httpx.Client(base_url=args.url, timeout=UPLOAD_TIMEOUT) as client:
        try:
            summary = run_import(
                args.folder,
                args.manifest,
                client,
                api_key=args.api_key,
                state_path=args.state,
                concurrency=args.concurrency,
            )
        except (ManifestError, ImportRefused) as exc:
            print(f"import stopped: {exc}", file=sys.stderr)
            return 2
    print(summary.render())
    return 0 if summary.ok else 1
