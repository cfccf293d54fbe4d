"""What reporting does with the events it consumes (run in a worker thread by callqa's EventWorker).

Evaluations come in batches (the consumer's batch mode: what one poll returned, one event type at a time; the
automatic ones parsed straight into reporting's view of them, `ScoredView`)
so that a batch is one transaction of set-based statements (`RollupStore.record`); a batch that fails is
handed over again one event at a time, so only a poison event reaches the DLQ.
"""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from callqa.events import EvaluationReviewed, RecordingPurged
from reporting.rollups import ScoredView, from_reviewed, from_scored
from reporting.store import RollupStore

log = logging.getLogger(__name__)


def on_evaluations_scored(batch: list[ScoredView], store: RollupStore, zone: ZoneInfo) -> None:
    """Count automatic evaluations in the rollups (a duplicate or an older re-delivery changes nothing)."""
    store.record([from_scored(scored, zone) for scored in batch])


def on_evaluations_reviewed(batch: list[EvaluationReviewed], store: RollupStore, zone: ZoneInfo) -> None:
    """Count human versions (source `human`, or `calibration`): a later version replaces an earlier one."""
    evaluations = []
    for reviewed in batch:
        evaluation = from_reviewed(reviewed, zone)
        if evaluation is None:
            log.warning("evaluation.reviewed with source auto ignored", extra={"evaluation": reviewed.evaluation_id})
            continue
        evaluations.append(evaluation)
    store.record(evaluations)


def on_recording_purged(purged: RecordingPurged, store: RollupStore) -> None:
    """Counts stay; quoted evidence goes."""
    store.purge(purged.recording_id, purged.reason.value, purged.purged_at)
