"""Event handlers: plain typed functions of a payload, no Kafka in them (callqa.service.EventWorker runs them)."""

from __future__ import annotations

from callqa.events import EvaluationScored, RecordingPurged, TranscriptReady
from coaching.ledger import Ledger
from coaching.library import Library


def on_evaluation_scored(scored: EvaluationScored, *, ledger: Ledger, library: Library) -> None:
    """Keep coaching's own copy of the evaluation (version 1, source `auto`); a duplicate changes nothing. A new
    score of a transcribed call marks the FAQ changed (it ranks the answers)."""
    if ledger.on_evaluation_scored(scored):
        library.on_evaluation_scored(scored.recording_id)


def on_transcript_ready(ready: TranscriptReady, *, library: Library) -> None:
    """Remember where the transcript and its redacted audio are, and the call's first exchange (for the FAQ)."""
    library.on_transcript_ready(ready)


def on_recording_purged(purged: RecordingPurged, *, ledger: Ledger, library: Library) -> None:
    """Erase the call's words (evidence, notes, comments, reasons) from every object of the recording; the call
    leaves the training library and the FAQ. Scores and statistics stay."""
    ledger.on_recording_purged(purged)
    library.on_recording_purged(purged)
