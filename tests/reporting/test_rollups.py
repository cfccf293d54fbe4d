"""Rollups equal a brute-force recomputation, whatever the order, batching and duplicates (automatic evaluations
and human versions); purges keep counts."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from callqa.db import Database
from callqa.events import EvaluationReviewed, ItemResult, ScoreSource
from reporting import handlers
from reporting.config import MIGRATIONS_DIR
from reporting.rollups import Evaluation, from_reviewed, from_scored
from reporting.store import RollupStore, Scope
from tests.reporting.helpers import ZONE, brute_force, human_versions, reviewed, scored, stream


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
