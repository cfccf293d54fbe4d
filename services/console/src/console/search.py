"""Full-text search over transcripts, owned by the console: the words of each call segmented by jieba (Chinese has
no spaces between words) and kept in `console_call_text`, indexed by the database itself: SQLite's FTS5 locally,
PostgreSQL's full-text search (a GIN index on `to_tsvector`) in production, chosen by the database URL's dialect.

A transcript and a query are segmented alike but not identically. The transcript takes jieba's search mode: each
word and the dictionary words inside it (中华人民共和国 is indexed with 中华, 人民, 共和, 共和国 too). The query
takes the precise mode, and every query word must be found, whole or as the words inside it: 人民共和国 finds a call
that said 中华人民共和国, where the whole word was never indexed. Both sides use the dictionary only (no HMM guesses
of new words), so an unknown name splits into the same single characters on both sides. English words are stemmed
by each engine (FTS5's porter tokenizer, PostgreSQL's `english` configuration): "refunds" finds "refund".
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from functools import reduce

import jieba
from sqlalchemy import ColumnElement, Select, column, func, literal_column, select, table
from sqlmodel import col

from console.tables import CallText

jieba.setLogLevel(logging.WARNING)  # "Building prefix dict ..." on every start is noise

# Names the migrations give the dialect-specific parts (see tables.MIGRATION_ONLY).
SQLITE_FTS_TABLE = "console_call_text_fts"
POSTGRES_CONFIG = "english"


@dataclass(frozen=True)
class Term:
    """One query word: found when the call has the whole word, or every word jieba finds inside it."""

    whole: str
    parts: tuple[str, ...] = ()


def _is_word(token: str) -> bool:
    return any(ch.isalnum() for ch in token)


class Segmenter:
    """jieba's dictionary, loaded once per process (on first use, or by `warm()` at start-up)."""

    def __init__(self) -> None:
        self._jieba = jieba.Tokenizer()

    def warm(self) -> None:
        self._jieba.initialize()

    def index_words(self, text: str) -> str:
        """A transcript's words, space-separated, as the index stores them."""
        normal = unicodedata.normalize("NFKC", text)
        return " ".join(t for t in self._jieba.cut_for_search(normal, HMM=False) if _is_word(t))

    def query_terms(self, query: str) -> list[Term]:
        normal = unicodedata.normalize("NFKC", query)
        terms: list[Term] = []
        for word in dict.fromkeys(t for t in self._jieba.cut(normal, HMM=False) if _is_word(t)):
            parts = tuple(p for p in self._jieba.cut_for_search(word, HMM=False) if _is_word(p) and p != word)
            terms.append(Term(word, parts))
        return terms


def _fts5_string(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


def fts5_query(terms: list[Term]) -> str:
    """An FTS5 MATCH expression: every term, whole or as its parts; each token a quoted string (no operators)."""
    clauses = []
    for term in terms:
        whole = _fts5_string(term.whole)
        clauses.append(f"({whole} OR ({' AND '.join(_fts5_string(p) for p in term.parts)}))" if term.parts else whole)
    return " AND ".join(clauses)


def _postgres_query(terms: list[Term]) -> ColumnElement[object]:
    config: ColumnElement[str] = literal_column(f"'{POSTGRES_CONFIG}'::regconfig")  # constant: the index's expression

    def one(term: Term) -> ColumnElement[object]:
        whole = func.plainto_tsquery(config, term.whole)
        return whole.op("||")(func.plainto_tsquery(config, " ".join(term.parts))) if term.parts else whole

    return reduce(lambda a, b: a.op("&&")(b), (one(t) for t in terms))


def matching(dialect: str, terms: list[Term]) -> Select[str]:
    """The recording ids whose words match every term, as a subquery for the call search."""
    if dialect == "postgresql":
        config: ColumnElement[str] = literal_column(f"'{POSTGRES_CONFIG}'::regconfig")
        vector = func.to_tsvector(config, col(CallText.words))
        return select(col(CallText.recording_id)).where(vector.op("@@", is_comparison=True)(_postgres_query(terms)))
    if dialect == "sqlite":
        fts = table(SQLITE_FTS_TABLE, column("rowid"))
        found = literal_column(SQLITE_FTS_TABLE).op("MATCH", is_comparison=True)(fts5_query(terms))
        return select(col(CallText.recording_id)).where(col(CallText.id).in_(select(fts.c.rowid).where(found)))
    raise ValueError(f"full-text search needs SQLite or PostgreSQL, not {dialect!r}")
