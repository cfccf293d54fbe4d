"""Acoustic conversation metrics, turn merging and mono diarization against calls with known timings.

Stereo calls are synthesised with espeak-ng + sox (callqa_stack.samples): each turn's exact begin/end is
known, so the hold (nobody speaks) and the talk-over (negative pause) that the scripts below contain are
known to the millisecond. No recogniser runs here: turns are built from the rendered timings.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import yaml

from callqa.transcripts import Role, Span, Turn, Word
from callqa_stack.clips import Clip
from callqa_stack.samples import SampleCall, TurnTiming, render_calls
from transcriber import vad
from transcriber.diarize import Diarization, assign_words_to_speakers, diarize, identify_agent
from transcriber.metrics import conversation_metrics, count_units, loudness_dbfs, non_talk_spans, response_latencies
from transcriber.turns import join_words, merge_words

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("espeak-ng", "sox", "ffmpeg")),
    reason="needs espeak-ng, sox and ffmpeg (./run setup installs them)",
)

RATE = 16000
HOLD_S = 5.6
TALK_OVER_S = 0.8
EDGE_TOLERANCE_S = 0.3
# Each script has one hold (HOLD_S of silence on both channels) and one talk-over (the customer starts
# TALK_OVER_S before the agent has finished), plus ordinary 0.4-0.6 s hand-overs.
CALLS = [
    {
        "call_id": "en-hold-talkover",
        "language": "en",
        "channel_layout": "agent_left",
        "turns": [
            ("agent", "Thank you for calling Northwind support, this is Sam speaking. How can I help you today?"),
            ("customer", "Hi Sam. I was charged twice for my order last week, and I would like one payment back."),
            ("agent", "I am sorry to hear that. Let me check your account, it will take a moment."),
            ("customer", "Hello? Are you still there?", HOLD_S),
            ("agent", "Yes, thank you for waiting. I can see the second payment, and I will refund it today, so", 0.6),
            ("customer", "Great. How long will the refund take to arrive?", -TALK_OVER_S),
            ("agent", "Usually three to five business days.", 0.5),
            ("customer", "Okay, thank you very much. Goodbye."),
        ],
    },
    {
        "call_id": "zh-hold-talkover",
        "language": "zh",
        "channel_layout": "agent_right",
        "turns": [
            ("agent", "您好，这里是客服中心，工号一零二四，请问有什么可以帮您？"),
            ("customer", "你好，我家的宽带从昨天晚上开始就一直上不了网。"),
            ("agent", "好的，我帮您查询一下线路状态，请稍等。"),
            ("customer", "喂？你还在吗？", HOLD_S),
            ("agent", "在的，让您久等了。您所在的小区正在进行线路维修，预计今天下午就能", 0.6),
            ("customer", "那我今天晚上能正常用吗？", -TALK_OVER_S),
            ("agent", "可以的，维修完成后会自动恢复，给您带来不便非常抱歉。", 0.5),
        ],
    },
]


def calls_yaml() -> str:
    """CALLS in samples/calls.yaml's format: turns as {role, text, pause_before_s}."""
    scripts = [
        {**call, "turns": [dict(zip(("role", "text", "pause_before_s"), turn, strict=False)) for turn in call["turns"]]}
        for call in CALLS
    ]
    return yaml.safe_dump({"calls": scripts}, allow_unicode=True)


Samples = npt.NDArray[np.float32]


@pytest.fixture(scope="module")
def calls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SampleCall]:
    folder = tmp_path_factory.mktemp("metric-calls")
    (folder / "calls.yaml").write_text(calls_yaml(), encoding="utf-8")
    return {call.call_id: call for call in render_calls(folder / "calls.yaml", folder, engine="espeak", workers=2)}


def decode(path: Path, *, mono: bool = False) -> Samples:
    """Channels as rows of 16 kHz float32 (ffmpeg's f32le); `mono` averages them into one row."""
    args = (
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-ac", "1"]
        if mono
        else ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path)]
    )
    raw = subprocess.run([*args, "-ar", str(RATE), "-f", "f32le", "-"], capture_output=True, check=True).stdout
    channels = (
        1 if mono else int(subprocess.run(["soxi", "-c", str(path)], capture_output=True, check=True, text=True).stdout)
    )
    return np.frombuffer(raw, dtype=np.float32).reshape(-1, channels).T.copy()


