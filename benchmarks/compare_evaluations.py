"""Did a change to the scorer change any evaluation? Snapshot, then compare item by item.

The corpus is the one every engine change has been checked on: 150 stitched ~5-minute Mandarin calls,
150 English ones (built as `score.py` builds its transcripts, seeds 11 and 12) and every labelled dialogue of
`tests/scorer/data/`, each scored with its default scorecard (default-zh or default-en): items, results,
points and evidence (turn, times, quoted text).

    .venv/bin/python benchmarks/compare_evaluations.py snapshot before.json   # on the old engine
    .venv/bin/python benchmarks/compare_evaluations.py snapshot after.json    # on the new one
    .venv/bin/python benchmarks/compare_evaluations.py diff before.json after.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from score import build_transcripts  # the sibling benchmark's stitched transcripts

from callqa.transcripts import TranscriptDocument
from callqa_stack.labelled import DATA_DIR, load_all
from scorer.rules.engine import compile_scorecard
from scorer.scorecard import default_scorecard

STITCHED_PER_LANGUAGE = 150
SEEDS = {"zh": 11, "en": 12}


def corpus() -> list[tuple[str, TranscriptDocument]]:
    """(language, transcript) for every call of the comparison, in a fixed order."""
    dialogues = load_all(DATA_DIR)
    calls: list[tuple[str, TranscriptDocument]] = []
    for language, seed in SEEDS.items():
        own = [d for d in dialogues if d.language == language]
        calls += [(language, doc) for doc in build_transcripts(own, STITCHED_PER_LANGUAGE, seed)]
    calls += [(d.language, d.doc) for d in dialogues]
    return calls


def snapshot(out: Path) -> None:
    cards = {language: compile_scorecard(default_scorecard(language)) for language in SEEDS}
    evaluations = {
        doc.recording_id: cards[language].evaluate(doc).model_dump(mode="json") for language, doc in corpus()
    }
    out.write_text(json.dumps(evaluations, ensure_ascii=False, indent=1, sort_keys=True))
    print(f"{len(evaluations)} evaluations written to {out}")


def _items(evaluation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["item_id"]: item for item in evaluation["items"]}


def diff(before_path: Path, after_path: Path) -> int:
    before, after = json.loads(before_path.read_text()), json.loads(after_path.read_text())
    if before.keys() != after.keys():
        print(f"different calls: {sorted(before.keys() ^ after.keys())[:10]}")
        return 1
    kinds: Counter[str] = Counter()
    for call in sorted(before):
        old, new = _items(before[call]), _items(after[call])
        for item_id, old_item in old.items():
            new_item = new[item_id]
            for field in ("result", "points", "evidence"):
                if old_item[field] != new_item[field]:
                    kinds[field] += 1
                    print(f"{call} {item_id} {field}:\n  before {old_item[field]}\n  after  {new_item[field]}")
                    break
        for field in ("total_points", "percentage", "passed", "auto_failed"):
            if before[call][field] != after[call][field]:
                kinds[f"evaluation {field}"] += 1
    items = sum(len(e["items"]) for e in before.values())
    print(f"{len(before)} evaluations, {items} items: {sum(kinds.values())} differences {dict(kinds)}")
    return 1 if kinds else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("snapshot").add_argument("out", type=Path)
    compare = commands.add_parser("diff")
    compare.add_argument("before", type=Path)
    compare.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.command == "snapshot":
        snapshot(args.out)
    else:
        sys.exit(diff(args.before, args.after))


if __name__ == "__main__":
    main()
