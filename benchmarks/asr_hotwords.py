"""Hotwords on or off: does biasing whisper towards the scorecards' key phrases help on the rendered calls?

Same audio, same model (whisper base, int8, CPU, the project's other defaults), `TranscriptionPipeline.run()`
called directly (no stack). The audio is `benchmarks/accuracy_audio.py`'s: the same deterministic sample of
labelled corpus dialogues, rendered by Kokoro-82M into stereo (or `--mono`) 8 kHz calls. Variants:

- `off`: the default settings (no hotwords);
- `cards`: `AsrSettings.hotwords_scorecards` = the default cards default-zh.yaml / default-en.yaml, with the
  default item kinds (requirement, bonus: what an agent should say) and token budget;
- more with `--variant NAME='{"hotwords_kinds": null, ...}'` (AsrSettings fields as JSON).

Printed per variant and language: CER (zh) / WER (en) of the recognised text before redaction against the
script (`transcriber.accuracy`); recall of the default card's key phrases (occurrences said in the script that
the transcript has: those of requirement items, which the `cards` hotwords carry, and those of every item,
forbidden phrases and insults included); calls whose error rate rose or fell by more than 2 points against
`off`; and "problem found" precision / recall of the default cards on the variant's (redacted) transcripts, all
items and text items only (see accuracy_audio.py for why metric items are apart).

    ./run bench asr_hotwords                    16 zh + 8 en, stereo, off vs cards (~7 min on 2 cores, audio cached)
    ./run bench asr_hotwords --per-language 4 --variant all='{"hotwords_kinds": null}'
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import accuracy_audio as common  # the sibling benchmark: rendering, key phrases, error rates
from tqdm import tqdm

from callqa.events import ChannelLayout
from callqa.transcripts import TranscriptDocument, Turn
from callqa_stack import samples
from callqa_stack.agreement import group, score
from callqa_stack.labelled import METRIC_ITEMS, Dialogue
from transcriber.config import AsrSettings, Settings
from transcriber.pipeline import CallInfo, TranscriptionPipeline

VARIANTS: dict[str, dict[str, Any]] = {
    "off": {},
    "cards": {"hotwords_scorecards": [str(common.SCORECARDS / f"default-{lang}.yaml") for lang in ("zh", "en")]},
}
WORSE_POINTS = 0.02


class SeenBeforeRedaction:
    """Wraps the pipeline's redactor and keeps the turns it was given: the recogniser's words, unredacted."""

    def __init__(self, redactor: Any) -> None:
        self.redactor = redactor
        self.turns: list[Turn] = []

    def redact_turns(self, turns: list[Turn], language: str) -> Any:
        self.turns = list(turns)
        return self.redactor.redact_turns(turns, language)


@dataclass
class Run:
    variant: str
    hotwords: dict[str, str]
    wall_s: float = 0.0
    heard: dict[str, list[str]] = field(default_factory=dict)  # dialogue id -> turn texts before redaction
    documents: dict[str, TranscriptDocument] = field(default_factory=dict)


def transcribe(
    variant: str, overrides: Mapping[str, Any], dialogues: Sequence[Dialogue], calls: Mapping[str, samples.SampleCall]
) -> Run:
    pipeline = TranscriptionPipeline(Settings(asr=AsrSettings(**overrides)))
    seen = SeenBeforeRedaction(pipeline.redactor)
    pipeline.redactor = seen  # type: ignore[assignment]
    run = Run(variant, pipeline.recogniser.hotwords)
    for dialogue in tqdm(dialogues, desc=variant, unit="call", file=sys.stderr, leave=False):
        call = calls[dialogue.id]
        layout = ChannelLayout.mono if call.mono else ChannelLayout.agent_left
        started = time.perf_counter()
        doc = pipeline.run(call.path, CallInfo(recording_id=dialogue.id, channel_layout=layout, language=call.language))
        run.wall_s += time.perf_counter() - started
        run.documents[dialogue.id] = doc
        run.heard[dialogue.id] = [t.text for t in sorted(seen.turns, key=lambda t: (t.begin_ms, t.end_ms))]
    return run


def error(language: str, script: Sequence[str], heard: Sequence[str]) -> float:
    joiner = "" if language == "zh" else " "
    return float(common.error_rate(language, [joiner.join(script)], [joiner.join(heard)]))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="benchmarks/asr_hotwords.py",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    parser.add_argument("--part", choices=("dev", "test"), default="test")
    parser.add_argument("--per-language", type=int, default=None, help="dialogues per language (default: 16 zh, 8 en)")
    parser.add_argument(
        "--languages", nargs="+", choices=sorted(common.DEFAULT_COUNTS), default=sorted(common.DEFAULT_COUNTS)
    )
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--mono", action="store_true")
    parser.add_argument("--clip-cache", type=Path, default=samples.DEFAULT_CLIP_CACHE)
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=JSON", help="AsrSettings overrides")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    variants = dict(VARIANTS)
    for spec in args.variant:
        name, sep, overrides = spec.partition("=")
        if not sep:
            parser.error(f"--variant {spec!r}: expected NAME=JSON")
        variants[name] = {**VARIANTS["cards"], **json.loads(overrides)}

    load_before = common.load_average()
    chosen = common.choose(common.load_all(common.CORPUS_DIR / args.part), common.parse_counts(args), args.seed)
    layout = "mono" if args.mono else "stereo"
    print(
        f"{args.part} part: {len(chosen)} dialogues, seed {args.seed}, {layout}; {common.revision()}; "
        f"load average {load_before}"
    )
    with tempfile.TemporaryDirectory(prefix="callqa-bench-hotwords-") as tmp:
        calls = common.render(chosen, Path(tmp), mono=args.mono, clip_cache=args.clip_cache)
        audio_s = sum(call.duration_s for call in calls.values())
        print(f"{audio_s:.0f} s of audio", flush=True)
        runs = [transcribe(name, overrides, chosen, calls) for name, overrides in variants.items()]

    languages = sorted({d.language for d in chosen})
    phrases = {language: common.KeyPhrases.load(language) for language in languages}
    scripts = {d.id: [t.text for t in sorted(calls[d.id].turns, key=lambda t: t.begin_s)] for d in chosen}
    base = runs[0]
    results: dict[str, Any] = {}
    base_got = {(o.dialogue.id, o.item_id): o.got for o in score(chosen, documents=base.documents)}
    print()
    for run in runs:
        outcomes = score(chosen, documents=run.documents)
        changed = Counter(
            f"{o.item_id} {was}->{o.got} ({'right' if o.got == o.expected else 'wrong'})"
            for o in outcomes
            if o.got != (was := base_got[(o.dialogue.id, o.item_id)])
        )
        text_items = [o for o in outcomes if o.item_id not in METRIC_ITEMS]
        overall, text = group(outcomes, lambda o: "a")["a"], group(text_items, lambda o: "a")["a"]
        results[run.variant] = {
            "hotwords": run.hotwords,
            "wall_s": run.wall_s,
            "precision": overall.precision,
            "recall": overall.recall,
            "text_precision": text.precision,
            "text_recall": text.recall,
        }
        print(f"{run.variant}: {audio_s / run.wall_s:.1f}x real time; hotwords {run.hotwords or 'none'}")
        for language in languages:
            done = [d for d in chosen if d.language == language]
            rate = common.error_rate(
                language,
                ["".join(scripts[d.id]) if language == "zh" else " ".join(scripts[d.id]) for d in done],
                ["".join(run.heard[d.id]) if language == "zh" else " ".join(run.heard[d.id]) for d in done],
            )
            required, every = common.PhraseRecall(), common.PhraseRecall()
            for d in done:
                required.add(common.phrase_recall(phrases[language].required, language, scripts[d.id], run.heard[d.id]))
                every.add(common.phrase_recall(phrases[language].every, language, scripts[d.id], run.heard[d.id]))
            deltas = [
                error(language, scripts[d.id], run.heard[d.id]) - error(language, scripts[d.id], base.heard[d.id])
                for d in done
            ]
            worse, better = sum(x > WORSE_POINTS for x in deltas), sum(x < -WORSE_POINTS for x in deltas)
            measure = "CER" if language == "zh" else "WER"
            print(
                f"  {language}: {measure} {rate:.1%}; key phrases found: requirement items {required.found}/"
                f"{required.said} ({required.recall:.1%}), all items {every.found}/{every.said} ({every.recall:.1%});"
                f" vs {base.variant}: {worse} calls worse, {better} better by > {WORSE_POINTS:.0%} of {len(done)}"
            )
            results[run.variant][language] = {
                measure.lower(): rate,
                "phrase_recall_required": required.recall,
                "phrase_recall_all": every.recall,
                "worse": worse,
                "better": better,
            }
        print(
            f"  problem found (default cards on these transcripts): all items P {overall.precision:.3f} "
            f"R {overall.recall:.3f}; text items P {text.precision:.3f} R {text.recall:.3f}"
        )
        if run is not base:
            listed = ", ".join(f"{change} x{n}" for change, n in sorted(changed.items()))
            print(f"  item results changed vs {base.variant}: {listed or 'none'}")
        results[run.variant]["changed"] = dict(changed)
    print(f"\nload average {load_before} -> {common.load_average()}")
    if args.json:
        dump = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "mono": args.mono, "audio_s": audio_s}
        args.json.write_text(json.dumps(dump | {"variants": results}, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