def ms(seconds: float) -> int:
    return round(seconds * 1000)


def role_audio(call: SampleCall) -> dict[Role, Samples]:
    channels = decode(call.path)
    return {"agent": channels[call.channel("agent")], "customer": channels[call.channel("customer")]}


def expected_turns(call: SampleCall) -> list[Turn]:
    """The rendered turns as the transcriber would produce them, one Word per turn."""
    return [
        Turn(
            id=f"t{number}",
            role=timing.role,
            begin_ms=ms(timing.begin_s),
            end_ms=ms(timing.end_s),
            text=timing.text,
            words=[Word(text=timing.text, begin_ms=ms(timing.begin_s), end_ms=ms(timing.end_s), probability=1.0)],
        )
        for number, timing in enumerate(call.turns)
    ]


def union_s(intervals: list[tuple[float, float]]) -> float:
    total, reach = 0.0, float("-inf")
    for begin, end in sorted(intervals):
        if end > reach:
            total += end - max(begin, reach)
            reach = end
    return total


def turn_intervals(call: SampleCall, role: Role) -> list[tuple[float, float]]:
    return [(t.begin_s, t.end_s) for t in call.turns if t.role == role]


# --- stereo: VAD per channel, metrics ---------------------------------------------------------------------


@pytest.mark.parametrize("call_id", ["en-hold-talkover", "zh-hold-talkover"])
def test_hold_talk_over_and_talk_time_are_found_where_they_were_rendered(
    calls: dict[str, SampleCall], call_id: str
) -> None:
    call = calls[call_id]
    audio = role_audio(call)
    speech = {role: vad.speech_spans(samples) for role, samples in audio.items()}
    loudness = {role: loudness_dbfs(audio[role], speech[role], RATE) for role in audio}
    metrics = conversation_metrics(
        expected_turns(call), speech, duration_ms=ms(call.duration_s), language=call.language, loudness=loudness
    )

    # The hold: from the end of everything said before the "Hello?" turn to that turn's start.
    hold_turn = next(i for i, t in enumerate(call.turns) if t.text.startswith(("Hello?", "喂")))
    hold = (max(t.end_s for t in call.turns[:hold_turn]), call.turns[hold_turn].begin_s)
    assert hold[1] - hold[0] == pytest.approx(HOLD_S, abs=0.01)
    assert len(metrics.non_talk) == 1, metrics.non_talk
    found = metrics.non_talk[0]
    errors = (found.begin_ms / 1000 - hold[0], found.end_ms / 1000 - hold[1])
    print(f"{call_id}: hold error begin {errors[0]:+.3f} s, end {errors[1]:+.3f} s")
    assert all(abs(error) <= EDGE_TOLERANCE_S for error in errors)
    assert metrics.non_talk_time_ms == found.duration_ms

    # The talk-over: the customer starts while the agent is finishing.
    interrupting = next(
        i for i, t in enumerate(call.turns) if t.role == "customer" and t.begin_s < call.turns[i - 1].end_s
    )
    talk_over = (call.turns[interrupting].begin_s, call.turns[interrupting - 1].end_s)
    assert talk_over[1] - talk_over[0] == pytest.approx(TALK_OVER_S, abs=0.01)
    assert len(metrics.overlaps) == 1, metrics.overlaps
    overlap = metrics.overlaps[0]
    errors = (overlap.begin_ms / 1000 - talk_over[0], overlap.end_ms / 1000 - talk_over[1])
    print(f"{call_id}: overlap error begin {errors[0]:+.3f} s, end {errors[1]:+.3f} s")
    assert all(abs(error) <= EDGE_TOLERANCE_S for error in errors)
    assert (overlap.interrupter, overlap.interrupted) == ("customer", "agent")
    assert metrics.interruptions == {"agent": 0, "customer": 1}

    for role in ("agent", "customer"):
        rendered = union_s(turn_intervals(call, role))
        measured = metrics.roles[role].talk_time_ms / 1000
        print(f"{call_id}: {role} talk {measured:.2f} s of {rendered:.2f} s rendered")
        assert measured == pytest.approx(rendered, rel=0.05)
        assert metrics.roles[role].talk_ratio == pytest.approx(measured / call.duration_s, abs=0.001)
        loudness_db = metrics.roles[role].loudness_dbfs
        assert loudness_db is not None
        assert -30 < loudness_db < -3


