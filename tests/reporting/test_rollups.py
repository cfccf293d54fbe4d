"""Rollups equal a brute-force recomputation, whatever the order, batching and duplicates (automatic evaluations
and human versions); purges keep counts; item cells are kept only where an item did not simply pass, and the
migration to that form keeps every figure."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import func, insert, select

from callqa.db import Database, alembic_config
from callqa.events import EvaluationReviewed, ItemResult, ScoreSource
from reporting import handlers
from reporting.config import MIGRATIONS_DIR
from reporting.rollups import (
    ITEM_COLUMNS,
    ITEM_KEY_COLUMNS,
    KEY_COLUMNS,
    TALLY_COLUMNS,
    Evaluation,
    from_reviewed,
    from_scored,
)
from reporting.store import EVALUATION_ROLLUPS, ITEM_ROLLUPS, RollupStore, Scope
from tests.reporting.helpers import ITEMS, ZONE, brute_force, human_versions, reviewed, scored, stream


def evaluation_of(event: Any) -> Evaluation:
    if isinstance(event, EvaluationReviewed):
        found = from_reviewed(event, ZONE)
        assert found is not None
        return found
    return from_scored(event, ZONE)


@pytest.mark.parametrize("seed", [1, 2])
def test_rollups_equal_a_brute_force_recomputation_in_any_order(store: RollupStore, seed: int) -> None:
    scored_events = stream(seed, 400)
    events: list[Any] = [*scored_events, *human_versions(seed, scored_events)]
    rng = random.Random(seed)
    rng.shuffle(events)
    position = 0
    while position < len(events):  # batches of every size, as the consumer and the benchmark make them
        size = rng.choice([1, 1, 7, 50])
        store.record([evaluation_of(e) for e in events[position : position + size]])
        position += size
    assert store.dump() == brute_force(events)


def test_a_later_human_version_replaces_the_earlier_one_and_auto_and_human_stay_apart(
    store: RollupStore, tmp_path: Path
) -> None:
    auto = scored(failed=("opening",))
    review = reviewed(auto, 2, {"opening": ItemResult.passed})
    appeal = reviewed(auto, 3, {"opening": ItemResult.passed, "verify_identity": ItemResult.failed}, cause="appeal")
    calibration = reviewed(auto, 4, {}, source=ScoreSource.calibration)
    events: list[Any] = [appeal, auto, calibration, review]
    store.record([evaluation_of(e) for e in events])
    other = RollupStore(Database(f"sqlite:///{tmp_path / 'other.db'}"))
    other.db.migrate(MIGRATIONS_DIR)
    for event in reversed(events):  # another order, one at a time
        other.record([evaluation_of(event)])
    assert store.dump() == other.dump() == brute_force(events)
    day = auto.started_at.date()
    by_source = {
        t["source"]: t
        for t in store.tallies(Scope(first=day, last=day, sources=("auto", "human", "calibration")), ("source",))
    }
    assert {s: t["evaluations"] for s, t in by_source.items()} == {"auto": 1, "human": 1, "calibration": 1}
    assert by_source["auto"]["failed_c"] == 1 and by_source["human"]["failed_b"] == 1  # the appeal's, not the review's
    agreement = {r["item_id"]: r for r in store.agreement(Scope(first=day, last=day, sources=("human",)))}
    assert agreement["opening"]["auto_stricter"] == 1 and agreement["opening"]["agreed"] == 0
    assert agreement["verify_identity"]["auto_lenient"] == 1
    assert agreement["closing"]["agreed"] == 1
    assert store.record([evaluation_of(review)]) == 0  # an older version arriving late changes nothing
    other.db.dispose()


def test_recording_the_same_stream_twice_changes_nothing(store: RollupStore) -> None:
    events = stream(3, 200)
    store.record([from_scored(e, ZONE) for e in events])
    first = store.dump()
    assert store.record([from_scored(e, ZONE) for e in reversed(events)]) == 0
    assert store.dump() == first


def test_a_purge_keeps_the_counts_and_removes_quoted_text_even_before_the_evaluation_arrives(
    store: RollupStore,
) -> None:
    before = scored(failed=("forbidden_phrases",))
    after = scored(failed=("opening",))
    store.record([from_scored(before, ZONE)])
    counts = store.dump()
    store.purge(before.recording_id, "erasure_request", before.started_at)
    store.purge(after.recording_id, "retention_expired", after.started_at)  # purged before it was scored
    assert store.dump() == counts
    store.record([from_scored(after, ZONE)])
    found, total = store.evaluations(Scope(first=before.started_at.date(), last=before.started_at.date()))
    assert total == 2
    assert all(item.quote is None for e in found for item in e.items)
    assert (
        sum(
            t["evaluations"]
            for t in store.tallies(Scope(first=before.started_at.date(), last=before.started_at.date()))
        )
        == 2
    )


def test_a_reviewed_event_that_claims_to_be_automatic_is_left_out(store: RollupStore) -> None:
    auto = scored()
    handlers.on_evaluations_reviewed([reviewed(auto, 2, source=ScoreSource.auto)], store, ZONE)
    assert store.dump() == {"evaluations": [], "items": []}  # automatic results come from evaluation.scored only


def test_item_cells_are_kept_only_for_what_did_not_simply_pass(store: RollupStore) -> None:
    store.record([from_scored(scored(failed=("opening",)), ZONE), from_scored(scored(), ZONE)])
    with store.db.session() as session:
        stored = session.execute(select(*[ITEM_ROLLUPS.c[c] for c in ("item_id", *ITEM_COLUMNS)])).all()
    assert [tuple(row) for row in stored] == [("opening", 0, 1, 0, 0, 0, 0, 0)]  # the failure; passes are implied
    day = scored().started_at.date()
    tallies = {row["item_id"]: row for row in store.item_tallies(Scope(first=day, last=day))}
    assert {item: (row["applicable"], row["failed"]) for item, row in tallies.items()} == {
        item_id: (2, int(item_id == "opening")) for item_id, _, _ in ITEMS
    }


@pytest.mark.parametrize("lacking_first", [True, False])
def test_an_evaluation_lacking_an_item_of_its_version_counts_right_whichever_comes_first(
    store: RollupStore, lacking_first: bool
) -> None:
    full = scored(failed=("closing",))
    lacking = scored(recording_id="call-2", failed=("opening",))
    lacking.items = [item for item in lacking.items if item.item_id != "empathy"]
    events = [lacking, full] if lacking_first else [full, lacking]
    for event in events:  # one batch each: the second version's item arrives after a cell exists
        store.record([from_scored(event, ZONE)])
    assert store.dump() == brute_force(events)
    day = full.started_at.date()
    tallies = {row["item_id"]: row["applicable"] for row in store.item_tallies(Scope(first=day, last=day))}
    assert tallies["empathy"] == 1 and tallies["opening"] == 2
    replacement = lacking.model_copy(update={"transcript_version": "whisper-base@9", "evaluation_id": "newer"})
    replacement.items = full.items  # a newer evaluation of the call, with every item
    store.record([from_scored(replacement, ZONE)])
    assert store.dump() == brute_force([*events, replacement])


def test_the_migration_to_implied_passes_keeps_every_figure_and_goes_back(database_url: str) -> None:
    """Cells written before revision 0004 (one per item of every evaluation) read the same after it."""
    db = Database(database_url)
    db.migrate(MIGRATIONS_DIR, "0003")
    key = dict(zip(KEY_COLUMNS, (date(2026, 11, 2), "agent-1", "billing", "q1", "default-zh", 1, "auto"), strict=True))
    evaluation_cell = key | dict(zip(TALLY_COLUMNS, (3, 2, 0, 25000, 0, 1, 0), strict=True))
    # three evaluations: closing passed in each, verify_identity failed once, opening not applicable once,
    # empathy only in one of them
    old_items = {
        ("closing", "service_language", "C"): (3, 0, 0),
        ("verify_identity", "product_knowledge", "B"): (3, 1, 0),
        ("opening", "service_language", "C"): (2, 0, 1),
        ("empathy", "attitude", ""): (1, 0, 0),
    }
    item_cells = [
        key
        | dict(zip(ITEM_KEY_COLUMNS[7:], spec, strict=True))
        | dict(zip(ITEM_COLUMNS, (*counts, 0, 0, 0, 0), strict=True))
        for spec, counts in old_items.items()
    ]
    with db.engine.begin() as connection:
        connection.execute(insert(EVALUATION_ROLLUPS), [evaluation_cell])
        connection.execute(insert(ITEM_ROLLUPS), item_cells)
    before = sorted(tuple(cell[c] for c in (*ITEM_KEY_COLUMNS, *ITEM_COLUMNS)) for cell in item_cells)
    db.migrate(MIGRATIONS_DIR)
    store = RollupStore(db)
    assert store.dump()["items"] == before
    with db.session() as session:
        assert session.execute(select(func.count()).select_from(ITEM_ROLLUPS)).scalar_one() == 3  # closing went
    day = key["day"]
    tallies = {row["item_id"]: row for row in store.item_tallies(Scope(first=day, last=day))}
    assert {item: (row["applicable"], row["failed"], row["not_applicable"]) for item, row in tallies.items()} == {
        spec[0]: counts for spec, counts in old_items.items()
    }
    command.downgrade(alembic_config(db.url, MIGRATIONS_DIR), "0003")
    with db.session() as session:
        columns = [ITEM_ROLLUPS.c[c] for c in (*ITEM_KEY_COLUMNS, *ITEM_COLUMNS)]
        assert sorted(tuple(row) for row in session.execute(select(*columns))) == before
    db.dispose()
