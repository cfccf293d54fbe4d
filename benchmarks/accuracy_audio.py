"""Scorecard accuracy from audio: the labelled dialogues spoken by Kokoro-82M, through ingest → transcriber → scorer.

`benchmarks/accuracy.py` scores the corpus' written transcripts. This benchmark asks what is left of that
accuracy when the same dialogues are phone calls that have to be recognised first:

1. A bounded, deterministic sample of labelled dialogues of `tests/scorer/corpus/<part>` (default: the test
   part, 16 zh + 8 en; only dialogues with at least one `fail` label, chosen with `--seed` so that every item
   with a fail label in the part has one in the sample where the count allows).
2. Each dialogue becomes a call script in `samples/calls.yaml`'s format (a temporary YAML): roles on separate
   channels (agent left), or with `--mono` both mixed into one channel; the gaps between turns are the
   dialogue's (`pause_before_s`, default 0.6 s), talk-over (`overlap_s`, and the `agent_interruptions` /
   `customer_interruptions` overrides, placed the way callqa_stack.labelled places them) becomes a negative
   pause (kept short enough not to start before the turn it interrupts), and `first_response_latency_ms`
   becomes the pause before the agent's first answer. `callqa_stack.samples.render_calls(engine="kokoro")`
   renders them (8 kHz μ-law, a voice pair per call; its clips cached in `--clip-cache`).
3. The local stack starts on free ports with a throw-away CALLQA_HOME (the developer's `.callqa/` data is
   never touched; the whisper weights and Kokoro's clip cache are read from the checkout), every call is
   posted to recorder-ingest's `POST /v1/recordings`, the transcripts are read from `transcript.ready` and the
   evaluations from the scorer's `GET /v1/evaluations`, waiting at most `--wait-s`. The stack is stopped at
   the end, also on errors.

Printed, per item, per item kind, per language and overall: "problem found" (item failed) precision and
recall of (a) the same dialogues scored from their written transcripts (`callqa_stack.agreement.score`: the
text-only ceiling) and (b) the audio path. Items split into text items and metric items (speech_rate,
interruptions, dead_air, core_request_30s): the labels of metric items rest on timings and overrides that the
rendering reproduces only in part (Kokoro's own pace instead of `speech_rate_agent`, the transcriber's measured
gaps and overlaps instead of synthesised ones), so the text items are the fair audio figure. Also: WER (en) /
CER (zh) of the recognised text against the script (`transcriber.accuracy`; the transcripts the scorer sees
are redacted, so a redacted phone or card number counts as deleted), the share of key phrases of the default
cards said in the script that the transcript has, and speaker attribution: the share of recognised words whose
role is that of the script's turn at the word's time (for stereo the channel decides it; for `--mono` the
transcriber's clustering and agent detection). Disagreements are listed with `-v` on the dev part only, never
on the test part (nobody tunes on it).

    ./run bench accuracy_audio                        stereo, test part, 16 zh + 8 en (~20 min on 2 cores cold)
    ./run bench accuracy_audio --mono --per-language 8
    ./run bench accuracy_audio --part dev -v --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import yaml
from tqdm import tqdm

from callqa.transcripts import TranscriptDocument
from callqa_stack import samples, servers
from callqa_stack.agreement import Outcome, Tally, group, report, score
from callqa_stack.labelled import (
    CORPUS_DIR,
    DEFAULT_PAUSE_S,
    ITEM_IDS,
    METRIC_ITEMS,
    Dialogue,
    load_all,
    mark_interruptions,
)
from transcriber import hotwords
from transcriber.accuracy import cer, normalise_en, normalise_zh, wer

REPO_ROOT = servers.REPO_ROOT
SCORECARDS = REPO_ROOT / "services" / "scorer" / "src" / "scorer" / "scorecards"
DEFAULT_COUNTS = {"zh": 16, "en": 8}
TARGET = 0.90  # the issue: problem-found precision and recall from audio, overall
READY_TOPIC = "callqa.transcript.ready.v1"
TRANSCRIPTS_BUCKET = "callqa-transcripts"
STARTED_AT = "2026-11-20T10:00:00+08:00"
MIN_TALK_OVER_GAP_S = 0.2  # a talk-over starts at least this long after the turn it interrupts
OWN_TURN_GAP_S = 0.05  # and never on its own party's previous turn (render rounding)
LOST_SHARE = 0.2  # a script turn of which less than this share was recognised counts as lost
TURN_SLACK_S = 0.3  # word timestamps are this far off at a turn's edges
PLACEHOLDER = re.compile(r"\[[A-Z_]+\]")  # a redacted span: [PHONE], [BANK_CARD] ...
OVERRIDES_REPRODUCED = {
    "agent_interruptions": "talk-over",
    "customer_interruptions": "talk-over",
    "first_response_latency_ms": "pause",
    "speech_rate_agent": "no: Kokoro's pace",
    "speech_rate_customer": "no: Kokoro's pace",
    "non_talk": "no",
}


# --- the sample -----------------------------------------------------------------------------------------------


def choose(dialogues: Sequence[Dialogue], counts: Mapping[str, int], seed: int) -> list[Dialogue]:
    """Per language, `counts[language]` dialogues with at least one fail label: first greedily the ones that
    add the most items not yet failed in the sample (ties in a seeded shuffle's order), then the shuffle's order."""
    rng = random.Random(seed)
    chosen: list[Dialogue] = []
    for language, count in sorted(counts.items()):  # sorted: the same sample whatever order they were given in
        pool = sorted((d for d in dialogues if d.language == language and "fail" in d.expected.values()), key=_id)
        rng.shuffle(pool)
        picked: list[Dialogue] = []
        uncovered = {item for d in pool for item, label in d.expected.items() if label == "fail"}
        while uncovered and len(picked) < count:
            best = max(pool, key=lambda d: (len(uncovered & _fails(d)), -pool.index(d)))
            if not uncovered & _fails(best):
                break
            picked.append(best)
            pool.remove(best)
            uncovered -= _fails(best)
        picked += pool[: max(0, count - len(picked))]
        chosen += sorted(picked, key=_id)
    return chosen


def _id(dialogue: Dialogue) -> str:
    return dialogue.id


def _fails(dialogue: Dialogue) -> set[str]:
    return {item for item, label in dialogue.expected.items() if label == "fail"}


# --- call scripts and rendering -------------------------------------------------------------------------------


def script_pauses(dialogue: Dialogue) -> list[float]:
    """Each turn's pause_before_s for the renderer; negative = talk-over (callqa_stack.labelled's placement)."""
    specs = [dict(turn) for turn in dialogue.raw["turns"]]
    overrides = dialogue.raw.get("metrics") or {}
    for who in ("agent", "customer"):
        if f"{who}_interruptions" in overrides:
            mark_interruptions(specs, who, int(overrides[f"{who}_interruptions"]))
    if "first_response_latency_ms" in overrides:
        first_customer = next(i for i, turn in enumerate(specs) if turn["role"] == "customer")
        specs[first_customer + 1]["pause_before_s"] = overrides["first_response_latency_ms"] / 1000.0
    pauses = []
    for index, spec in enumerate(specs):
        if spec.get("overlap_s") and index:
            pauses.append(-float(spec["overlap_s"]))
        else:
            pauses.append(float(spec.get("pause_before_s", DEFAULT_PAUSE_S)))
    return pauses


def call_script(dialogue: Dialogue, pauses: Sequence[float], mono: bool) -> dict[str, Any]:
    return {
        "call_id": dialogue.id,
        "agent_id": f"agent-{dialogue.id}"[:100],
        "language": dialogue.language,
        "channel_layout": "mono" if mono else "agent_left",
        "started_at": STARTED_AT,
        "consent": {"status": "notified", "method": "ivr_announcement"},
        "turns": [
            {"role": turn["role"], "text": str(turn["text"]), "pause_before_s": round(pause, 3)}
            for turn, pause in zip(dialogue.raw["turns"], pauses, strict=True)
        ],
    }


def safe_pauses(pauses: Sequence[float], roles: Sequence[str], durations: Sequence[float]) -> list[float]:
    """Talk-over shortened where the rendered turns are too short for it: a turn starts at least
    MIN_TALK_OVER_GAP_S after the turn it interrupts began, and after its own party's previous turn ended."""
    result: list[float] = []
    previous_end = previous_begin = 0.0
    own_end: dict[str, float] = {}
    for pause, role, duration in zip(pauses, roles, durations, strict=True):
        begin = max(0.0, previous_end + pause)
        if pause < 0:
            lowest = max(previous_begin + MIN_TALK_OVER_GAP_S, own_end.get(role, 0.0) + OWN_TURN_GAP_S)
            if begin < lowest:
                pause = min(0.0, math.ceil((lowest - previous_end) * 1000) / 1000)
                begin = previous_end + pause
        result.append(pause)
        previous_begin, own_end[role] = begin, begin + duration
        previous_end = max(previous_end, begin + duration)
    return result


