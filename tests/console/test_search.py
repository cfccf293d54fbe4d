"""Full-text search over transcripts, on SQLite (FTS5) and PostgreSQL (GIN index on to_tsvector): Chinese segmented by
jieba on both sides, English stemmed, a purged call no longer found, and calls indexed before the migration found."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from console import handlers
from console.calls import CallFilter, CallIndex
from console.config import MIGRATIONS_DIR
from console.search import Segmenter, Term, fts5_query, matching
from sqlalchemy import text

from callqa.db import Database
from callqa.events import TranscriptReady
from callqa_stack import factories

ZH = "您好，这里是客服中心。我想申请退款，上个月多扣了五十元。中华人民共和国成立纪念日的活动还有吗？"
EN = "Thank you for calling. I would like to cancel my subscription because of the billing errors."


@pytest.fixture(scope="module")
def segmenter() -> Segmenter:
    return Segmenter()  # jieba's dictionary loaded once for the module


@pytest.fixture
def index(database_url: str, segmenter: Segmenter) -> Iterator[CallIndex]:
    db = Database(database_url)
    db.migrate(MIGRATIONS_DIR)
    yield CallIndex(db, segmenter)
    db.dispose()


def transcript(recording_id: str, said: str) -> TranscriptReady:
    document = {
        "model": {"id": "whisper", "version": "1"},
        "language": "zh",
        "turns": [{"id": "t0", "role": "customer", "begin_ms": 0, "end_ms": 4000, "text": said}],
    }
    fields: dict[str, Any] = factories.recording_stored(recording_id).payload.model_dump()
    return TranscriptReady.model_validate(
        fields | {"language": "zh", "model_version": "whisper@1", "transcript_key": "t/x.json", "document": document}
    )


def call(index: CallIndex, said: str) -> str:
    stored = factories.recording_stored().payload
    handlers.on_recording_stored(stored, index=index)
    handlers.on_transcript_ready(transcript(stored.recording_id, said), index=index, store=None)  # type: ignore[arg-type]
    return stored.recording_id


def found(index: CallIndex, words: str) -> set[str]:
    rows, total = index.search(CallFilter(words=words))
    assert total == len(rows)
    return {f.call.recording_id for f in rows}


def test_chinese_and_english_words_are_found_and_a_purged_call_is_not(index: CallIndex) -> None:
    zh, en = call(index, ZH), call(index, EN)
    assert found(index, "退款") == {zh}
    assert found(index, "申请退款") == {zh}, "two words, both said"
    assert found(index, "人民共和国") == {zh}, "a word found by the words inside it (中华人民共和国 was said)"
    assert found(index, "退货") == set(), "a word never said"
    assert found(index, "退款 subscription") == set(), "every word must be found in the same call"
    assert found(index, "ＳＵＢＳＣＲＩＰＴＩＯＮ") == {en}, "full-width letters are the same letters"
    assert found(index, "cancelled subscriptions") == {en}, "English stems: cancel, subscription"
    assert found(index, '"billing" OR refund NOT') == set(), "the query's words are words, never FTS operators"
    assert found(index, "，。？") == set(), "punctuation only: nothing to look for, nothing found"
    rows, _ = index.search(CallFilter(words="退款"))
    assert rows[0].snippet is not None and "退款" in rows[0].snippet
    # Replayed, the transcript replaces its words (no second row in the index).
    handlers.on_transcript_ready(transcript(zh, "请帮我查询话费余额"), index=index, store=None)  # type: ignore[arg-type]
    assert found(index, "退款") == set() and found(index, "话费") == {zh}

    handlers.on_recording_purged(factories.recording_purged(en).payload, index=index)
    assert found(index, "subscription") == set()
    with index.db.engine.connect() as conn:
        left = conn.execute(text("SELECT count(*) FROM console_call_text WHERE recording_id = :r"), {"r": en}).scalar()
    assert left == 0, "the purge erases the words from the index itself"
    handlers.on_transcript_ready(transcript(en, EN), index=index, store=None)  # type: ignore[arg-type]
    assert found(index, "subscription") == set(), "a transcript arriving after the purge keeps nothing"


def test_calls_indexed_before_full_text_search_are_found_after_the_migration(
    sqlite_url: str, segmenter: Segmenter
) -> None:
    db = Database(sqlite_url)
    db.migrate(MIGRATIONS_DIR, "0002")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO console_calls (recording_id, agent_id, started_at, duration_ms, tags, text, purged) "
                "VALUES ('r-old', 'agent-7', '2026-11-02 09:30:00', 1000, '', :said, 0)"
            ),
            {"said": ZH},
        )
    db.migrate(MIGRATIONS_DIR)
    assert found(CallIndex(db, segmenter), "退款") == {"r-old"}
    db.dispose()


def test_postgresql_answers_from_its_gin_index(postgres_url: str, segmenter: Segmenter) -> None:
    db = Database(postgres_url)
    db.migrate(MIGRATIONS_DIR)
    index = CallIndex(db, segmenter)
    rid = call(index, ZH)
    query = matching("postgresql", segmenter.query_terms("申请退款"))
    sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
    with db.engine.begin() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))  # a tiny table: make the planner show it can use the index
        plan = "\n".join(str(r[0]) for r in conn.exec_driver_sql("EXPLAIN " + sql))
        assert conn.execute(query).scalars().all() == [rid]
    assert "console_call_text_fts_gin" in plan, plan
    db.dispose()


def test_query_terms_and_their_fts5_expression(segmenter: Segmenter) -> None:
    assert segmenter.query_terms("申请退款") == [Term("申请"), Term("退款")]
    people = segmenter.query_terms("人民共和国")
    assert people[0].whole == "人民共和国" and {"人民", "共和国"} <= set(people[0].parts)
    assert fts5_query([Term('say "hi"'), Term("人民共和国", ("人民", "共和"))]) == (
        '"say ""hi""" AND ("人民共和国" OR ("人民" AND "共和"))'
    )
    assert "退款" in segmenter.index_words("我想申请退款").split()