def test_line_noise_does_not_hide_the_hold_or_the_talk_over(calls: dict[str, SampleCall]) -> None:
    """White noise at -40 dBFS on both channels (about 20 dB below the speech): no digital silence to lean on."""
    call = calls["en-hold-talkover"]
    rng = np.random.default_rng(7)
    audio = {
        role: (samples + rng.normal(0, 10 ** (-40 / 20), samples.size)).astype(np.float32)
        for role, samples in role_audio(call).items()
    }
    speech = {role: vad.speech_spans(samples) for role, samples in audio.items()}
    metrics = conversation_metrics(
        expected_turns(call), speech, duration_ms=ms(call.duration_s), language="en", loudness={}
    )
    hold = (call.turns[2].end_s, call.turns[3].begin_s)
    talk_over = (call.turns[5].begin_s, call.turns[4].end_s)
    assert len(metrics.non_talk) == len(metrics.overlaps) == 1, (metrics.non_talk, metrics.overlaps)
    found, overlap = metrics.non_talk[0], metrics.overlaps[0]
    assert abs(found.begin_ms / 1000 - hold[0]) <= EDGE_TOLERANCE_S
    assert abs(found.end_ms / 1000 - hold[1]) <= EDGE_TOLERANCE_S
    assert abs(overlap.begin_ms / 1000 - talk_over[0]) <= EDGE_TOLERANCE_S
    assert abs(overlap.end_ms / 1000 - talk_over[1]) <= EDGE_TOLERANCE_S
    assert overlap.interrupter == "customer"
    for role in ("agent", "customer"):
        rendered = union_s(turn_intervals(call, role))
        assert metrics.roles[role].talk_time_ms / 1000 == pytest.approx(rendered, rel=0.08)


def test_stereo_speaker_attribution_covers_each_turn_by_its_own_channel(calls: dict[str, SampleCall]) -> None:
    """Speaker attribution on stereo = how much of each turn the right channel's VAD covers."""
    worst = 1.0
    for call in calls.values():
        speech = {role: vad.speech_spans(samples) for role, samples in role_audio(call).items()}
        for timing in call.turns:
            covered = sum(
                max(0, min(span.end_ms, ms(timing.end_s)) - max(span.begin_ms, ms(timing.begin_s)))
                for span in speech[timing.role]
            )
            share = covered / (ms(timing.end_s) - ms(timing.begin_s))
            worst = min(worst, share)
            assert share >= 0.95, f"{call.call_id} {timing.role} {timing.text!r}: {share:.1%} covered"
    print(f"stereo attribution: worst turn {worst:.1%} covered by its channel")


@pytest.mark.parametrize("call_id", ["en-hold-talkover", "zh-hold-talkover"])
def test_speech_rate_counts_characters_in_chinese_and_words_in_english(
    calls: dict[str, SampleCall], call_id: str
) -> None:
    call = calls[call_id]
    speech = {role: vad.speech_spans(samples) for role, samples in role_audio(call).items()}
    metrics = conversation_metrics(
        expected_turns(call), speech, duration_ms=ms(call.duration_s), language=call.language, loudness={}
    )
    for role in ("agent", "customer"):
        texts = [t.text for t in call.turns if t.role == role]
        if call.language == "zh":
            expected = sum(len(re.findall(r"[\u4e00-\u9fff]", text)) for text in texts)
            assert metrics.roles[role].speech_rate_unit == "chars_per_min"
        else:
            expected = sum(len(text.split()) for text in texts)
            assert metrics.roles[role].speech_rate_unit == "words_per_min"
        role_metrics = metrics.roles[role]
        assert role_metrics.units == expected
        assert role_metrics.turns == len(texts)
        assert role_metrics.speech_rate == pytest.approx(expected / (role_metrics.talk_time_ms / 60_000), abs=0.1)


