"""Rollups equal a brute-force recomputation, whatever the order, batching and duplicates; purges keep counts."""

from __future__ import annotations

import random

import pytest

from reporting.rollups import from_scored
from reporting.store import RollupStore, Scope
from tests.reporting.helpers import ZONE, brute_force, scored, stream


@pytest.mark.parametrize("seed", [1, 2])
def test_rollups_equal_a_brute_force_recomputation_in_any_order(store: RollupStore, seed: int) -> None:
    events = stream(seed, 400)
    rng = random.Random(seed)
    position = 0
    while position < len(events):  # batches of every size, as the consumer and the benchmark make them
        size = rng.choice([1, 1, 7, 50])
        store.record([from_scored(e, ZONE) for e in events[position : position + size]])
        position += size
    assert store.dump() == brute_force(events)


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
