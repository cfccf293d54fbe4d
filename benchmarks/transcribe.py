"""Transcription cost and accuracy: callqa's pipeline beside what a user would run instead, on the same calls.

Side by side in one run, the same weights (whisper base, int8, CPU), one CPU thread per process, language given:

- batched: faster-whisper's `BatchedInferencePipeline` on the mono mix (batch 8, beam 5, its Silero VAD):
  what a user would try first, and the one to beat;
- plain: `WhisperModel.transcribe()` on the mono mix (beam 5, no VAD);
- callqa: `TranscriptionPipeline.run()` with the project's defaults on the stereo file (per-channel VAD, both
  parties' speech packed into shared windows of at most 20 s, word timestamps, turns, metrics, PII redaction), and
  callqa mono: the same calls mixed to one channel (diarization decides the speakers).

The audio: 30 labelled dialogues (`tests/scorer/corpus/dev`, 20 zh + 10 en, `BENCHMARK_CALLS`) spoken by
Kokoro-82M as stereo 8 kHz μ-law calls (`accuracy_audio.render`; Kokoro's clips cached in `.callqa/kokoro-clips`,
~30 min the first time on 2 cores), their mono mix, and the real clips the tests use (5 LibriVox clips at 16 kHz
and as 8 kHz telephony, the Mandarin f5-tts clip at 8 kHz). Each variant runs in its own process, so its peak RSS
(`wait4` of that child) and CPU time (its own and its ffmpeg children's) are its own; the model is loaded and
warmed up before the clock starts. Figures: CPU s per audio s (the cost: what a site pays per call), wall real-time
factor, corpus WER (en) / CER (zh) against the script (`transcriber.accuracy` normalisation; callqa's text before
redaction, in time order of its turns), speaker attribution (`accuracy_audio.attribution`: the share of recognised
words whose role is that of the script's turn at the word's time) and the N-replica aggregate (N processes of one
thread each, released together, over the stereo calls).

The machine is shared, so each variant runs `--repeat` times, alternating, and the fastest run counts.

    ./run bench transcribe                       batched vs plain vs callqa (stereo, mono), then 1 vs 2 replicas
    ./run bench transcribe --groups calls-zh calls-en --repeat 1      the stereo calls only, once
    ./run bench transcribe --set batch_size=16 --set beam_size=1      the callqa side with other AsrSettings
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
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

SCRIPT = Path(__file__).resolve()
REPO_ROOT = SCRIPT.parents[1]
CLIP_CACHE = REPO_ROOT / ".callqa" / "kokoro-clips"
CALLS_DIR = REPO_ROOT / ".callqa" / "bench-transcribe"
DEFAULT_COUNTS = {"zh": 20, "en": 10}
TARGET_ERROR_POINTS = 0.5  # callqa's error rates at most this many points above the batched pipeline's ...
TARGET_ATTRIBUTION = 0.97  # ... and this share of words given to the right speaker on stereo calls
# Groups of audio: (key, label, short label, language). Each gets an error row.
GROUPS = (
    ("calls-zh", "Kokoro calls zh (8 kHz)", "calls zh", "zh"),
    ("calls-en", "Kokoro calls en (8 kHz)", "calls en", "en"),
    ("librivox-16k", "LibriVox 16 kHz (real, mono)", "LV 16k", "en"),
    ("librivox-8k", "LibriVox 8 kHz telephony (real, mono)", "LV 8k", "en"),
    ("mandarin-8k", "Mandarin 8 kHz telephony (real, mono)", "zh 8k", "zh"),
)
CALL_GROUPS = ("calls-zh", "calls-en")
# The calls every run measures: drawn with --seed 7 when the dev part had 183 dialogues, and kept, so that runs
# stay comparable as the corpus grows (--seed N draws another sample from the whole dev part).
BENCHMARK_CALLS = (
    "dev-en-009-outage-guaranty-tomorrow",
    "dev-en-018-double-charge-pardon-sorry",
    "dev-en-020-pin-reminder-cuts-in-fillers",
    "dev-en-023-salary-check-no-id-curt",
    "dev-en-024-asr-standing-order-beats-me",
    "dev-en-027-torn-coat-come-down",
    "dev-en-034-wrong-door-photo-are-you-even-listening",
    "dev-en-037-customs-charge-fast-agent",
    "dev-en-060-late-order-announced-hold-slow-reply",
    "dev-en-061-stolen-phone-slow-first-answer",
    "dev-zh-002-double-monthly-fee",
    "dev-zh-003-rude-agent-data-overage",
    "dev-zh-006-roaming-fillers-slow",
    "dev-zh-018-new-install-no-greeting",
    "dev-zh-020-iptv-no-signal-brushoff",
    "dev-zh-021-invoice-curt-silence",
    "dev-zh-032-cash-appointment-repeated",
    "dev-zh-036-broken-vase-blame-seller",
    "dev-zh-041-wrong-item-again-homophone",
    "dev-zh-052-broken-teaset-what-do-you-mean",
    "dev-zh-062-peak-valley-interrupts",
    "dev-zh-064-balance-bare-hello",
    "dev-zh-069-refund-via-agency-shirk",
    "dev-zh-074-refund-rules-late-answer",
    "dev-zh-081-red-packet-casual-agent",
    "dev-zh-094-eye-clinic-you-dont-understand",
    "dev-zh-096-extra-slot-interrupted-repeat",
    "dev-zh-101-accounting-exam-guarantee-pass",
    "dev-zh-113-installer-broke-tiles",
    "dev-zh-116-extended-warranty-customer-cuts-in",
)
# variant -> (label, what it is given): the baselines get the mono mix of a call, callqa the file as recorded.
VARIANTS = {
    "batched": "batched (mono mix)",
    "plain": "plain transcribe() (mono mix)",
    "callqa": "callqa (stereo)",
    "callqa-mono": "callqa (mono file)",
}


# --- the audio ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One recording with its ground truth."""

    name: str
    group: str
    path: str  # as recorded: stereo for the calls
    mono_path: str  # the same audio mixed to one channel (the clips: the same file)
    language: str
    layout: str  # callqa.events.ChannelLayout value of `path`
    reference: str
    duration_s: float