def test_count_units() -> None:
    assert count_units("您好，很高兴为您服务！", "zh") == 9
    assert count_units("我用的是iPhone 15，号码[PHONE]。", "zh-CN") == 6 + 3  # 我用的是号码 + iPhone, 15, PHONE
    assert count_units("Thank you for calling - how can I help?", "en") == 8  # the dash is no word
    assert count_units("", "en") == count_units("。", "zh") == 0


@pytest.mark.parametrize("call_id", ["en-hold-talkover", "zh-hold-talkover"])
def test_response_latency_is_the_pause_before_each_agent_answer(calls: dict[str, SampleCall], call_id: str) -> None:
    call = calls[call_id]
    metrics = conversation_metrics(
        expected_turns(call), {}, duration_ms=ms(call.duration_s), language=call.language, loudness={}
    )
    expected = [
        ms(answer.begin_s) - ms(asked.end_s)
        for asked, answer in zip(call.turns, call.turns[1:], strict=False)
        if asked.role == "customer" and answer.role == "agent"
    ]
    assert [latency.latency_ms for latency in metrics.response_latencies] == expected
    assert expected == pytest.approx([400, 600, 500], abs=2)  # hand-over, answer after the hold, after talk-over
    assert metrics.mean_response_latency_ms == round(sum(expected) / len(expected))
    assert metrics.max_response_latency_ms == max(expected)


def test_response_latency_skips_back_channels_and_answers_the_last_customer_turn() -> None:
    turns = [
        turn("t0", "agent", 0, 4000, "Thank you for calling, how can I help?"),
        turn("t1", "customer", 2000, 2400, "uh-huh"),  # back-channel inside the agent's turn
        turn("t2", "customer", 4500, 6000, "My card was charged twice."),
        turn("t3", "customer", 8000, 9000, "Hello?"),  # the customer goes on: only this one is answered
        turn("t4", "agent", 8500, 8800, "mm"),  # agent back-channel inside it: not an answer
        turn("t5", "agent", 9500, 12000, "Sorry, I am checking."),
        turn("t6", "customer", 11500, 13000, "Okay."),  # starts before the agent finished: negative latency
        turn("t7", "agent", 12500, 14000, "Done."),
    ]
    latencies = response_latencies(turns)
    assert [(x.customer_turn_id, x.agent_turn_id, x.latency_ms) for x in latencies] == [
        ("t3", "t5", 500),
        ("t6", "t7", -500),
    ]


def test_non_talk_ignores_the_silence_before_the_first_and_after_the_last_word() -> None:
    speech: dict[Role, list[Span]] = {
        "agent": [Span(begin_ms=4000, end_ms=6000), Span(begin_ms=12000, end_ms=14000)],
        "customer": [Span(begin_ms=6500, end_ms=8000), Span(begin_ms=8100, end_ms=9000)],
    }
    metrics = conversation_metrics([], speech, duration_ms=30000, language="en", loudness={})
    assert metrics.non_talk == [Span(begin_ms=9000, end_ms=12000)]  # 3.0 s: the minimum counts
    assert non_talk_spans(speech.values(), min_non_talk_ms=3001) == []
    assert non_talk_spans([[], []]) == []
    assert metrics.roles["agent"].talk_time_ms == 4000
    assert metrics.roles["agent"].speech_rate == 0.0
    assert metrics.roles["customer"].talk_ratio == pytest.approx(2400 / 30000, abs=1e-4)


def test_overlaps_shorter_than_the_minimum_are_crosstalk() -> None:
    speech: dict[Role, list[Span]] = {
        "agent": [Span(begin_ms=0, end_ms=5000), Span(begin_ms=9000, end_ms=12000)],
        "customer": [Span(begin_ms=4850, end_ms=8000), Span(begin_ms=10000, end_ms=10600)],
    }
    metrics = conversation_metrics([], speech, duration_ms=12000, language="en", loudness={})
    assert [(o.begin_ms, o.end_ms, o.interrupter) for o in metrics.overlaps] == [(10000, 10600, "customer")]
    metrics = conversation_metrics([], speech, duration_ms=12000, language="en", loudness={}, min_overlap_ms=100)
    assert [(o.begin_ms, o.interrupter, o.interrupted) for o in metrics.overlaps] == [
        (4850, "customer", "agent"),
        (10000, "customer", "agent"),
    ]
    assert metrics.interruptions == {"agent": 0, "customer": 2}


