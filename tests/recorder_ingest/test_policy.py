"""The archive's decisions about a posted recording, as pure functions: no servers needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from callqa.events import ChannelLayout
from recorder_ingest.config import DeclinedConsentPolicy, Settings
from recorder_ingest.policy import (
    MetadataRejected,
    channel_layout,
    consent_decision,
    retain_until,
    retention_policy,
)
from recorder_ingest.schemas import RecordingMetadata

SETTINGS = Settings(channel_layouts={"pbx-west": ChannelLayout.agent_right})


def meta(**fields: Any) -> RecordingMetadata:
    return RecordingMetadata.model_validate(
        {
            "call_id": "c-1",
            "agent_id": "a-1",
            "started_at": "2026-11-02T09:30:00+08:00",
            "consent": {"status": "notified"},
            **fields,
        }
    )


@pytest.mark.parametrize(
    ("fields", "channels", "expected"),
    [
        ({}, 1, ChannelLayout.mono),
        ({"channel_layout": "mono"}, 1, ChannelLayout.mono),
        ({}, 2, ChannelLayout.agent_left),  # the site default
        ({"platform": "pbx-west"}, 2, ChannelLayout.agent_right),  # the platform's
        ({"platform": "pbx-west", "channel_layout": "agent_left"}, 2, ChannelLayout.agent_left),  # as posted
    ],
)
def test_channel_layout(fields: dict[str, Any], channels: int, expected: ChannelLayout) -> None:
    assert channel_layout(meta(**fields), channels, SETTINGS) is expected


def test_a_stereo_layout_for_mono_audio_is_refused_naming_the_field() -> None:
    with pytest.raises(MetadataRejected) as refused:
        channel_layout(meta(channel_layout="agent_left"), 1, SETTINGS)
    assert [e.field for e in refused.value.errors] == ["metadata.channel_layout"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, "default"),
        ({"tags": ["vip"]}, "default"),
        ({"tags": ["complaint"]}, "complaint"),
        ({"tags": ["vip", "dispute", "complaint"]}, "complaint"),  # the longest of the tagged ones
        ({"retention_policy": "dispute"}, "dispute"),
        ({"retention_policy": "default", "tags": ["complaint"]}, "default"),  # posted beats tags
        ({"consent": {"status": "declined"}, "retention_policy": "dispute"}, "declined"),  # declined beats all
    ],
)
def test_retention_policy(fields: dict[str, Any], expected: str) -> None:
    assert retention_policy(meta(**fields), SETTINGS) == expected


def test_an_unknown_retention_policy_is_refused_listing_the_known_ones() -> None:
    with pytest.raises(MetadataRejected, match="complaint, declined, default, dispute"):
        retention_policy(meta(retention_policy="forever"), SETTINGS)


def test_retain_until_counts_days_from_the_call_start() -> None:
    started = datetime(2026, 11, 2, 1, 30, tzinfo=UTC)
    assert retain_until(started, "default", SETTINGS) == started + timedelta(days=180)
    assert retain_until(started, "declined", SETTINGS) == started


def test_consent_decides_what_is_kept_and_transcribed() -> None:
    accepted = consent_decision(meta(consent={"status": "accepted"}), SETTINGS)
    assert (accepted.declined, accepted.discard_audio, accepted.outcome) == (False, False, "audio retained")
    discarded = consent_decision(meta(consent={"status": "declined"}), SETTINGS)
    assert (discarded.declined, discarded.discard_audio) == (True, True)
    keep = Settings(declined_consent=DeclinedConsentPolicy.retain_audio)
    retained = consent_decision(meta(consent={"status": "declined"}), keep)
    assert (retained.declined, retained.discard_audio) == (True, False)
    assert "not transcribed" in retained.outcome
