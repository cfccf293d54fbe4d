"""What the transcriber does with each event it consumes (run in a worker thread by callqa's EventWorker)."""

from __future__ import annotations

from callqa.events import RecordingPurged, RecordingStored
from transcriber.worker import Transcriber


def on_recording_stored(recording: RecordingStored, transcriber: Transcriber) -> None:
    """Transcribe the call once per model version (a duplicate finds its transcript and does nothing)."""
    transcriber.transcribe(recording)


def on_recording_purged(purged: RecordingPurged, transcriber: Transcriber) -> None:
    """The transcript and the redacted audio go with the recording."""
    transcriber.erase(purged.recording_id)
