"""`channel_layout: mono`: both parties rendered into one channel, where the timings say, at stereo loudness."""

from __future__ import annotations

import math
import subprocess
import wave
from array import array
from pathlib import Path

from callqa_stack.samples import render_calls
from recorder_ingest.schemas import RecordingMetadata

CALL = """
calls:
  - call_id: mono-1
    agent_id: a1
    language: en
    channel_layout: {layout}
    started_at: "2026-11-20T10:00:00+01:00"
    consent: {{status: notified}}
    turns:
      - {{role: agent, text: "Hello, thank you for calling, how can I help?"}}
      - {{role: customer, text: "My parcel has not arrived.", pause_before_s: 1.0}}
"""
EDGE_S = 0.05


def decoded(path: Path, tmp_path: Path) -> tuple[list[array[int]], int]:
    pcm = tmp_path / f"{path.stem}-pcm.wav"
    subprocess.run(["sox", str(path), "-e", "signed-integer", "-b", "16", str(pcm)], check=True)
    with wave.open(str(pcm), "rb") as reader:
        samples = array("h", reader.readframes(reader.getnframes()))
        count = reader.getnchannels()
        return [samples[i::count] for i in range(count)], reader.getframerate()


def rms(samples: array[int]) -> float:
    return math.sqrt(sum(x * x for x in samples) / len(samples))


def test_mono_mixes_both_parties_into_one_channel(tmp_path: Path) -> None:
    (tmp_path / "mono.yaml").write_text(CALL.format(layout="mono"))
    (tmp_path / "stereo.yaml").write_text(CALL.format(layout="agent_left"))
    [mono] = render_calls(tmp_path / "mono.yaml", tmp_path / "mono", engine="espeak")
    [stereo] = render_calls(tmp_path / "stereo.yaml", tmp_path / "stereo", engine="espeak")
    assert mono.mono and not stereo.mono
    assert mono.channel("agent") == mono.channel("customer") == 0
    assert mono.turns == stereo.turns  # the same layout in time
    RecordingMetadata.model_validate(mono.metadata)  # posts as a mono call

    [line], rate = decoded(mono.path, tmp_path)
    parties, stereo_rate = decoded(stereo.path, tmp_path)
    assert rate == stereo_rate == 8000
    assert len(line) == len(parties[0])
    for turn in mono.turns:
        span = slice(round((turn.begin_s + EDGE_S) * rate), round((turn.end_s - EDGE_S) * rate))
        own = parties[stereo.channel(turn.role)][span]
        # Where one party speaks the line carries that party's speech, as loud as on its stereo channel.
        assert abs(rms(line[span]) / rms(own) - 1) < 0.05

    # A cached rendering is reused only for the same layout.
    assert render_calls(tmp_path / "mono.yaml", tmp_path / "mono", engine="espeak") == [mono]