def test_a_role_without_speech_has_no_speech_rate() -> None:
    metrics = conversation_metrics(
        [turn("t0", "agent", 0, 1000, "Hello?")],
        {"agent": [Span(begin_ms=0, end_ms=1000)], "customer": []},
        duration_ms=2000,
        language="en",
        loudness={"agent": -20.0, "customer": None},
    )
    assert metrics.roles["customer"].speech_rate is None
    assert metrics.roles["customer"].talk_time_ms == 0
    assert metrics.roles["agent"].speech_rate == 60.0  # one word in one second
    assert metrics.response_latencies == [] and metrics.mean_response_latency_ms is None


def test_loudness_is_the_rms_of_the_voiced_samples() -> None:
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(RATE) / RATE)).astype(np.float32)
    samples = np.concatenate([tone, np.zeros(RATE, dtype=np.float32)])
    assert loudness_dbfs(samples, [Span(begin_ms=0, end_ms=1000)], RATE) == pytest.approx(-9.0, abs=0.1)
    assert loudness_dbfs(samples, [], RATE) is None
    assert loudness_dbfs(samples, [Span(begin_ms=1000, end_ms=2000)], RATE) is None  # digital silence


def test_a_silent_channel_has_no_speech_and_never_reaches_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(_samples: Samples) -> Samples:
        raise AssertionError("the VAD model ran on a silent channel")

    monkeypatch.setattr(vad, "_silero_probabilities", refuse)
    assert vad.speech_spans(np.zeros(10 * RATE, dtype=np.float32)) == []
    hiss = np.random.default_rng(1).normal(0, 10 ** (-70 / 20), 10 * RATE).astype(np.float32)  # -70 dBFS
    assert vad.speech_spans(hiss) == []
    assert vad.speech_spans(np.zeros(0, dtype=np.float32)) == []


# --- merging word streams into turns -----------------------------------------------------------------------


def words(text: str, begin_ms: int, step_ms: int = 300) -> list[Word]:
    """Whitespace-separated tokens as Whisper gives them (with a leading space), `step_ms` apart."""
    return [
        Word(
            text=" " + token, begin_ms=begin_ms + i * step_ms, end_ms=begin_ms + (i + 1) * step_ms - 50, probability=0.9
        )
        for i, token in enumerate(text.split())
    ]


def turn(turn_id: str, role: Role, begin_ms: int, end_ms: int, text: str) -> Turn:
    return Turn(id=turn_id, role=role, begin_ms=begin_ms, end_ms=end_ms, text=text)


def test_interleaved_word_streams_become_alternating_turns_by_word_time() -> None:
    # Whisper gave the agent one segment spanning the customer's answer; word times tell the truth.
    agent = words("Can you confirm your postcode? Thank you.", 0)
    agent = agent[:5] + [
        w.model_copy(update={"begin_ms": w.begin_ms + 2500, "end_ms": w.end_ms + 2500}) for w in agent[5:]
    ]
    customer = words("Yes, it is S W one.", 1700, 150)
    turns = merge_words({"agent": agent, "customer": customer})
    assert [(t.id, t.role, t.text) for t in turns] == [
        ("t0", "agent", "Can you confirm your postcode?"),
        ("t1", "customer", "Yes, it is S W one."),
        ("t2", "agent", "Thank you."),
    ]
    assert (turns[1].begin_ms, turns[1].end_ms) == (1700, 1700 + 6 * 150 - 50)
    assert [len(t.words) for t in turns] == [5, 6, 2]


def test_a_long_pause_splits_a_speakers_turn() -> None:
    stream = words("one two", 0) + words("three four", 3000)
    assert [t.text for t in merge_words({"agent": stream})] == ["one two", "three four"]
    assert [t.text for t in merge_words({"agent": stream}, max_gap_ms=3000)] == ["one two three four"]


