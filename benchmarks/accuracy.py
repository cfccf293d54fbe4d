"""Accuracy of the default scorecards on calls nobody tuned them for: "problem found" precision and recall.

Three labelled sets (see tests/scorer/corpus/LABELLING.md), each scored from its transcripts with default-zh
and default-en:

- `tuned`: tests/scorer/data/, the dialogues the rules were written against (expect ~1.00: it shows the
  rules do what they were written to do, nothing more);
- `dev`: tests/scorer/corpus/dev/, written by others, which rules may be tuned on;
- `test`: tests/scorer/corpus/test/, written separately (other industries, scenarios and wording) and never
  tuned on: the figure to report. Its disagreements are not printed, so that nobody tunes on them by accident.

    ./run bench accuracy                     all three, per item, kind and language
    ./run bench accuracy --part dev -v       the dev part with every disagreement
    ./run bench accuracy --json out.json
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

from callqa_stack.agreement import group, report, score
from callqa_stack.labelled import CORPUS_DIR, DATA_DIR, load_all

PARTS = {"tuned": DATA_DIR, "dev": CORPUS_DIR / "dev", "test": CORPUS_DIR / "test"}
TARGET = 0.95  # problem-found precision and recall on the test part, overall (0.90 per item type)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=sorted(PARTS), action="append", help="default: all three")
    parser.add_argument("-v", "--verbose", action="store_true", help="list disagreements (never for test)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    figures: dict[str, dict[str, float | int]] = {}
    for part in args.part or list(PARTS):
        dialogues = load_all(PARTS[part])
        outcomes = score(dialogues)
        languages = {d.language for d in dialogues}
        title = f"{part} ({len(dialogues)} dialogues, {', '.join(sorted(languages))})"
        print(report(outcomes, title, disagreements=args.verbose and part != "test"))
        print()
        overall = group(outcomes, lambda o: "all")["all"]
        figures[part] = {
            "dialogues": len(dialogues),
            "precision": overall.precision,
            "recall": overall.recall,
            "accuracy": overall.accuracy,
        }
        for item, tally in group(outcomes, lambda o: o.item_id).items():
            figures[part] |= {f"{item}.precision": tally.precision, f"{item}.recall": tally.recall}
    if "test" in figures:
        test = figures["test"]
        met = min(test["precision"], test["recall"]) >= TARGET
        print(f"target: test part precision and recall >= {TARGET} overall: {'met' if met else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps({"date": datetime.now(UTC).isoformat(timespec="seconds"), **figures}, indent=2))


if __name__ == "__main__":
    main()
