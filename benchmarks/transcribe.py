"""Transcription throughput and accuracy: `TranscriptionPipeline.run()` vs a plain faster-whisper call.

Side by side on the same audio and the same weights (whisper base, int8, CPU):

- baseline: what a naive setup does, `WhisperModel(model_dir, compute_type=int8).transcribe(mono, language=…)`
  with faster-whisper's defaults (beam 5, no VAD, no word timestamps), a stereo call first downmixed to
  mono (`faster_whisper.decode_audio`);
- callqa: `TranscriptionPipeline(Settings()).run(path, call)` with the project's defaults, the language
  given as the metadata gives it (per-channel VAD, recognition per channel, word-timestamp merge, metrics,
  PII redaction).

The audio: the six synthetic stereo demo calls (`samples/calls.yaml`, 8 kHz μ-law, 3 zh + 3 en) and the
real clips the tests use (5 LibriVox clips at 16 kHz and as 8 kHz telephony, the Mandarin f5-tts clip at
8 kHz, both mono). Each variant runs in its own process, so its peak RSS (`wait4` of that child) is its own;
the model is loaded and warmed up before the clock starts. Throughput = audio seconds ÷ wall seconds of
transcription (decoding included); RTF = its inverse. Errors are corpus WER (en) / CER (zh) after the
normalisation of `transcriber.accuracy`: for the calls, the script's turn texts in time order against the
transcript's turns in time order; for the clips, the whole text. callqa is scored on its turns *before*
redaction (a redacted phone number is not a recognition error); redaction still runs inside the clock.

The machine is shared, so each variant runs `--repeat` times, alternating, and the fastest run counts.

    ./run bench transcribe                       baseline vs callqa defaults, then 1 vs 2 worker processes
    ./run bench transcribe --sweep               also batch size, beam, threads and compute type (~10 more min)
    ./run bench transcribe --set batch_size=16 --set beam_size=1   the callqa side with other AsrSettings
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

SCRIPT = Path(__file__).resolve()
TARGET_SPEEDUP = 2.0  # the target: callqa at least twice the baseline's throughput ...
TARGET_ERROR_POINTS = 1.0  # ... with an error rate at most this many points above the baseline's
# Groups of audio: (key, label, short label, language). Each gets an error row; the calls feed the worker run.
GROUPS = (
    ("calls-en", "stereo calls en (synthetic, 8 kHz)", "calls en", "en"),
    ("calls-zh", "stereo calls zh (synthetic, 8 kHz)", "calls zh", "zh"),
    ("librivox-16k", "LibriVox 16 kHz (real, mono)", "LV 16k", "en"),
    ("librivox-8k", "LibriVox 8 kHz telephony (real, mono)", "LV 8k", "en"),
    ("mandarin-8k", "Mandarin 8 kHz telephony (real, mono)", "zh 8k", "zh"),
)
CALL_GROUPS = ("calls-en", "calls-zh")
# --sweep: AsrSettings overrides for the callqa side, each on top of the project's defaults.
SWEEP: tuple[dict[str, Any], ...] = (
    {"batch_size": 0, "beam_size": 5},
    {"batch_size": 0, "beam_size": 1},
    {"batch_size": 8, "beam_size": 1},
    {"batch_size": 16, "beam_size": 5},
    {"batch_size": 16, "beam_size": 1},
    {"batch_size": 8, "beam_size": 5, "cpu_threads": 1},
    {"batch_size": 8, "beam_size": 5, "cpu_threads": 2},
    {"batch_size": 8, "beam_size": 1, "cpu_threads": 2},
    {"batch_size": 8, "beam_size": 5, "cpu_threads": 2, "compute_type": "float32"},
)


# --- the audio ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One recording with its ground truth."""

    name: str
    group: str
    path: str
    language: str
    layout: str  # callqa.events.ChannelLayout value
    reference: str
    duration_s: float