def test_a_back_channel_inside_a_long_turn_is_kept_as_its_own_turn() -> None:
    agent = words("您好 这里是 客服中心 请问 有什么 可以 帮您", 0, 400)
    backchannel = [Word(text="嗯", begin_ms=1300, end_ms=1500, probability=0.8)]  # over the agent's fourth word
    turns = merge_words({"agent": agent, "customer": backchannel})
    assert [(t.id, t.role, t.text) for t in turns] == [
        ("t0", "agent", "您好这里是客服中心请问有什么可以帮您"),
        ("t1", "customer", "嗯"),
    ]
    assert turns[0].begin_ms < turns[1].begin_ms < turns[1].end_ms < turns[0].end_ms

    # An answer in a real pause is a turn, not a back-channel: the agent had stopped for it.
    agent = words("Is that right?", 0) + words("Great, then we are done.", 1900)  # paused 1.05 s
    turns = merge_words({"agent": agent, "customer": [Word(text=" Yes.", begin_ms=1200, end_ms=1600, probability=0.9)]})
    assert [(t.role, t.text) for t in turns] == [
        ("agent", "Is that right?"),
        ("customer", "Yes."),
        ("agent", "Great, then we are done."),
    ]


def test_chinese_joins_without_spaces_and_english_with_single_spaces() -> None:
    assert join_words(["您好", "，", "这里", "是", "客服", "中心", "。"]) == "您好，这里是客服中心。"
    assert join_words([" Hello,", " this", " is", " Sam", "."]) == "Hello, this is Sam."
    assert join_words(["Hello", ",", "this", "is", "Sam", "."]) == "Hello, this is Sam."
    assert join_words(["I", "don", "'t", "know", "(", "really", ")", "!"]) == "I don't know (really)!"
    assert join_words(["我用", "iPhone", "15", "打的"]) == "我用iPhone 15打的"
    assert join_words(["  ", "", " ok "]) == "ok"
    merged = merge_words({"customer": words("我 家 的 宽带 断 了", 0, 200), "agent": []})
    assert [t.text for t in merged] == ["我家的宽带断了"]


# --- mono: diarization and which speaker is the agent ------------------------------------------------------


