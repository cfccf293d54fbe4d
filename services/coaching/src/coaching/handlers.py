"""Event handlers: plain typed functions of a payload, no Kafka in them (callqa.service.EventWorker runs them)."""

from __future__ import annotations

from callqa.events import EvaluationScored, RecordingPurged
from coaching.ledger import Ledger


def on_evaluation_scored(scored: EvaluationScored, *, ledger: Ledger) -> None:
    """Keep coaching's own copy of the evaluation (version 1, source `auto`); a duplicate changes nothing."""
    ledger.on_evaluation_scored(scored)


def on_recording_purged(purged: RecordingPurged, *, ledger: Ledger) -> None:
    """Erase the call's words (evidence, notes, comments, reasons) from every object of the recording."""
    ledger.on_recording_purged(purged)
