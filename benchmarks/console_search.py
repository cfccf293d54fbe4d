"""Searching the console's call index by words said: the full-text index (jieba-segmented words, SQLite FTS5) beside
the substring scan it replaced (`text LIKE '%…%'` over every transcript), on the same calls in the same database.

N calls of ~2 minutes each (half Chinese, half English, 40 turns built from service phrases), one query word that a
few calls said and one that most did, timed through `CallIndex.search` (count + first page, as the calls page asks).
Also: the time to index a transcript (segmentation + the index's triggers), once per call.

    .venv/bin/python benchmarks/console_search.py [--calls 5000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from console.calls import CallFilter, CallIndex
from console.config import MIGRATIONS_DIR
from console.tables import CallEntry
from sqlmodel import col, func, select

from callqa.db import Database

ZH = [
    "您好",
    "请问有什么可以帮您",
    "我想查询话费",
    "这个月多扣了钱",
    "请您稍等",
    "我帮您核实一下",
    "非常抱歉",
    "还有其他问题吗",
]
EN = [
    "thank",
    "you",
    "for",
    "calling",
    "how",
    "can",
    "I",
    "help",
    "my",
    "bill",
    "is",
    "wrong",
    "let",
    "me",
    "check",
    "your",
    "account",
    "sorry",
    "anything",
    "else",
]
RARE = {"zh": "申请退款", "en": "refund"}  # said in one call in fifty of each language


def document(n: int, language: str, rng: random.Random) -> dict[str, Any]:
    phrases = ZH if language == "zh" else EN
    joiner = "" if language == "zh" else " "
    turns = []
    for k in range(40):
        said = joiner.join(rng.choice(phrases) for _ in range(6 if language == "zh" else 8))
        if k == 20 and n % 50 in (0, 1):  # one English and one Chinese call in fifty
            said += joiner + RARE[language]
        turns.append(
            {
                "id": f"t{k}",
                "role": "agent" if k % 2 else "customer",
                "begin_ms": k * 3000,
                "end_ms": k * 3000 + 2900,
                "text": said,
            }
        )
    return {"language": language, "model": {"id": "whisper", "version": "1"}, "turns": turns}


def like_search(index: CallIndex, words: str) -> int:
    """The baseline: what the console did before the full-text index (a case-insensitive substring scan)."""
    query = select(CallEntry).where(col(CallEntry.text).icontains(words, autoescape=True))
    with index.db.session() as session:
        total = session.exec(select(func.count()).select_from(query.subquery())).one()
        session.exec(query.order_by(col(CallEntry.started_at).desc()).limit(50)).all()
    return int(total)


def timed(call: Any, repeat: int) -> tuple[float, Any]:
    times, answer = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        answer = call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{Path(folder) / 'console.db'}")
        db.migrate(MIGRATIONS_DIR)
        index = CallIndex(db)
        index.segmenter.warm()
        started_at = datetime(2026, 11, 1, tzinfo=UTC)
        indexing = []
        for n in range(args.calls):
            rid = f"r{n:06d}"
            facts = {"agent_id": f"agent-{n % 40}", "started_at": started_at + timedelta(minutes=n)}
            index.recording_stored(rid, facts, [], f"call-{n}")
            began = time.perf_counter()
            index.transcript_ready(rid, facts, document(n, "zh" if n % 2 else "en", rng))
            indexing.append((time.perf_counter() - began) * 1000)
        print(f"{args.calls} calls indexed: median {statistics.median(indexing):.2f} ms a transcript")
        print("| query | full-text index (FTS5) | baseline: substring scan | baseline ÷ index |")
        print("|---|---|---|---|")
        for words in (RARE["zh"], RARE["en"], "话费", "account"):
            fts_ms, (_, fts_total) = timed(lambda w=words: index.search(CallFilter(words=w)), args.repeat)
            like_ms, like_total = timed(lambda w=words: like_search(index, w), args.repeat)
            print(
                f"| {words} ({fts_total} calls; substring {like_total}) | median {fts_ms:.2f} ms "
                f"| median {like_ms:.2f} ms | {like_ms / fts_ms:.1f}× |"
            )
        db.dispose()


if __name__ == "__main__":
    main()