def prepare_items(work_dir: Path, groups: Sequence[str]) -> list[Item]:
    """Render the demo calls and fetch the real clips (both cached under .callqa/), 8 kHz copies in work_dir."""
    from callqa_stack import clips
    from callqa_stack.samples import render_calls
    from transcriber.audio import duration_s

    items: list[Item] = []
    if set(groups) & set(CALL_GROUPS):
        for call in render_calls():
            turns = sorted(call.turns, key=lambda t: (t.begin_s, t.end_s))
            joiner = "" if call.language == "zh" else " "
            layout = "agent_left" if call.agent_channel == 0 else "agent_right"
            reference = joiner.join(t.text for t in turns)
            items.append(
                Item(call.call_id, f"calls-{call.language}", str(call.path), call.language, layout, reference, 0)
            )
    if {"librivox-16k", "librivox-8k"} & set(groups):
        for clip in clips.librivox_clips():
            items.append(Item(clip.path.stem, "librivox-16k", str(clip.path), "en", "mono", clip.text, 0))
            phone = clips.telephony(clip.path, work_dir / f"{clip.path.stem}-8k.wav")
            items.append(Item(phone.stem, "librivox-8k", str(phone), "en", "mono", clip.text, 0))
    if "mandarin-8k" in groups:
        mandarin = clips.mandarin_clip()
        phone = clips.telephony(mandarin.path, work_dir / "mandarin-8k.wav")
        items.append(Item("basic_ref_zh-8k", "mandarin-8k", str(phone), "zh", "mono", mandarin.text, 0))
    items = [item for item in items if item.group in groups]
    return [Item(**{**asdict(item), "duration_s": duration_s(Path(item.path))}) for item in items]


# --- the child processes: one variant each -----------------------------------------------------------------


@dataclass
class ChildSpec:
    variant: str  # "baseline" | "callqa"
    asr: dict[str, Any]  # AsrSettings overrides (callqa); the baseline takes model and compute_type only
    items: list[Item]
    warmup: Item
    label: str
    position: int = 0  # tqdm line, for concurrent workers


@dataclass
class Outcome:
    """What one child measured, plus its peak RSS from the parent's wait4."""

    label: str
    variant: str
    asr: dict[str, Any]
    load_s: float
    texts: dict[str, str]
    wall_s: dict[str, float]
    cpu_s: float
    started: float  # time.monotonic() (system-wide on Linux) when the timed part began
    finished: float
    peak_rss_mib: float = 0.0
    items: list[Item] = field(default_factory=list)
    # The transcripts of the other repetitions: the baseline's are not deterministic (on a hallucination
    # loop faster-whisper falls back to sampling at temperature > 0), so errors are averaged over all runs.
    other_texts: list[dict[str, str]] = field(default_factory=list)

    @property
    def audio_s(self) -> float:
        return sum(item.duration_s for item in self.items)

    def speed(self, names: set[str] | None = None) -> float:
        """Audio seconds per wall second over the named items (all by default)."""
        chosen = [item for item in self.items if names is None or item.name in names]
        return sum(i.duration_s for i in chosen) / sum(self.wall_s[i.name] for i in chosen)


class SeenBeforeRedaction:
    """Wraps the pipeline's redactor and keeps the turns it was given: the recogniser's words, unredacted."""

    def __init__(self, redactor: Any) -> None:
        self.redactor = redactor
        self.turns: list[Any] = []

    def redact_turns(self, turns: list[Any], language: str) -> Any:
        self.turns = list(turns)
        return self.redactor.redact_turns(turns, language)


