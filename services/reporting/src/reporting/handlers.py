"""What reporting does with each event it consumes (run in a worker thread by callqa's EventWorker).

`evaluation.reviewed` (source `human`) will be one more handler like `on_evaluation_scored` once the
coaching service publishes it: `rollups.Source.human` is already a rollup dimension.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from callqa.events import EvaluationScored, RecordingPurged
from reporting.rollups import from_scored
from reporting.store import RollupStore


def on_evaluation_scored(scored: EvaluationScored, store: RollupStore, zone: ZoneInfo) -> None:
    """Count the evaluation in the rollups (a duplicate or an older re-delivery changes nothing)."""
    store.record([from_scored(scored, zone)])


def on_recording_purged(purged: RecordingPurged, store: RollupStore) -> None:
    """Counts stay; quoted evidence goes."""
    store.purge(purged.recording_id, purged.reason.value, purged.purged_at)
