"""The demo's sample calls: rendered with espeak-ng + sox into stereo 8 kHz μ-law, turns where the timings say."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from callqa_stack.samples import DEFAULT_PAUSE_S, DEFAULT_YAML, TAIL_S, SampleCall, render_calls
from recorder_ingest.schemas import RecordingMetadata
from tests.deploy.helpers import EDGE_S, SILENT_PEAK, SPEECH_RMS, read_channels, rms, soxi, spans_without, window

SCRIPTS = yaml.safe_load(DEFAULT_YAML.read_text(encoding="utf-8"))["calls"]
CALL_IDS = [script["call_id"] for script in SCRIPTS]


@pytest.fixture(scope="module")
def calls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SampleCall]:
    rendered = render_calls(DEFAULT_YAML, tmp_path_factory.mktemp("samples"), engine="espeak")
    return {call.call_id: call for call in rendered}


def test_the_demo_set(calls: dict[str, SampleCall]) -> None:
    assert sorted(call.language for call in calls.values()) == ["en", "en", "en", "zh", "zh", "zh"]
    assert [call.metadata["consent"]["status"] for call in calls.values()].count("declined") == 1
    texts = " ".join(turn.text for call in calls.values() for turn in call.turns)
    for phrase in (
        "投诉",
        "您好",
        "请",
        "感谢",
        "不知道",
        "那你想好了再打来吧",
        "I guarantee it will be fixed tomorrow",
    ):
        assert phrase in texts
    for call in calls.values():
        assert 6 <= len(call.turns) <= 12
        assert "turns" not in call.metadata
        assert call.metadata["call_id"] == call.call_id
        # What the demo posts must pass the ingest API's own validation.
        RecordingMetadata.model_validate(call.metadata)
        assert "2026-11-01" <= call.metadata["started_at"] < "2026-12-01"


@pytest.mark.parametrize("call_id", CALL_IDS)
def test_stereo_telephony_file(calls: dict[str, SampleCall], call_id: str) -> None:
    call = calls[call_id]
    assert (soxi(call.path, "-c"), soxi(call.path, "-r"), soxi(call.path, "-e")) == ("2", "8000", "u-law")
    script = SCRIPTS[CALL_IDS.index(call_id)]
    spoken = sum(turn.end_s - turn.begin_s for turn in call.turns)
    pauses = sum(turn.get("pause_before_s", DEFAULT_PAUSE_S) for turn in script["turns"])
    assert float(soxi(call.path, "-D")) == pytest.approx(call.duration_s, abs=0.01)
    assert call.duration_s == pytest.approx(spoken + pauses + TAIL_S, abs=0.01)
    assert call.duration_s == pytest.approx(call.turns[-1].end_s + TAIL_S, abs=0.01)
    for turn, turn_script in zip(call.turns, script["turns"], strict=True):
        assert (turn.role, turn.text) == (turn_script["role"], turn_script["text"])
        assert turn.end_s - turn.begin_s > 0.3


@pytest.mark.parametrize("call_id", CALL_IDS)
def test_each_party_on_its_own_channel(calls: dict[str, SampleCall], call_id: str, tmp_path: Path) -> None:
    call = calls[call_id]
    channels, rate = read_channels(call.path, tmp_path)
    for turn in call.turns:
        own = channels[call.channel(turn.role)]
        other = channels[1 - call.channel(turn.role)]
        assert rms(window(own, rate, turn.begin_s + EDGE_S, turn.end_s - EDGE_S)) > SPEECH_RMS, turn
        # The other party's channel is silent while this one speaks, except where they talk over each other.
        others = [t for t in call.turns if t.role != turn.role]
        for begin, end in spans_without(turn.begin_s + EDGE_S, turn.end_s - EDGE_S, others):
            assert max(map(abs, window(other, rate, begin, end)), default=0) <= SILENT_PEAK, (turn, begin, end)
    # Between turns (pauses, dead air) both channels are silent.
    for previous, turn in zip(call.turns, call.turns[1:], strict=False):
        if turn.begin_s - previous.end_s > 2 * EDGE_S:
            for channel in channels:
                gap = window(channel, rate, previous.end_s + EDGE_S, turn.begin_s - EDGE_S)
                assert max(map(abs, gap)) <= SILENT_PEAK, (previous, turn)


def test_dead_air_and_talk_over_are_where_the_script_puts_them(calls: dict[str, SampleCall], tmp_path: Path) -> None:
    outage = calls["sipgw-us-20261105-91230"]
    gaps = [b.begin_s - a.end_s for a, b in zip(outage.turns, outage.turns[1:], strict=False)]
    assert max(gaps) == pytest.approx(7.5, abs=0.002)

    refund = calls["sipgw-us-20261110-88412"]
    agent, customer = refund.turns[4], refund.turns[5]
    assert agent.end_s - customer.begin_s == pytest.approx(0.8, abs=0.002)
    channels, rate = read_channels(refund.path, tmp_path)
    for channel in channels:
        assert rms(window(channel, rate, customer.begin_s + EDGE_S, agent.end_s - EDGE_S)) > SPEECH_RMS / 2


CALL = """
calls:
  - call_id: tiny-1
    agent_id: a1
    language: en
    channel_layout: agent_right
    started_at: 2026-11-20T10:00:00+01:00
    consent: {status: notified, method: ivr_announcement}
    turns:
      - {role: agent, text: "Hello, how can I help?"}
      - {role: customer, text: "-1 is my balance.", pause_before_s: 0}
"""


def test_cache_agent_right_and_validation(tmp_path: Path) -> None:
    script, out = tmp_path / "calls.yaml", tmp_path / "out"
    script.write_text(CALL)
    [call] = render_calls(script, out, engine="espeak")
    assert call.metadata["started_at"] == "2026-11-20T10:00:00+01:00"  # unquoted in YAML: still a string
    assert (call.channel("agent"), call.channel("customer")) == (1, 0)
    assert call.turns[1].begin_s == call.turns[0].end_s
    channels, rate = read_channels(call.path, tmp_path)
    agent_turn = (call.turns[0].begin_s + EDGE_S, call.turns[0].end_s - EDGE_S)
    assert rms(window(channels[1], rate, *agent_turn)) > SPEECH_RMS
    assert max(map(abs, window(channels[0], rate, *agent_turn))) <= SILENT_PEAK

    rendered_at = call.path.stat().st_mtime_ns
    assert render_calls(script, out, engine="espeak") == [call]
    assert call.path.stat().st_mtime_ns == rendered_at  # cached
    future = script.stat().st_mtime + 10
    os.utime(script, (future, future))
    assert render_calls(script, out, engine="espeak") == [call]
    assert call.path.stat().st_mtime_ns != rendered_at  # the script changed: rendered again

    script.write_text(CALL.replace("role: customer", "role: supervisor"))
    with pytest.raises(ValueError, match=r"tiny-1.*turn 1: role must be 'agent' or 'customer'"):
        render_calls(script, out, engine="espeak")
    script.write_text(CALL.replace("role: customer", "role: agent").replace("pause_before_s: 0", "pause_before_s: -1"))
    with pytest.raises(ValueError, match="overlaps the agent's own previous turn"):
        render_calls(script, out, engine="espeak")