class Transcriber:
    """A loaded variant: ``text(item)`` returns the recognised text of one recording."""

    def __init__(self, spec: ChildSpec) -> None:
        from transcriber.config import AsrSettings, Settings
        from transcriber.weights import resolve_model

        asr = AsrSettings(**spec.asr)
        self.variant = spec.variant
        if spec.variant == "baseline":
            from faster_whisper import WhisperModel

            # The naive setup: faster-whisper's defaults except the weights' compute type (int8, as callqa).
            self.model = WhisperModel(str(resolve_model(asr.model, asr.models_dir)), compute_type=asr.compute_type)
        else:
            from transcriber.pipeline import TranscriptionPipeline

            self.pipeline = TranscriptionPipeline(Settings(asr=asr))
            self.seen = SeenBeforeRedaction(self.pipeline.redactor)
            self.pipeline.redactor = self.seen  # type: ignore[assignment]

    def text(self, item: Item) -> str:
        joiner = "" if item.language == "zh" else " "
        if self.variant == "baseline":
            from faster_whisper import decode_audio

            mono = decode_audio(item.path, sampling_rate=16000)  # stereo is downmixed to one channel
            segments, _info = self.model.transcribe(mono, language=item.language)
            return joiner.join(segment.text.strip() for segment in segments)
        from callqa.events import ChannelLayout
        from transcriber.pipeline import CallInfo

        call = CallInfo(recording_id=item.name, channel_layout=ChannelLayout(item.layout), language=item.language)
        self.pipeline.run(Path(item.path), call)
        turns = sorted(self.seen.turns, key=lambda t: (t.begin_ms, t.end_ms))
        return joiner.join(turn.text for turn in turns)


def child_main(spec_path: Path) -> int:
    """Load, warm up, say "ready", wait for "go" on stdin, transcribe every item, write the outcome."""
    import resource

    raw = json.loads(spec_path.read_text())
    raw["items"] = [Item(**i) for i in raw["items"]]
    raw["warmup"] = Item(**raw["warmup"])
    spec = ChildSpec(**raw)
    started = time.perf_counter()
    transcriber = Transcriber(spec)
    load_s = time.perf_counter() - started
    transcriber.text(spec.warmup)
    print("ready", flush=True)
    sys.stdin.readline()

    def cpu() -> float:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)  # ffmpeg/ffprobe
        return time.process_time() + children.ru_utime + children.ru_stime

    texts: dict[str, str] = {}
    wall: dict[str, float] = {}
    cpu_before, began = cpu(), time.monotonic()
    bar = tqdm(spec.items, desc=spec.label, unit="rec", position=spec.position, leave=False, file=sys.stderr)
    for item in bar:
        clock = time.perf_counter()
        texts[item.name] = transcriber.text(item)
        wall[item.name] = time.perf_counter() - clock
    outcome = {
        "label": spec.label,
        "variant": spec.variant,
        "asr": spec.asr,
        "load_s": load_s,
        "texts": texts,
        "wall_s": wall,
        "cpu_s": cpu() - cpu_before,
        "started": began,
        "finished": time.monotonic(),
    }
    spec_path.with_suffix(".out.json").write_text(json.dumps(outcome, ensure_ascii=False))
    return 0


