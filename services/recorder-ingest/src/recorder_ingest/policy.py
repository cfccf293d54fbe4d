"""What the archive decides about a posted recording before any I/O: its channel layout, retention
policy and date, and what consent allows. Pure functions of the metadata, the audio's facts and the
settings, so each rule is tested without servers (tests/recorder_ingest/test_policy.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from callqa.events import ChannelLayout, ConsentStatus
from callqa.http import FieldError
from recorder_ingest.config import DeclinedConsentPolicy, Settings
from recorder_ingest.schemas import RecordingMetadata


class MetadataRejected(ValueError):
    """The metadata contradicts the audio or the site's policies; `errors` names the fields."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


def channel_layout(meta: RecordingMetadata, channels: int, settings: Settings) -> ChannelLayout:
    """Which channel is whose: a mono file is mono; else as posted, or the platform's, or the site default."""
    if channels == 1:
        if meta.channel_layout not in (None, ChannelLayout.mono):
            message = f"{meta.channel_layout} needs a stereo recording; the audio has 1 channel"
            raise MetadataRejected([FieldError(field="metadata.channel_layout", message=message)])
        return ChannelLayout.mono
    if meta.channel_layout is not None:
        return meta.channel_layout
    return settings.channel_layouts.get(meta.platform or "", settings.default_channel_layout)


def retention_policy(meta: RecordingMetadata, settings: Settings) -> str:
    """Declined consent's policy first, then the one posted, else the longest among the call's tags'."""
    days = settings.retention_days
    if meta.consent.status is ConsentStatus.declined and "declined" in days:
        return "declined"
    if meta.retention_policy is not None:
        if meta.retention_policy not in days:
            message = f"unknown policy; known: {', '.join(sorted(days))}"
            raise MetadataRejected([FieldError(field="metadata.retention_policy", message=message)])
        return meta.retention_policy
    tagged = [settings.retention_by_tag[t] for t in meta.tags if t in settings.retention_by_tag]
    return max(tagged, key=lambda name: days[name], default="default")


def retain_until(started_at: datetime, policy: str, settings: Settings) -> datetime:
    return started_at + timedelta(days=settings.retention_days[policy])


@dataclass(frozen=True)
class ConsentDecision:
    declined: bool  # not transcribed, no `recording.stored` event
    discard_audio: bool  # metadata kept, audio never stored
    outcome: str  # said to the platform and kept with the recording


def consent_decision(meta: RecordingMetadata, settings: Settings) -> ConsentDecision:
    declined = meta.consent.status is ConsentStatus.declined
    discard = declined and settings.declined_consent is DeclinedConsentPolicy.discard_audio
    if discard:
        outcome = "audio discarded: the customer declined recording; metadata kept, not transcribed"
    elif declined:
        outcome = "audio retained under policy retain_audio: the customer declined; not transcribed"
    else:
        outcome = "audio retained"
    return ConsentDecision(declined, discard, outcome)