def prepare_items(work_dir: Path, groups: Sequence[str], seed: int | None) -> tuple[list[Item], dict[str, Any]]:
    """The rendered calls (cached under .callqa/) with their mono mixes, and the real clips with 8 kHz copies;
    also the calls' `SampleCall`s by name, for speaker attribution."""
    from callqa_stack import clips
    from callqa_stack.labelled import CORPUS_DIR, load_all
    from transcriber.audio import duration_s

    items: list[Item] = []
    calls: dict[str, Any] = {}
    counts = {lang: n for lang, n in DEFAULT_COUNTS.items() if f"calls-{lang}" in groups}
    if counts:
        import accuracy_audio

        dev = load_all(CORPUS_DIR / "dev")
        if seed is None:
            chosen = [d for d in dev if d.id in BENCHMARK_CALLS and f"calls-{d.language}" in groups]
        else:
            chosen = accuracy_audio.choose(dev, counts, seed)
        CALLS_DIR.mkdir(parents=True, exist_ok=True)
        calls = accuracy_audio.render(chosen, CALLS_DIR, mono=False, clip_cache=CLIP_CACHE)
        for call in calls.values():
            mono = work_dir / f"{call.call_id}-mono.wav"
            subprocess.run(
                ["ffmpeg", "-v", "error", "-y", "-i", str(call.path), "-ac", "1", "-c:a", "pcm_mulaw", str(mono)],
                check=True,
            )
            layout = "agent_left" if call.agent_channel == 0 else "agent_right"
            reference = accuracy_audio.script_text(call)
            group = f"calls-{call.language}"
            items.append(Item(call.call_id, group, str(call.path), str(mono), call.language, layout, reference, 0))
    if {"librivox-16k", "librivox-8k"} & set(groups):
        for clip in clips.librivox_clips():
            items.append(
                Item(clip.path.stem, "librivox-16k", str(clip.path), str(clip.path), "en", "mono", clip.text, 0)
            )
            phone = str(clips.telephony(clip.path, work_dir / f"{clip.path.stem}-8k.wav"))
            items.append(Item(Path(phone).stem, "librivox-8k", phone, phone, "en", "mono", clip.text, 0))
    if "mandarin-8k" in groups:
        mandarin = clips.mandarin_clip()
        phone = str(clips.telephony(mandarin.path, work_dir / "mandarin-8k.wav"))
        items.append(Item("basic_ref_zh-8k", "mandarin-8k", phone, phone, "zh", "mono", mandarin.text, 0))
    items = [item for item in items if item.group in groups]
    return [Item(**{**asdict(item), "duration_s": duration_s(Path(item.path))}) for item in items], calls