def frame_truth(call: SampleCall, agent: int) -> npt.NDArray[np.int64]:
    """Speaker per 10 ms frame from the rendered turns: `agent` or 1 - agent; -1 for silence and talk-over."""
    truth = np.full(ms(call.duration_s) // 10 + 1, -1, dtype=np.int64)
    count = np.zeros_like(truth)
    for timing in call.turns:
        window = slice(ms(timing.begin_s) // 10, ms(timing.end_s) // 10)
        truth[window] = agent if timing.role == "agent" else 1 - agent
        count[window] += 1
    truth[count > 1] = -1
    return truth


def labelled_share(result: Diarization, truth: npt.NDArray[np.int64]) -> float:
    """Share of the voiced, single-speaker time that carries the right label, up to a swap of labels."""
    labels = np.full(truth.size, -1, dtype=np.int64)
    for span, speaker in result.regions:
        labels[span.begin_ms // 10 : span.end_ms // 10] = speaker
    scored = (truth >= 0) & (labels >= 0)
    right = float(np.mean(labels[scored] == truth[scored]))
    return max(right, 1 - right)


def spoken_words(timing: TurnTiming) -> list[Word]:
    """The turn's text as evenly spread words (characters for Chinese), like a recogniser's output."""
    tokens = timing.text.split() if " " in timing.text else list(timing.text)
    step = (timing.end_s - timing.begin_s) / len(tokens)
    return [
        Word(
            text=token,
            begin_ms=ms(timing.begin_s + i * step),
            end_ms=ms(timing.begin_s + (i + 1) * step),
            probability=1.0,
        )
        for i, token in enumerate(tokens)
    ]


@pytest.mark.parametrize("call_id", ["en-hold-talkover", "zh-hold-talkover"])
def test_two_voices_on_one_channel_are_told_apart_and_the_agent_found(
    calls: dict[str, SampleCall], call_id: str
) -> None:
    call = calls[call_id]
    mono = decode(call.path, mono=True)[0]
    result = diarize(mono, vad.speech_spans(mono))
    assert result.speakers == 2
    agent_label = next(label for span, label in result.regions if span.end_ms > ms(call.turns[0].begin_s))
    share = labelled_share(result, frame_truth(call, agent_label))
    print(f"{call_id}: mono diarization {share:.1%} of voiced time right, {result}"[:200])
    assert share >= 0.85

    # The pipeline's next steps: words to speakers by midpoint, turn texts per speaker, then the agent.
    all_words = [word for timing in call.turns for word in spoken_words(timing)]
    by_speaker = assign_words_to_speakers(all_words, result.regions)
    role_of_word = {(w.begin_ms, w.text): t.role for t in call.turns for w in spoken_words(t)}
    right = sum(
        (role_of_word[(w.begin_ms, w.text)] == "agent") == (speaker == agent_label)
        for speaker, ws in by_speaker.items()
        for w in ws
    )
    print(f"{call_id}: {right / len(all_words):.1%} of words to the right speaker")
    assert right / len(all_words) >= 0.85
    texts = {
        speaker: [(t.begin_ms, t.text) for t in merge_words({"agent" if speaker == 0 else "customer": ws})]
        for speaker, ws in by_speaker.items()
    }
    agent, confidence, how = identify_agent(texts, call.language)
    assert (agent, how) == (agent_label, "greeting phrase")
    assert confidence >= 0.7


def test_one_voice_on_a_channel_is_reported_as_one_speaker(calls: dict[str, SampleCall]) -> None:
    for call in calls.values():
        agent_only = role_audio(call)["agent"]
        speech = vad.speech_spans(agent_only)
        result = diarize(agent_only, speech)
        print(
            f"{call.call_id} agent alone: {result.speakers} speaker(s), separation {result.separation}, "
            f"contrast {result.contrast}, confidence {result.confidence}"
        )
        assert result.speakers == 1 or result.confidence < 0.5
        if result.speakers == 1:
            assert [label for _span, label in result.regions] == [0] * len(speech)
            assert [span for span, _label in result.regions] == speech


def test_real_voices(librivox_clips: list[Clip], mandarin_clip: Clip, tmp_path: Path) -> None:
    """Real speech: the LibriVox reader alone is one speaker; interleaved with the Mandarin speaker, two."""
    gap = np.zeros(RATE // 2, dtype=np.float32)
    reader = [read_mono(clip.path, tmp_path) for clip in librivox_clips]
    other = read_mono(mandarin_clip.path, tmp_path)
    halves = [other[: other.size // 2], other[other.size // 2 :]]

    alone = np.concatenate([part for clip in reader for part in (clip, gap)])
    result = diarize(alone, vad.speech_spans(alone))
    print(f"LibriVox reader alone: {result.speakers} speaker(s), confidence {result.confidence}")
    assert result.speakers == 1 or result.confidence < 0.5

    parts: list[tuple[Samples, int]] = []
    for number, clip in enumerate(reader[:4]):
        parts += [(clip, 0), (gap, -1), (halves[number % 2], 1), (gap, -1)]
    mixed = np.concatenate([samples for samples, _ in parts])
    truth = np.concatenate([np.full(samples.size // 160, speaker, dtype=np.int64) for samples, speaker in parts])
    result = diarize(mixed, vad.speech_spans(mixed))
    share = labelled_share(result, truth)
    print(f"LibriVox reader + Mandarin speaker: {result.speakers} speakers, {share:.1%} right")
    assert result.speakers == 2
    assert share >= 0.85


def read_mono(path: Path, tmp_path: Path) -> Samples:
    converted = tmp_path / f"{path.stem}-16k.wav"
    subprocess.run(["sox", str(path), "-r", str(RATE), "-c", "1", "-b", "16", str(converted)], check=True)
    with wave.open(str(converted), "rb") as reader:
        pcm = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
    return (pcm.astype(np.float32) / 32768).astype(np.float32)


def test_silence_and_too_little_speech_do_not_crash() -> None:
    silent = np.zeros(5 * RATE, dtype=np.float32)
    assert diarize(silent, vad.speech_spans(silent)) == Diarization(
        regions=[], speakers=0, separation=None, contrast=None, confidence=0.0
    )
    assert diarize(np.zeros(0, dtype=np.float32), [Span(begin_ms=0, end_ms=1000)]).speakers == 0
    blip = np.random.default_rng(2).normal(0, 0.1, RATE).astype(np.float32)
    result = diarize(blip, [Span(begin_ms=100, end_ms=900)])
    assert result.speakers == 1 and result.regions == [(Span(begin_ms=100, end_ms=900), 0)]


def test_assign_words_by_midpoint_and_nearest_region() -> None:
    regions = [
        (Span(begin_ms=0, end_ms=1000), 0),
        (Span(begin_ms=1000, end_ms=2000), 1),
        (Span(begin_ms=5000, end_ms=6000), 0),
    ]
    spoken = [
        Word(text="a", begin_ms=800, end_ms=1100, probability=1),  # midpoint 950: speaker 0
        Word(text="b", begin_ms=900, end_ms=1300, probability=1),  # midpoint 1100: speaker 1
        Word(text="c", begin_ms=2100, end_ms=2300, probability=1),  # in a gap, nearer the region ending at 2000
        Word(text="d", begin_ms=4500, end_ms=4700, probability=1),  # nearer the region starting at 5000
    ]
    assert {k: [w.text for w in v] for k, v in assign_words_to_speakers(spoken, regions).items()} == {
        0: ["a", "d"],
        1: ["b", "c"],
    }
    assert assign_words_to_speakers(spoken, []) == {0: spoken}


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        ({0: [(0, "喂，你好。")], 1: [(1500, "您好，很高兴为您服务，请问有什么可以帮您？")]}, (1, "greeting phrase")),
        (
            {0: [(0, "Hi, I have a problem with my bill.")], 1: [(2000, "Thank you for calling, how can I help?")]},
            (1, "greeting phrase"),
        ),
        (
            {0: [(0, "Northwind technical support, Mark speaking.")], 1: [(3000, "Hi Mark, my internet is down.")]},
            (0, "greeting phrase"),
        ),
        ({0: [(500, "Hello?")], 1: [(100, "Yes, go on.")]}, (1, "first speaker")),
        ({0: [(0, "Who am I speaking to?")], 1: [(900, "Hello?")]}, (0, "first speaker")),
        ({3: [(0, "Hello?")]}, (3, "only speaker")),
        ({}, (0, "no speech")),
    ],
)
def test_identify_agent(texts: dict[int, list[tuple[int, str]]], expected: tuple[int, str]) -> None:
    agent, confidence, how = identify_agent(texts, "zh")
    assert (agent, how) == expected
    assert 0 <= confidence <= 1
    if how == "greeting phrase":
        assert confidence >= 0.7
    elif how == "first speaker":
        assert confidence < 0.7


def test_identify_agent_from_words() -> None:
    """The mono pipeline may pass recogniser words rather than turns."""
    agent = [(w.begin_ms, w.text) for w in words("Thank you for calling Northwind, how can I help?", 0)]
    customer = [(w.begin_ms, w.text) for w in words("Hi, I have a question", 4000)]
    assert identify_agent({0: customer, 1: agent}, "en")[::2] == (1, "greeting phrase")
    zh_agent = [(0, "您好"), (300, "，"), (400, "很高兴"), (700, "为"), (800, "您"), (900, "服务")]
    assert identify_agent({0: [(1500, "我"), (1600, "要"), (1700, "投诉")], 1: zh_agent}, "zh")[::2] == (
        1,
        "greeting phrase",
    )


def test_both_greeting_is_less_sure_than_one() -> None:
    one_sided = identify_agent({0: [(0, "您好，工号1024，请问有什么可以帮您？")], 1: [(3000, "我要查话费。")]}, "zh")
    both = identify_agent({0: [(0, "您好，工号1024，请问有什么可以帮您？")], 1: [(3000, "您好，我要查话费。")]}, "zh")
    assert one_sided[0] == both[0] == 0
    assert both[1] < one_sided[1]