def run_children(specs: Sequence[ChildSpec], work_dir: Path) -> list[Outcome]:
    """Start one process per spec; release them together once all are loaded; collect their outcomes."""
    paths, processes = [], []
    for number, spec in enumerate(specs):
        path = work_dir / f"child-{time.monotonic_ns()}-{number}.json"
        path.write_text(json.dumps(asdict(spec), ensure_ascii=False))
        paths.append(path)
        command = [sys.executable, str(SCRIPT), "--child", str(path)]
        processes.append(subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
    try:
        for process, spec in zip(processes, specs, strict=True):
            assert process.stdout is not None
            if process.stdout.readline().strip() != "ready":
                raise RuntimeError(f"{spec.label}: the child failed while loading (see its traceback above)")
        for process in processes:  # the timed part starts at the same moment in every child
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.close()
        outcomes = []
        for process, spec, path in zip(processes, specs, paths, strict=True):
            _pid, status, usage = os.wait4(process.pid, 0)  # this child's own rusage, not every child's max
            process.returncode = os.waitstatus_to_exitcode(status)
            if process.returncode != 0:
                raise RuntimeError(f"{spec.label}: the child exited with {process.returncode}")
            raw = json.loads(path.with_suffix(".out.json").read_text())
            outcomes.append(Outcome(**raw, peak_rss_mib=usage.ru_maxrss / 1024, items=list(spec.items)))
        return outcomes
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                process.wait()


# --- scoring and printing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorRate:
    """Corpus WER or CER over some recordings, once per repetition."""

    label: str
    metric: str  # "WER" | "CER"
    length: int  # words or characters in the references, after normalisation
    rates: tuple[float, ...]

    @property
    def mean(self) -> float:
        return sum(self.rates) / len(self.rates)

    def cell(self, *, spread: bool = True) -> str:
        low, high = min(self.rates), max(self.rates)
        return f"{self.mean:.1%}" + (f" ({low:.1%}–{high:.1%})" if spread and high - low > 1e-9 else "")


def error_rate(outcome: Outcome, groups: Sequence[str], label: str) -> ErrorRate | None:
    from transcriber.accuracy import cer, normalise_en, normalise_zh, wer

    chosen = [item for item in outcome.items if item.group in groups]
    if not chosen:
        return None
    zh = chosen[0].language == "zh"
    references = [item.reference for item in chosen]
    rates = tuple(
        (cer if zh else wer)(references, [texts[item.name] for item in chosen])
        for texts in (outcome.texts, *outcome.other_texts)
    )
    length = sum(len((normalise_zh if zh else normalise_en)(r)) for r in references)
    return ErrorRate(label, "CER" if zh else "WER", length, rates)


def error_rows(outcome: Outcome) -> list[ErrorRate]:
    """One row per group present, then each language pooled over its groups (when it has several)."""
    rows = [found for key, label, _, _ in GROUPS if (found := error_rate(outcome, [key], label))]
    for language in ("en", "zh"):
        keys = [key for key, _, _, lang in GROUPS if lang == language]
        if len({item.group for item in outcome.items} & set(keys)) > 1 and (
            found := error_rate(outcome, keys, f"{language}, all of the above")
        ):
            rows.append(found)
    return rows


def best(outcomes: Sequence[Outcome]) -> Outcome:
    """The fastest repetition's timing (noise on a shared machine only slows a run down), every repetition's
    transcripts for the errors, the highest peak RSS."""
    fastest = max(outcomes, key=lambda o: o.speed())
    fastest.other_texts = [o.texts for o in outcomes if o is not fastest]
    fastest.peak_rss_mib = max(o.peak_rss_mib for o in outcomes)
    return fastest


def meets_target(baseline: Outcome, candidate: Outcome) -> tuple[bool, str]:
    """At least TARGET_SPEEDUP × the baseline's throughput, each pooled error at most TARGET_ERROR_POINTS worse."""
    speedup = candidate.speed() / baseline.speed()
    pairs = list(zip(error_rows(baseline), error_rows(candidate), strict=True))
    pooled = [(b, c) for b, c in pairs if "all of the above" in b.label] or pairs
    worse = [
        f"{c.metric} {c.label} {(c.mean - b.mean) * 100:+.1f} pts"
        for b, c in pooled
        if c.mean > b.mean + TARGET_ERROR_POINTS / 100
    ]
    why = f"{speedup:.2f}× the baseline's throughput ({'≥' if speedup >= TARGET_SPEEDUP else '<'} {TARGET_SPEEDUP:g}×)"
    why += "; " + (", ".join(worse) if worse else f"errors within {TARGET_ERROR_POINTS:g} pt")
    return speedup >= TARGET_SPEEDUP and not worse, why


def print_table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> None:
    """A Markdown table, so the output pastes into docs/benchmarks.md as it is."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|")
    for row in rows:
        cells = [str(row[0]).ljust(widths[0]), *(str(c).rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))]
        print("| " + " | ".join(cells) + " |")


def print_comparison(baseline: Outcome, callqa: Outcome) -> None:
    rows: list[list[str]] = []
    speeds: list[tuple[str, set[str] | None]] = [(f"audio s per wall s, all ({baseline.audio_s:.0f} s)", None)]
    for key, label, _, _ in GROUPS:
        chosen = [item for item in baseline.items if item.group == key]
        if chosen and len(chosen) < len(baseline.items):
            seconds = sum(item.duration_s for item in chosen)
            speeds.append((f"  {label} ({seconds:.0f} s)", {item.name for item in chosen}))
    for label, names in speeds:
        b, c = baseline.speed(names), callqa.speed(names)
        rows.append([label, f"{b:.2f}×", f"{c:.2f}×", f"{c / b:.2f}×"])
    b, c = 1 / baseline.speed(), 1 / callqa.speed()
    rows.append(["RTF (wall s per audio s), all", f"{b:.3f}", f"{c:.3f}", f"{c / b:.2f}×"])
    b, c = baseline.cpu_s / baseline.audio_s, callqa.cpu_s / callqa.audio_s
    rows.append(["CPU s per audio s, all", f"{b:.3f}", f"{c:.3f}", f"{c / b:.2f}×"])
    b, c = baseline.peak_rss_mib, callqa.peak_rss_mib
    rows.append(["peak RSS of the process (MiB)", f"{b:.0f}", f"{c:.0f}", f"{c / b:.2f}×"])
    rows.append(["model load s (outside the clock)", f"{baseline.load_s:.1f}", f"{callqa.load_s:.1f}", ""])
    for b_err, c_err in zip(error_rows(baseline), error_rows(callqa), strict=True):
        unit = "chars" if b_err.metric == "CER" else "words"
        delta = (c_err.mean - b_err.mean) * 100
        label = f"{b_err.metric} {b_err.label} [{b_err.length} {unit}]"
        rows.append([label, b_err.cell(), c_err.cell(), f"{delta:+.1f} pts"])
    print_table(rows, ["figure", "baseline", "callqa", "ratio"])
    print(
        "ratio = callqa ÷ baseline; error rows: mean over the runs (range when they differ), "
        "callqa − baseline in points (negative = callqa better)"
    )


# --- the parts of a run ------------------------------------------------------------------------------------


def describe(asr: dict[str, Any]) -> str:
    from transcriber.config import AsrSettings

    s = AsrSettings(**asr)
    threads = "auto" if s.cpu_threads == 0 else str(s.cpu_threads)
    extra = "" if s.model == "base" else f", model {s.model}"
    return f"batch {s.batch_size}, beam {s.beam_size}, threads {threads}, {s.compute_type}{extra}"


def alternate(count: int, repeat: int) -> list[int]:
    """0 1 1 0 0 1 ...: alternating order, so drift in the machine's load hits every variant alike."""
    return [v for r in range(repeat) for v in (range(count) if r % 2 == 0 else reversed(range(count)))]


def compare(items: list[Item], warmup: Item, asr: dict[str, Any], repeat: int, work_dir: Path) -> list[Outcome]:
    """The baseline and callqa, `repeat` times each."""
    variants = ("baseline", "callqa")
    runs: list[list[Outcome]] = [[], []]
    for index in tqdm(alternate(2, repeat), desc="baseline vs callqa", unit="run"):
        label = f"{variants[index]} {len(runs[index]) + 1}/{repeat}"
        runs[index] += run_children([ChildSpec(variants[index], asr, items, warmup, label, position=1)], work_dir)
    return [best(runs[0]), best(runs[1])]


def sweep(items: list[Item], warmup: Item, base: dict[str, Any], repeat: int, work_dir: Path) -> list[Outcome]:
    """callqa with each of SWEEP's overrides on top of `base`."""
    settings = [{**base, **overrides} for overrides in SWEEP]
    runs: list[list[Outcome]] = [[] for _ in settings]
    for index in tqdm(alternate(len(settings), repeat), desc="sweep", unit="run"):
        spec = ChildSpec("callqa", settings[index], items, warmup, describe(settings[index]), position=1)
        runs[index] += run_children([spec], work_dir)
    return [best(outcomes) for outcomes in runs]


def print_sweep(baseline: Outcome, outcomes: Sequence[Outcome]) -> None:
    def row(o: Outcome, label: str, target: str) -> list[str]:
        speed = f"{o.speed():.2f}×"
        errors = [e.cell(spread=False) for e in error_rows(o)]
        cpu = f"{o.cpu_s / o.audio_s:.3f}"
        return [label, speed, f"{o.speed() / baseline.speed():.2f}×", cpu, *errors, f"{o.peak_rss_mib:.0f}", target]

    rows = [row(o, o.label, "yes" if meets_target(baseline, o)[0] else "no") for o in outcomes]
    rows.append(row(baseline, "(baseline: plain transcribe)", ""))
    short = {label: name for _, label, name, _ in GROUPS}
    errors = [f"{e.metric} {short.get(e.label, e.label.split(',')[0] + ' all')}" for e in error_rows(baseline)]
    print_table(rows, ["callqa settings", "× real time", "vs baseline", "CPU s/audio s", *errors, "RSS MiB", "target"])
    reached = [o.label for o in outcomes if meets_target(baseline, o)[0]]
    print(f"reach the target: {'; '.join(reached) if reached else 'none'}")


def split_evenly(items: Sequence[Item], parts: int) -> list[list[Item]]:
    """Longest first onto the least-loaded part, so the workers finish at about the same time."""
    shares: list[list[Item]] = [[] for _ in range(parts)]
    for item in sorted(items, key=lambda i: -i.duration_s):
        min(shares, key=lambda share: sum(i.duration_s for i in share)).append(item)
    return shares


def workers(items: list[Item], warmup: Item, asr: dict[str, Any], threads: int, repeat: int, work_dir: Path) -> None:
    """1 process with `threads` CPU threads vs 2 processes with half each, over the stereo calls, released
    together; aggregate throughput = all their audio ÷ (last finish − first start)."""
    calls = [item for item in items if item.group in CALL_GROUPS]
    if len(calls) < 2:
        print("(1 vs 2 workers needs the stereo calls: skipped)")
        return
    total = sum(item.duration_s for item in calls)
    counts = (1, 2)
    runs: list[list[tuple[float, list[Outcome]]]] = [[] for _ in counts]
    for index in tqdm(alternate(len(counts), repeat), desc="1 vs 2 workers", unit="run"):
        count = counts[index]
        settings = {**asr, "cpu_threads": max(1, threads // count)}
        specs = [
            ChildSpec("callqa", settings, share, warmup, f"worker {n + 1}/{count}", position=n + 1)
            for n, share in enumerate(split_evenly(calls, count))
        ]
        outcomes = run_children(specs, work_dir)
        wall = max(o.finished for o in outcomes) - min(o.started for o in outcomes)
        runs[index].append((wall, outcomes))
    rows = []
    single = total / min(wall for wall, _ in runs[0])
    for count, measured in zip(counts, runs, strict=True):
        wall, outcomes = min(measured, key=lambda run: run[0])
        per = max(1, threads // count)
        rss = " + ".join(f"{max(run[1][n].peak_rss_mib for run in measured):.0f}" for n in range(count))
        rows.append(
            [
                f"{count} × cpu_threads={per}",
                " + ".join(f"{o.audio_s:.0f} s" for o in outcomes),
                f"{wall:.1f}",
                f"{total / wall:.2f}×",
                f"{total / wall / single:.2f}×",
                rss,
            ]
        )
    header = ["workers", "audio per worker", "wall s", "aggregate × real time", "vs 1 worker", "RSS MiB"]
    print_table(rows, header)


def write_texts(path: Path, items: Sequence[Item], *outcomes: Outcome) -> None:
    """Each recording's reference and every run's transcript of each variant, to read the errors."""
    runs = {o.variant: [o.texts, *o.other_texts] for o in outcomes}
    dump = [
        {"name": item.name, "reference": item.reference}
        | {v: [texts[item.name] for texts in r] for v, r in runs.items()}
        for item in items
    ]
    path.write_text(json.dumps(dump, ensure_ascii=False, indent=1))


def machine() -> str:
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = []
    for package in ("faster_whisper", "ctranslate2", "onnxruntime"):
        try:
            versions.append(f"{package} {importlib.import_module(package).__version__}")
        except ImportError:
            continue
    return f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, {', '.join(versions)}"


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def parse_settings(pairs: Sequence[str]) -> dict[str, Any]:
    """`--set KEY=VALUE` pairs, validated against AsrSettings."""
    from transcriber.config import AsrSettings

    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in AsrSettings.model_fields:
            raise SystemExit(f"--set {pair!r}: expected KEY=VALUE, KEY one of {', '.join(AsrSettings.model_fields)}")
        overrides[key] = value
    return AsrSettings(**overrides).model_dump(mode="json", include=set(overrides))  # fails fast on a bad value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="benchmarks/transcribe.py",
        description="Transcription throughput and accuracy: the callqa pipeline vs plain faster-whisper.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n")[-1] if __doc__ else None,
    )
    parser.add_argument("--repeat", type=int, default=2, help="runs of each variant; the fastest counts (default 2)")
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an AsrSettings field for the callqa side and the workers (repeatable), e.g. --set batch_size=16",
    )
    parser.add_argument("--sweep", action="store_true", help="also try other AsrSettings on the callqa side")
    parser.add_argument("--sweep-repeat", type=int, default=1, help="runs of each sweep setting (default 1)")
    parser.add_argument("--no-workers", action="store_true", help="skip the 1 vs 2 worker processes run")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads split among the workers (default 2)")
    parser.add_argument(
        "--groups",
        nargs="+",
        choices=[key for key, *_ in GROUPS],
        default=[key for key, *_ in GROUPS],
        help="which audio to use (default: all)",
    )
    parser.add_argument("--texts", type=Path, help="write each recording's reference and transcripts here (JSON)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_main(args.child)
    if args.repeat < 1 or args.sweep_repeat < 1:
        parser.error("--repeat and --sweep-repeat must be at least 1")
    asr = parse_settings(args.settings)

    print(f"# transcribe benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {machine()}")
    print(f"load average at the start: {load_average()}")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="callqa-bench-transcribe-") as tmp:
        work_dir = Path(tmp)
        items = prepare_items(work_dir, args.groups)
        warmup = min(items, key=lambda i: i.duration_s)
        audio_s = sum(i.duration_s for i in items)
        print(f"audio: {len(items)} recordings, {audio_s:.0f} s; warm-up on {warmup.name} ({warmup.duration_s:.1f} s)")
        print(f"callqa: {describe(asr)}; baseline: plain transcribe(), beam 5, no VAD, int8, stereo downmixed")
        print()
        baseline, callqa = compare(items, warmup, asr, args.repeat, work_dir)
        if args.texts:
            write_texts(args.texts, items, baseline, callqa)
        print(f"## baseline vs callqa (throughput: fastest of {args.repeat} runs each)")
        print_comparison(baseline, callqa)
        ok, why = meets_target(baseline, callqa)
        print(
            f"target (≥ {TARGET_SPEEDUP:g}×, pooled error ≤ baseline + {TARGET_ERROR_POINTS:g} pt): "
            f"{'met' if ok else 'NOT met'}: {why}"
        )
        print()
        if args.sweep:
            print(f"## sweep: callqa with other AsrSettings (fastest of {args.sweep_repeat}) vs the baseline above")
            print_sweep(baseline, sweep(items, warmup, asr, args.sweep_repeat, work_dir))
            print()
        if not args.no_workers:
            print(f"## 1 vs 2 worker processes on the stereo calls (callqa: {describe(asr)}, threads split)")
            workers(items, warmup, asr, args.threads, args.repeat, work_dir)
            print()
    print(f"load average at the end: {load_average()}; benchmark took {(time.monotonic() - started) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