# --- the child processes: one variant each -----------------------------------------------------------------


@dataclass
class ChildSpec:
    variant: str  # a key of VARIANTS
    asr: dict[str, Any]  # AsrSettings overrides; the baselines take model, compute_type, cpu_threads, beam and batch
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
    documents: dict[str, Any] = field(default_factory=dict)  # callqa: each call's transcript document (JSON)
    peak_rss_mib: float = 0.0
    items: list[Item] = field(default_factory=list)
    # The transcripts of the other repetitions: decoding is not always deterministic (plain transcribe() falls
    # back to sampling at temperature > 0 on a loop), so errors are averaged over all runs.
    other_texts: list[dict[str, str]] = field(default_factory=list)

    @property
    def audio_s(self) -> float:
        return sum(item.duration_s for item in self.items)

    @property
    def cost(self) -> float:
        """CPU s per audio s."""
        return self.cpu_s / self.audio_s

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
    """A loaded variant: ``run(item)`` returns the recognised text of one recording (and callqa's document)."""

    def __init__(self, spec: ChildSpec) -> None:
        from transcriber.config import AsrSettings, Settings
        from transcriber.weights import resolve_model

        self.asr = AsrSettings(**spec.asr)
        self.variant = spec.variant
        if spec.variant.startswith("callqa"):
            from transcriber.pipeline import TranscriptionPipeline

            self.pipeline = TranscriptionPipeline(Settings(asr=self.asr))
            self.seen = SeenBeforeRedaction(self.pipeline.redactor)
            self.pipeline.redactor = self.seen  # type: ignore[assignment]
            return
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        model_dir = str(resolve_model(self.asr.model, self.asr.models_dir))
        self.model = WhisperModel(model_dir, compute_type=self.asr.compute_type, cpu_threads=self.asr.cpu_threads)
        self.batched = BatchedInferencePipeline(model=self.model)

    def run(self, item: Item) -> tuple[str, Any]:
        joiner = "" if item.language == "zh" else " "
        if not self.variant.startswith("callqa"):
            from faster_whisper import decode_audio

            mono = decode_audio(item.mono_path, sampling_rate=16000)
            options = {"language": item.language, "beam_size": self.asr.beam_size}
            if self.variant == "batched":
                segments, _ = self.batched.transcribe(mono, batch_size=self.asr.batch_size or 8, **options)
            else:
                segments, _ = self.model.transcribe(mono, **options)
            return joiner.join(segment.text.strip() for segment in segments), None
        from callqa.events import ChannelLayout
        from transcriber.pipeline import CallInfo

        stereo = self.variant == "callqa"
        layout = ChannelLayout(item.layout) if stereo else ChannelLayout.mono
        call = CallInfo(recording_id=item.name, channel_layout=layout, language=item.language)
        document = self.pipeline.run(Path(item.path if stereo else item.mono_path), call)
        turns = sorted(self.seen.turns, key=lambda t: (t.begin_ms, t.end_ms))
        return joiner.join(turn.text for turn in turns), document.model_dump(mode="json")


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
    transcriber.run(spec.warmup)
    print("ready", flush=True)
    sys.stdin.readline()

    def cpu() -> float:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)  # ffmpeg/ffprobe
        return time.process_time() + children.ru_utime + children.ru_stime

    texts: dict[str, str] = {}
    documents: dict[str, Any] = {}
    wall: dict[str, float] = {}
    cpu_before, began = cpu(), time.monotonic()
    bar = tqdm(spec.items, desc=spec.label, unit="rec", position=spec.position, leave=False, file=sys.stderr)
    for item in bar:
        clock = time.perf_counter()
        texts[item.name], document = transcriber.run(item)
        wall[item.name] = time.perf_counter() - clock
        if document is not None and item.group in CALL_GROUPS:
            documents[item.name] = document
    outcome = {
        "label": spec.label,
        "variant": spec.variant,
        "asr": spec.asr,
        "load_s": load_s,
        "texts": texts,
        "wall_s": wall,
        "cpu_s": cpu() - cpu_before,
        "documents": documents,
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


def error_rate(outcome: Outcome, groups: Sequence[str], label: str, *, numerals: bool = True) -> ErrorRate | None:
    """Corpus CER (zh) or WER (en); ``numerals=False``: Mandarin with every numeral left out of both sides."""
    from transcriber import accuracy

    chosen = [item for item in outcome.items if item.group in groups]
    if not chosen:
        return None
    zh = chosen[0].language == "zh"
    if not zh:
        rate, normalise = accuracy.wer, accuracy.normalise_en
    elif numerals:
        rate, normalise = accuracy.cer, accuracy.normalise_zh
    else:
        rate, normalise = accuracy.cer_without_numerals, accuracy.normalise_zh_without_numerals
    references = [item.reference for item in chosen]
    rates = tuple(
        rate(references, [texts[item.name] for item in chosen]) for texts in (outcome.texts, *outcome.other_texts)
    )
    length = sum(len(normalise(r)) for r in references)
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
    # How digits are written and grouped moves the Mandarin CER more than the rest of the text (accuracy.py).
    if found := error_rate(outcome, ["calls-zh"], "Kokoro calls zh, numerals aside", numerals=False):
        rows.append(found)
    return rows


def best(outcomes: Sequence[Outcome]) -> Outcome:
    """The fastest repetition's timing (noise on a shared machine only slows a run down), every repetition's
    transcripts for the errors, the highest peak RSS."""
    fastest = max(outcomes, key=lambda o: o.speed())
    fastest.other_texts = [o.texts for o in outcomes if o is not fastest]
    fastest.peak_rss_mib = max(o.peak_rss_mib for o in outcomes)
    return fastest


def attribution_share(outcome: Outcome, calls: dict[str, Any]) -> float | None:
    """Share of callqa's recognised words given to the speaker whose script turn holds them (the calls only)."""
    if not outcome.documents:
        return None
    import accuracy_audio

    from callqa.transcripts import TranscriptDocument

    total = accuracy_audio.Attribution()
    for name, document in outcome.documents.items():
        total.add(accuracy_audio.attribution(calls[name], TranscriptDocument.model_validate(document)))
    return total.share


def meets_target(batched: Outcome, callqa: Outcome, attribution: float | None) -> tuple[bool, str]:
    """callqa's CPU s per audio s at most the batched pipeline's, each pooled error at most TARGET_ERROR_POINTS
    worse, attribution on the stereo calls at least TARGET_ATTRIBUTION."""
    ratio = batched.cost / callqa.cost
    pairs = list(zip(error_rows(batched), error_rows(callqa), strict=True))
    pooled = [(b, c) for b, c in pairs if "all of the above" in b.label] or pairs
    worse = [
        f"{c.metric} {c.label} {(c.mean - b.mean) * 100:+.1f} pts"
        for b, c in pooled
        if c.mean > b.mean + TARGET_ERROR_POINTS / 100
    ]
    why = f"{ratio:.2f}× cheaper than the batched pipeline per audio second ({'≥' if ratio >= 1 else '<'} 1×)"
    why += "; " + (", ".join(worse) if worse else f"errors within {TARGET_ERROR_POINTS:g} pt")
    attributed = attribution is None or attribution >= TARGET_ATTRIBUTION
    if attribution is not None:
        why += f"; attribution {attribution:.1%} ({'≥' if attributed else '<'} {TARGET_ATTRIBUTION:.0%})"
    return ratio >= 1 and not worse and attributed, why


def print_table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> None:
    """A Markdown table, so the output pastes into docs/benchmarks.md as it is."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|")
    for row in rows:
        cells = [str(row[0]).ljust(widths[0]), *(str(c).rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))]
        print("| " + " | ".join(cells) + " |")


def print_comparison(outcomes: Sequence[Outcome], calls: dict[str, Any]) -> None:
    """One column per variant; the last column compares callqa with the batched pipeline."""
    by = {o.variant: o for o in outcomes}
    first, callqa, batched = outcomes[0], by["callqa"], by["batched"]
    rows: list[list[str]] = []

    def row(label: str, cell: Callable[[Outcome], str], versus: str = "") -> None:
        rows.append([label, *(cell(o) for o in outcomes), versus])

    row(
        f"CPU s per audio s, all ({first.audio_s:.0f} s)",
        lambda o: f"{o.cost:.3f}",
        f"{callqa.cost / batched.cost:.2f}×",
    )
    for key, label, _, _ in GROUPS:
        names = {item.name for item in first.items if item.group == key}
        if names and len(names) < len(first.items):
            row(f"  wall RTF, {label}", lambda o, n=names: f"{1 / o.speed(n):.3f}")
    speedup = f"{batched.speed() / callqa.speed():.2f}×"
    row("wall RTF (wall s per audio s), all", lambda o: f"{1 / o.speed():.3f}", speedup)
    memory = f"{callqa.peak_rss_mib / batched.peak_rss_mib:.2f}×"
    row("peak RSS of the process (MiB)", lambda o: f"{o.peak_rss_mib:.0f}", memory)
    row("model load s (outside the clock)", lambda o: f"{o.load_s:.1f}")
    errors = {o.variant: error_rows(o) for o in outcomes}
    for index, base in enumerate(errors["batched"]):
        unit = "chars" if base.metric == "CER" else "words"
        delta = (errors["callqa"][index].mean - base.mean) * 100
        row(
            f"{base.metric} {base.label} [{base.length} {unit}]",
            lambda o, i=index: errors[o.variant][i].cell(),
            f"{delta:+.1f} pts",
        )
    shares = {o.variant: attribution_share(o, calls) for o in outcomes}
    if any(share is not None for share in shares.values()):
        row("speaker attribution, calls", lambda o: "" if (x := shares[o.variant]) is None else f"{x:.1%}")
    print_table(rows, ["figure", *(VARIANTS[o.variant] for o in outcomes), "callqa vs batched"])
    print(
        "callqa vs batched: callqa ÷ batched for cost, RTF and RSS (below 1 = callqa cheaper); error rows: mean over"
        " the runs (range when they differ), callqa − batched in points (negative = callqa better)"
    )


# --- the parts of a run ------------------------------------------------------------------------------------


def describe(asr: dict[str, Any]) -> str:
    from transcriber.config import AsrSettings

    s = AsrSettings(**asr)
    threads = "auto" if s.cpu_threads == 0 else str(s.cpu_threads)
    extra = "" if s.model == "base" else f", model {s.model}"
    return f"batch {s.batch_size}, beam {s.beam_size}, threads {threads}, {s.compute_type}{extra}"


def alternate(count: int, repeat: int) -> list[int]:
    """0 1 2 2 1 0 ...: alternating order, so drift in the machine's load hits every variant alike."""
    return [v for r in range(repeat) for v in (range(count) if r % 2 == 0 else reversed(range(count)))]


def compare(
    variants: Sequence[str], items: list[Item], warmup: Item, asr: dict[str, Any], repeat: int, work_dir: Path
) -> list[Outcome]:
    """Each variant `repeat` times, one process at a time."""
    runs: list[list[Outcome]] = [[] for _ in variants]
    for index in tqdm(alternate(len(variants), repeat), desc="variants", unit="run"):
        label = f"{variants[index]} {len(runs[index]) + 1}/{repeat}"
        runs[index] += run_children([ChildSpec(variants[index], asr, items, warmup, label, position=1)], work_dir)
    return [best(outcomes) for outcomes in runs]


def split_evenly(items: Sequence[Item], parts: int) -> list[list[Item]]:
    """Longest first onto the least-loaded part, so the workers finish at about the same time."""
    shares: list[list[Item]] = [[] for _ in range(parts)]
    for item in sorted(items, key=lambda i: -i.duration_s):
        min(shares, key=lambda share: sum(i.duration_s for i in share)).append(item)
    return shares


def replicas(items: list[Item], warmup: Item, asr: dict[str, Any], count: int, repeat: int, work_dir: Path) -> None:
    """1 callqa process vs `count` processes, one CPU thread each, over the stereo calls, released together;
    aggregate throughput = all their audio ÷ (last finish − first start)."""
    calls = [item for item in items if item.group in CALL_GROUPS]
    if len(calls) < count:
        print("(the replicas run needs the stereo calls: skipped)")
        return
    total = sum(item.duration_s for item in calls)
    counts = (1, count)
    runs: list[list[tuple[float, list[Outcome]]]] = [[] for _ in counts]
    settings = {**asr, "cpu_threads": 1}
    for index in tqdm(alternate(len(counts), repeat), desc=f"1 vs {count} replicas", unit="run"):
        n = counts[index]
        specs = [
            ChildSpec("callqa", settings, share, warmup, f"replica {k + 1}/{n}", position=k + 1)
            for k, share in enumerate(split_evenly(calls, n))
        ]
        outcomes = run_children(specs, work_dir)
        wall = max(o.finished for o in outcomes) - min(o.started for o in outcomes)
        runs[index].append((wall, outcomes))
    rows = []
    single = total / min(wall for wall, _ in runs[0])
    for n, measured in zip(counts, runs, strict=True):
        wall, outcomes = min(measured, key=lambda run: run[0])
        cpu = sum(o.cpu_s for o in outcomes) / total
        rss = " + ".join(f"{max(run[1][k].peak_rss_mib for run in measured):.0f}" for k in range(n))
        aggregate = total / wall
        rows.append(
            [f"{n} × 1 thread", f"{wall:.1f}", f"{aggregate:.2f}×", f"{aggregate / single:.2f}×", f"{cpu:.3f}", rss]
        )
    print_table(rows, ["replicas", "wall s", "aggregate × real time", "vs 1 replica", "CPU s per audio s", "RSS MiB"])


def write_texts(path: Path, items: Sequence[Item], outcomes: Sequence[Outcome]) -> None:
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
        description="Transcription cost and accuracy: callqa's pipeline vs faster-whisper's batched and plain ones.",
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
        help="an AsrSettings field for every variant (repeatable), e.g. --set beam_size=1",
    )
    parser.add_argument(
        "--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS), help="which pipelines (default: all)"
    )
    parser.add_argument("--replicas", type=int, default=os.cpu_count() or 2, help="N of the N-replica run (0: skip)")
    parser.add_argument(
        "--seed", type=int, default=None, help="draw the calls from the dev part with this seed (default: the fixed 30)"
    )
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
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if not {"batched", "callqa"} <= set(args.variants):
        parser.error("--variants must include batched and callqa (the comparison)")
    asr = {"cpu_threads": 1, **parse_settings(args.settings)}

    print(f"# transcribe benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {machine()}")
    print(f"load average at the start: {load_average()}")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="callqa-bench-transcribe-") as tmp:
        work_dir = Path(tmp)
        items, calls = prepare_items(work_dir, args.groups, args.seed)
        warmup = min(items, key=lambda i: i.duration_s)
        audio_s = sum(i.duration_s for i in items)
        print(f"audio: {len(items)} recordings, {audio_s:.0f} s; warm-up on {warmup.name} ({warmup.duration_s:.1f} s)")
        print(f"settings: {describe(asr)}; language given; batched = BatchedInferencePipeline with its own VAD")
        print()
        outcomes = compare(args.variants, items, warmup, asr, args.repeat, work_dir)
        if args.texts:
            write_texts(args.texts, items, outcomes)
        print(f"## side by side (timings: fastest of {args.repeat} runs each)")
        print_comparison(outcomes, calls)
        by = {o.variant: o for o in outcomes}
        ok, why = meets_target(by["batched"], by["callqa"], attribution_share(by["callqa"], calls))
        limit = f"cost ≤ batched, errors ≤ batched + {TARGET_ERROR_POINTS:g} pt, attribution ≥ {TARGET_ATTRIBUTION:.0%}"
        print(f"target ({limit}): {'met' if ok else 'NOT met'}: {why}")
        print()
        if args.replicas > 1:
            print(f"## 1 vs {args.replicas} callqa replicas on the stereo calls ({describe(asr)})")
            replicas(items, warmup, asr, args.replicas, args.repeat, work_dir)
            print()
    print(f"load average at the end: {load_average()}; benchmark took {(time.monotonic() - started) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