def render(
    dialogues: Sequence[Dialogue], work: Path, *, mono: bool, clip_cache: Path | None
) -> dict[str, samples.SampleCall]:
    """dialogue id -> its rendered call. Talk-over needs the turns' rendered lengths: the calls are rendered
    once without it (Kokoro's clips are cached, so the second pass only re-runs sox), then with it."""
    pauses = {d.id: script_pauses(d) for d in dialogues}

    def write(name: str, chosen: dict[str, list[float]]) -> Path:
        path = work / f"{name}.yaml"
        scripts = [call_script(d, chosen[d.id], mono) for d in dialogues]
        path.write_text(yaml.safe_dump({"calls": scripts}, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return path

    flat = {key: [max(0.0, p) for p in value] for key, value in pauses.items()}
    rendered = samples.render_calls(
        write("flat", flat), work / "flat", engine="kokoro", workers=2, clip_cache=clip_cache, progress=True
    )
    calls = {call.call_id: call for call in rendered}
    talk_over = [d for d in dialogues if any(p < 0 for p in pauses[d.id])]
    if talk_over:
        final = dict(flat)
        for d in talk_over:
            turns = calls[d.id].turns
            final[d.id] = safe_pauses(pauses[d.id], [t.role for t in turns], [t.end_s - t.begin_s for t in turns])
        rendered = samples.render_calls(
            write("calls", final), work / "calls", engine="kokoro", workers=2, clip_cache=clip_cache
        )
        calls = {call.call_id: call for call in rendered}
    return calls


# --- text measures ---------------------------------------------------------------------------------------------


def script_text(call: samples.SampleCall) -> str:
    joiner = "" if call.language == "zh" else " "
    return joiner.join(turn.text for turn in sorted(call.turns, key=lambda t: (t.begin_s, t.end_s)))


def transcript_text(doc: TranscriptDocument) -> str:
    joiner = "" if doc.language == "zh" else " "
    turns = sorted(doc.turns, key=lambda t: (t.begin_ms, t.end_ms))
    return joiner.join(PLACEHOLDER.sub(" ", turn.text) for turn in turns)


def error_rate(language: str, references: Sequence[str], hypotheses: Sequence[str]) -> float:
    if not references:
        return float("nan")
    return (cer if language == "zh" else wer)(list(references), list(hypotheses))


@dataclass
class PhraseRecall:
    said: int = 0  # occurrences in the scripts
    found: int = 0  # of those, in the transcripts

    def add(self, other: PhraseRecall) -> None:
        self.said += other.said
        self.found += other.found

    @property
    def recall(self) -> float:
        return self.found / self.said if self.said else float("nan")


@dataclass
class KeyPhrases:
    """The default card's key phrases of a language: those of requirement/bonus items (what hotwords carry)
    and all of them (deductions and auto-fails too)."""

    required: list[str]
    every: list[str]

    @classmethod
    def load(cls, language: str) -> KeyPhrases:
        card = hotwords.load_scorecard(SCORECARDS / f"default-{language}.yaml")
        return cls(hotwords.key_phrases(card), hotwords.key_phrases(card, kinds=None))


def _normalised_turns(texts: Iterable[str], language: str) -> str:
    if language == "zh":
        return "|".join("".join(normalise_zh(text)) for text in texts)
    return "|".join(" " + " ".join(normalise_en(text)) + " " for text in texts)


def _phrase(phrase: str, language: str) -> str:
    return "".join(normalise_zh(phrase)) if language == "zh" else " " + " ".join(normalise_en(phrase)) + " "


def phrase_recall(phrases: Sequence[str], language: str, script: Sequence[str], heard: Sequence[str]) -> PhraseRecall:
    """Occurrences of each phrase in the script's turns, and how many of them the transcript's turns have."""
    said_text, heard_text = _normalised_turns(script, language), _normalised_turns(heard, language)
    result = PhraseRecall()
    for phrase in phrases:
        key = _phrase(phrase, language)
        if not key.strip():
            continue
        said = said_text.count(key)
        result.said += said
        result.found += min(said, heard_text.count(key))
    return result


@dataclass
class Attribution:
    words: int = 0
    matched: int = 0
    calls: int = 0
    agent_right: int = 0  # calls where most of the agent's script words came out as the agent's
    methods: Counter[str] = field(default_factory=Counter)
    confidence: list[float] = field(default_factory=list)

    def add(self, other: Attribution) -> None:
        self.words += other.words
        self.matched += other.matched
        self.calls += other.calls
        self.agent_right += other.agent_right
        self.methods.update(other.methods)
        self.confidence += other.confidence

    @property
    def share(self) -> float:
        return self.matched / self.words if self.words else float("nan")


def attribution(call: samples.SampleCall, doc: TranscriptDocument) -> Attribution:
    """Each recognised word against the script's turn at its midpoint (the nearest turn when it falls in a gap;
    during talk-over either speaker's turn counts)."""
    result = Attribution(calls=1, methods=Counter([doc.speakers.method]), confidence=[doc.speakers.agent_confidence])
    agent_words = Counter[str]()
    for turn in doc.turns:
        for word in turn.words:
            middle = (word.begin_ms + word.end_ms) / 2000
            inside = {t.role for t in call.turns if t.begin_s <= middle <= t.end_s}
            if not inside:
                nearest = min(call.turns, key=lambda t: min(abs(t.begin_s - middle), abs(t.end_s - middle)))
                inside = {nearest.role}
            result.words += 1
            result.matched += turn.role in inside
            if inside == {"agent"}:
                agent_words[turn.role] += 1
    result.agent_right = int(bool(agent_words) and agent_words.most_common(1)[0][0] == "agent")
    return result


def lost_turns(call: samples.SampleCall, doc: TranscriptDocument) -> tuple[int, int]:
    """(script turns of which less than LOST_SHARE of the units were recognised at their time, all turns): a
    turn whisper skipped. Stereo counts the words of the turn's own role only; mono any word."""
    normalise = normalise_zh if call.language == "zh" else normalise_en
    words = [(turn.role, word) for turn in doc.turns for word in turn.words]
    lost = 0
    for script_turn in call.turns:
        said = len(normalise(script_turn.text))
        heard = sum(
            len(normalise(word.text))
            for role, word in words
            if (call.mono or role == script_turn.role)
            and script_turn.begin_s - TURN_SLACK_S
            <= (word.begin_ms + word.end_ms) / 2000
            <= script_turn.end_s + TURN_SLACK_S
        )
        lost += heard < LOST_SHARE * said
    return lost, len(call.turns)


# --- the stack ------------------------------------------------------------------------------------------------


def import_stack(home: Path) -> ModuleType:
    """`callqa_stack.stack` reads CALLQA_HOME once, at import: set it first (as benchmarks/ingest.py does)."""
    if "callqa_stack.stack" in sys.modules:
        raise RuntimeError("callqa_stack.stack was imported before CALLQA_HOME was set")
    os.environ["CALLQA_HOME"] = str(home)
    return importlib.import_module("callqa_stack.stack")


@contextlib.contextmanager
def local_stack(home: Path) -> Iterator[tuple[ModuleType, Any]]:
    stack = import_stack(home)
    ports = stack.Ports(
        s3=servers.free_port(),
        kafka=servers.free_port(),
        services={spec.name: servers.free_port() for spec in stack.SERVICES},
    )
    try:
        yield stack, stack.up(ports)
    finally:
        stack.down()  # stack.alive reaps the services, our children, as they exit


@dataclass
class AudioResult:
    recording_id: str
    document: TranscriptDocument | None = None
    evaluation: dict[str, Any] | None = None


def post_calls(base_url: str, api_key: str, calls: Sequence[samples.SampleCall]) -> dict[str, AudioResult]:
    posted: dict[str, AudioResult] = {}
    with httpx.Client(base_url=base_url, headers={"X-API-Key": api_key}, timeout=120) as client:
        for call in tqdm(calls, desc="posting", unit="call", file=sys.stderr, leave=False):
            with call.path.open("rb") as audio:
                response = client.post(
                    "/v1/recordings",
                    files={"audio": (call.path.name, audio, "audio/wav")},
                    data={"metadata": json.dumps(call.metadata)},
                )
            if response.status_code != 201:
                raise RuntimeError(f"{call.call_id}: HTTP {response.status_code} {response.text[:300]}")
            posted[call.call_id] = AudioResult(recording_id=response.json()["id"])
    return posted


async def collect(
    state: Any, admin_key: str, posted: Mapping[str, AudioResult], languages: Mapping[str, str], wait_s: float
) -> None:
    """Fill in each posted call's transcript (from transcript.ready) and evaluation (scorer API), until all are
    there or `wait_s` has passed."""
    from aiokafka import AIOKafkaConsumer
    from minio import Minio

    by_recording = {result.recording_id: (call_id, result) for call_id, result in posted.items()}
    store = Minio(
        f"127.0.0.1:{state.ports.s3}",
        servers.S3_ACCESS_KEY,
        servers.S3_SECRET_KEY,
        secure=False,
        region=servers.S3_REGION,
    )
    consumer = AIOKafkaConsumer(
        READY_TOPIC, bootstrap_servers=f"127.0.0.1:{state.ports.kafka}", auto_offset_reset="earliest"
    )
    scorer = f"http://127.0.0.1:{state.ports.services['scorer']}"
    deadline = time.monotonic() + wait_s
    await consumer.start()
    transcripts = tqdm(total=len(posted), desc="transcripts", unit="call", file=sys.stderr, position=0)
    evaluations = tqdm(total=len(posted), desc="evaluations", unit="call", file=sys.stderr, position=1)
    try:
        async with httpx.AsyncClient(base_url=scorer, headers={"X-API-Key": admin_key}, timeout=30) as client:
            next_poll = 0.0
            while time.monotonic() < deadline:
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    for record in records:
                        payload = json.loads(record.value)["payload"]
                        found = by_recording.get(payload["recording_id"])
                        if found is None or found[1].document is not None:
                            continue
                        document = payload.get("document")
                        if document is None:
                            response = store.get_object(TRANSCRIPTS_BUCKET, payload["transcript_key"])
                            try:
                                document = json.loads(response.read())
                            finally:
                                response.close()
                                response.release_conn()
                        found[1].document = TranscriptDocument.model_validate(document)
                        transcripts.update()
                if time.monotonic() >= next_poll:
                    next_poll = time.monotonic() + 3
                    page = (await client.get("/v1/evaluations", params={"limit": 500})).raise_for_status().json()
                    for evaluation in page["items"]:
                        found = by_recording.get(evaluation["recording_id"])
                        if found is None or found[1].evaluation is not None:
                            continue
                        if evaluation["scorecard_id"] == f"default-{languages[found[0]]}":
                            found[1].evaluation = evaluation
                            evaluations.update()
                if all(r.document is not None and r.evaluation is not None for r in posted.values()):
                    break
    finally:
        transcripts.close()
        evaluations.close()
        await consumer.stop()


def audio_outcomes(dialogues: Sequence[Dialogue], results: Mapping[str, AudioResult]) -> list[Outcome]:
    outcomes = []
    for dialogue in dialogues:
        evaluation = results[dialogue.id].evaluation
        by_id = {item["item_id"]: item for item in (evaluation or {}).get("items", [])}
        for item_id, expected in dialogue.expected.items():
            item = by_id.get(item_id)
            got = str(item["result"]) if item else "missing"
            evidence = "; ".join(
                f"{e.get('turn_id') or '-'}@{e.get('begin_ms')}: {e.get('text')!r}"
                for e in (item or {}).get("evidence", [])
            )
            outcomes.append(Outcome(dialogue, item_id, expected, got, evidence))
    return outcomes


# --- reporting ------------------------------------------------------------------------------------------------


def kind_of(outcome: Outcome) -> str:
    return "metric items" if outcome.item_id in METRIC_ITEMS else "text items"


def side_by_side(text: Sequence[Outcome], audio: Sequence[Outcome]) -> str:
    """Per item and overall: precision / recall from the transcripts and from the audio, and how often the
    audio's result is the transcripts' result."""
    header = (
        f"{'':<22} {'n':>4} {'pos':>4} | {'(a) P':>6} {'R':>6} | {'(b) P':>7} {'R':>6} {'fp':>3} {'fn':>3}"
        f" | {'same':>5}"
    )
    lines = [header, "-" * len(header)]

    def line(name: str, a: Tally, b: Tally) -> str:
        same = sum(x.got == y.got for x, y in zip(a.outcomes, b.outcomes, strict=True)) / max(1, a.total)
        return (
            f"{name:<22} {a.total:>4} {a.positives:>4} | {a.precision:>6.3f} {a.recall:>6.3f} |"
            f" {b.precision:>7.3f} {b.recall:>6.3f} {b.fp:>3} {b.fn:>3} | {same:>5.2f}"
        )

    def both(key: Any) -> Iterator[tuple[str, Tally, Tally]]:
        a, b = group(text, key), group(audio, key)
        for name in a:
            yield name, a[name], b[name]

    by_item = dict((name, (a, b)) for name, a, b in both(lambda o: o.item_id))
    lines += [line(item, *by_item[item]) for item in ITEM_IDS if item in by_item]
    lines.append("-" * len(header))
    lines += [line(name, a, b) for name, a, b in sorted(both(kind_of))]
    lines += [line(f"{name} {kind}", a, b) for (name, kind), a, b in _by_language_and_kind(text, audio)]
    lines += [line(name, a, b) for name, a, b in sorted(both(lambda o: o.dialogue.language))]
    lines += [line("overall", a, b) for _name, a, b in both(lambda o: "all")]
    return "\n".join(lines)


def _by_language_and_kind(
    text: Sequence[Outcome], audio: Sequence[Outcome]
) -> list[tuple[tuple[str, str], Tally, Tally]]:
    a = group(text, lambda o: f"{o.dialogue.language}\t{kind_of(o)}")
    b = group(audio, lambda o: f"{o.dialogue.language}\t{kind_of(o)}")
    return [(tuple(key.split("\t")), a[key], b[key]) for key in sorted(a)]  # type: ignore[misc]


def figures(outcomes: Sequence[Outcome]) -> dict[str, float | int]:
    result: dict[str, float | int] = {}
    for name, tally in [
        *group(outcomes, lambda o: "overall").items(),
        *group(outcomes, kind_of).items(),
        *group(outcomes, lambda o: o.dialogue.language).items(),
        *group(outcomes, lambda o: o.item_id).items(),
    ]:
        result |= {f"{name}.precision": tally.precision, f"{name}.recall": tally.recall, f"{name}.n": tally.total}
    return result


def revision() -> str:
    """The checkout the figures come from: commit, and whether the scorer or transcriber had uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO_ROOT)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "services/scorer", "services/transcriber"],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
        )
    except OSError:
        return "commit unknown"
    changed = " (+ uncommitted changes in services/scorer or services/transcriber)" if dirty.stdout.strip() else ""
    return f"commit {head.stdout.strip() or 'unknown'}{changed}"


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def parse_counts(args: argparse.Namespace) -> dict[str, int]:
    counts = dict(DEFAULT_COUNTS)
    if args.per_language is not None:
        counts = dict.fromkeys(counts, args.per_language)
    return {language: counts[language] for language in args.languages}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="benchmarks/accuracy_audio.py",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    parser.add_argument("--part", choices=("dev", "test"), default="test", help="corpus part (default: test)")
    parser.add_argument("--per-language", type=int, default=None, help="dialogues per language (default: 16 zh, 8 en)")
    parser.add_argument("--languages", nargs="+", choices=sorted(DEFAULT_COUNTS), default=sorted(DEFAULT_COUNTS))
    parser.add_argument("--seed", type=int, default=12, help="sample seed (default 12)")
    parser.add_argument("--mono", action="store_true", help="both parties on one channel (posted as mono)")
    parser.add_argument(
        "--hotwords", action="store_true", help="the stack's transcriber biases towards the default cards' phrases"
    )
    parser.add_argument(
        "--clip-cache",
        type=Path,
        default=samples.DEFAULT_CLIP_CACHE,
        help=f"Kokoro clip cache (default {samples.DEFAULT_CLIP_CACHE.relative_to(REPO_ROOT)}, the demo's)",
    )
    parser.add_argument(
        "--wait-s", type=float, default=None, help="longest wait for the results (default 600 + audio s)"
    )
    parser.add_argument("--full", action="store_true", help="also both full reports (tp/fp/fn, item kinds)")
    parser.add_argument("-v", "--verbose", action="store_true", help="list disagreements (dev part only)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument(
        "--keep", type=Path, default=None, help="write each call's script timing, transcript and evaluation here (JSON)"
    )
    args = parser.parse_args(argv)

    started, load_before = time.monotonic(), load_average()
    dialogues = load_all(CORPUS_DIR / args.part)
    chosen = choose(dialogues, parse_counts(args), args.seed)
    layout = "mono (both parties on one channel)" if args.mono else "stereo (agent left, customer right)"
    print(
        f"{args.part} part: {len(chosen)} of {len(dialogues)} dialogues "
        f"({', '.join(f'{n} {lang}' for lang, n in sorted(Counter(d.language for d in chosen).items()))}), "
        f"seed {args.seed}, {layout}; {revision()}; load average {load_before}",
        flush=True,
    )
    overrides = Counter(key for d in chosen for key in (d.raw.get("metrics") or {}))
    if overrides:
        print(
            "metric overrides in the sample: "
            + ", ".join(
                f"{key} ×{n} (reproduced: {OVERRIDES_REPRODUCED.get(key, 'no')})"
                for key, n in sorted(overrides.items())
            ),
            flush=True,
        )

    with tempfile.TemporaryDirectory(prefix="callqa-bench-accuracy-audio-") as tmp:
        work = Path(tmp)
        render_started = time.monotonic()
        calls = render(chosen, work, mono=args.mono, clip_cache=args.clip_cache)
        render_s = time.monotonic() - render_started
        audio_s = sum(call.duration_s for call in calls.values())
        print(f"rendered {len(calls)} calls, {audio_s:.0f} s of audio, in {render_s:.0f} s", flush=True)

        if args.hotwords:
            cards = [str(SCORECARDS / f"default-{language}.yaml") for language in DEFAULT_COUNTS]
            os.environ["CALLQA_TRANSCRIBER_ASR__HOTWORDS_SCORECARDS"] = json.dumps(cards)
        print("starting the local stack (ministack, Tansu on s3://, 5 services) on free ports ...", file=sys.stderr)
        with local_stack(work / "callqa-home") as (stack, state):
            secrets = stack.local_secrets()
            ingest = f"http://127.0.0.1:{state.ports.services['recorder-ingest']}"
            pipeline_started = time.monotonic()
            posted = post_calls(ingest, secrets["ingest_api_key"], [calls[d.id] for d in chosen])
            wait_s = args.wait_s if args.wait_s is not None else 600 + audio_s
            languages = {d.id: d.language for d in chosen}
            asyncio.run(collect(state, secrets["admin_api_key"], posted, languages, wait_s))
            pipeline_s = time.monotonic() - pipeline_started

    # Scored from the transcripts now, not before the stack started: the scorer on disk may have changed meanwhile
    # (the check below, API = local scoring of the same transcripts, would show it).
    text_outcomes = score(chosen)
    missing = [d.id for d in chosen if posted[d.id].evaluation is None or posted[d.id].document is None]
    audio = audio_outcomes(chosen, posted)
    verbose = args.verbose and args.part != "test"
    if args.full or verbose:
        print()
        print(report(text_outcomes, f"(a) the written transcripts of the {len(chosen)} dialogues", disagreements=False))
        print()
        print(report(audio, f"(b) the same dialogues from audio, {layout}", disagreements=verbose))
    print(
        f"\nproblem found (item failed) precision P and recall R of the default cards on {len(chosen)} dialogues:"
        f" (a) from their written transcripts, (b) from audio, {layout}; fp/fn: the audio's;"
        " same: share of items where the audio's result is the transcripts'"
    )
    print(side_by_side(text_outcomes, audio))
    if missing:
        print(
            f"\n{len(missing)} calls without a transcript or an evaluation within {wait_s:.0f} s (counted as "
            f"'missing', never a fail): {', '.join(missing)}"
        )

    # What the recogniser made of the speech: errors, key phrases, who said it.
    print(f"\nrecognition (redacted transcripts as the scorer sees them; {layout}):")
    json_asr: dict[str, Any] = {}
    documents = {d.id: doc for d in chosen if (doc := posted[d.id].document) is not None}
    local = score([d for d in chosen if d.id in documents], documents=documents)
    api = {(o.dialogue.id, o.item_id): o.got for o in audio}
    agree = sum(api[(o.dialogue.id, o.item_id)] == o.got for o in local)
    for language in sorted({d.language for d in chosen}):
        done = [d for d in chosen if d.language == language and d.id in documents]
        refs = [script_text(calls[d.id]) for d in done]
        hyps = [transcript_text(documents[d.id]) for d in done]
        phrases = KeyPhrases.load(language)
        required, every, attributed = PhraseRecall(), PhraseRecall(), Attribution()
        lost = turns = 0
        for d in done:
            doc = documents[d.id]
            call_lost, call_turns = lost_turns(calls[d.id], doc)
            lost, turns = lost + call_lost, turns + call_turns
            script = [t.text for t in sorted(calls[d.id].turns, key=lambda t: t.begin_s)]
            heard = [PLACEHOLDER.sub(" ", t.text) for t in sorted(doc.turns, key=lambda t: t.begin_ms)]
            required.add(phrase_recall(phrases.required, language, script, heard))
            every.add(phrase_recall(phrases.every, language, script, heard))
            attributed.add(attribution(calls[d.id], doc))
        measure = "CER" if language == "zh" else "WER"
        rate = error_rate(language, refs, hyps)
        confidence = sorted(attributed.confidence)
        print(
            f"  {language}: {measure} {rate:.1%} over {len(done)} calls, {lost}/{turns} script turns lost (less than "
            f"{LOST_SHARE:.0%} recognised); key phrases of the default card said in the "
            f"script and found in the transcript: requirement items {required.found}/{required.said} "
            f"({required.recall:.1%}), all items {every.found}/{every.said} ({every.recall:.1%}); words attributed to "
            f"the script's speaker {attributed.matched}/{attributed.words} ({attributed.share:.1%}), agent found "
            f"in {attributed.agent_right}/{attributed.calls} calls, methods {dict(attributed.methods)}, "
            f"agent confidence median {confidence[len(confidence) // 2] if confidence else float('nan'):.2f}"
        )
        json_asr[language] = {
            measure.lower(): rate,
            "phrase_recall_required": required.recall,
            "phrase_recall_all": every.recall,
            "attribution": attributed.share,
            "agent_found": attributed.agent_right,
            "calls": len(done),
            "turns_lost": lost,
            "turns": turns,
        }
    print(f"  the API's evaluations = local scoring of the same transcripts on {agree}/{len(local)} items")

    overall = group(audio, lambda o: "all")["all"]
    text_items = group([o for o in audio if o.item_id not in METRIC_ITEMS], lambda o: "all")["all"]
    for name, tally in (("overall", overall), ("text items", text_items)):
        met = min(tally.precision, tally.recall) >= TARGET
        print(
            f"target: from audio, {name} precision {tally.precision:.3f} and recall {tally.recall:.3f} >= {TARGET}: "
            f"{'met' if met else 'NOT met'}"
        )
    total_s = time.monotonic() - started
    print(
        f"\n{audio_s:.0f} s of audio: rendering {render_s:.0f} s, post → last evaluation {pipeline_s:.0f} s, "
        f"all {total_s / 60:.1f} min; load average {load_before} -> {load_average()}"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "date": datetime.now(UTC).isoformat(timespec="seconds"),
                    "revision": revision(),
                    "part": args.part,
                    "mono": args.mono,
                    "hotwords": args.hotwords,
                    "seed": args.seed,
                    "dialogues": [d.id for d in chosen],
                    "audio_s": audio_s,
                    "missing": missing,
                    "text": figures(text_outcomes),
                    "audio": figures(audio),
                    "recognition": json_asr,
                },
                indent=1,
            )
        )
    if args.keep:
        kept = {
            d.id: {
                "script": [dict(vars(turn)) for turn in calls[d.id].turns],
                "transcript": posted[d.id].document.model_dump(mode="json") if posted[d.id].document else None,
                "evaluation": posted[d.id].evaluation,
            }
            for d in chosen
        }
        args.keep.write_text(json.dumps(kept, ensure_ascii=False, indent=1), encoding="utf-8")
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
