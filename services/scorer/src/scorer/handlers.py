"""What the scorer does with each event it consumes (run in a worker thread by callqa's EventWorker)."""

from __future__ import annotations

from callqa.events import RecordingPurged, TranscriptReady
from scorer.scoring import Scorer


def on_transcript_ready(transcript: TranscriptReady, scorer: Scorer) -> None:
    """Score the call against every scorecard that applies (once per transcript and scorecard version)."""
    scorer.on_transcript(transcript)


def on_recording_purged(purged: RecordingPurged, scorer: Scorer) -> None:
    """Evidence quoting the call goes; scores stay."""
    scorer.purge(purged.recording_id)
