"""Render the demo's sample calls (samples/calls.yaml) into telephony-quality stereo recordings.

Audio is never committed: each turn is spoken by a speech engine, placed on its party's channel of a
per-channel timeline (the other channel stays digitally silent meanwhile), and sox merges the two
channels and converts them to 8 kHz μ-law with a 300-3400 Hz band-pass, like a call recorder's output.
A call with `channel_layout: mono` is laid out the same way, but sox mixes the two parties into one
channel (a recorder that records the line, not each party).
The expected begin/end of every turn is kept next to the audio, so tests can check timestamps,
silence and talk-over against what the transcriber and the acoustic metrics find.

Two engines:
- ``kokoro`` (the default): Kokoro-82M, a neural voice that whisper understands about as well as people
  (callqa_stack.kokoro; synthesis runs in .venv-kokoro). Each call gets its own pair of voices, agent and
  customer different. Its clips are cached by text, voice and engine version in .callqa/tts-cache/, so a
  changed script only re-synthesises the turns that changed.
- ``espeak``: espeak-ng, robotic but fast and exact: for plumbing tests (timestamps, silence, channels).

    python -m callqa_stack.samples [--engine kokoro|espeak] [OUT_DIR]    render (cached) and list the calls
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import wave
from array import array
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, cast

import yaml
from tqdm import tqdm

from callqa_stack import kokoro, servers

Role = Literal["agent", "customer"]
Engine = Literal["espeak", "kokoro"]
ENGINES: tuple[Engine, ...] = ("kokoro", "espeak")

DEFAULT_YAML = servers.REPO_ROOT / "samples" / "calls.yaml"
DEFAULT_OUT_DIR = servers.REPO_ROOT / ".callqa" / "samples"
DEFAULT_CLIP_CACHE = servers.REPO_ROOT / ".callqa" / "tts-cache"
DEFAULT_PAUSE_S = 0.4
TAIL_S = 0.5  # silence after the last turn, before the recorder stops
# espeak-ng: plain `cmn`/`zh` voices read Chinese characters as gibberish; the pinyin voice speaks them.
VOICES: dict[str, dict[Role, str]] = {
    "zh": {"agent": "cmn-latn-pinyin+m3", "customer": "cmn-latn-pinyin+f3"},
    "en": {"agent": "en-us+m3", "customer": "en-us+f3"},
}
# espeak-ng's default 175 words/min makes Mandarin ~3.5 syllables/s, slower than real agents (~5).
SPEED_WPM = {"zh": 200, "en": 175}
# Kokoro: (agent, customer) pairs, taken in turn by the calls of a language, so neighbouring calls sound
# like other people. Mandarin: Kokoro's voices but zf_xiaoni and zm_yunyang, which whisper misreads most
# (on 10 of the demo's turns at 8 kHz, base: zm_yunyang 14 % CER, the others 9-12 %); English: US (a*_)
# and British (b*_).
KOKORO_VOICES: dict[str, tuple[tuple[str, str], ...]] = {
    "zh": (
        ("zf_xiaoyi", "zm_yunjian"),
        ("zm_yunxi", "zf_xiaobei"),
        ("zf_xiaoxiao", "zm_yunxia"),
        ("zm_yunjian", "zf_xiaoyi"),
    ),
    "en": (
        ("af_heart", "am_michael"),
        ("bm_george", "af_bella"),
        ("bf_emma", "am_fenrir"),
        ("am_puck", "bf_isabella"),
    ),
}
# Kokoro's own pace (~330 characters or ~205 words per voiced minute) is above what the default scorecards
# accept from an agent (150-330, 110-190); slowed down, the calls meant to be good ones stay good.
KOKORO_SPEED = {"zh": 0.9, "en": 0.85}
KOKORO_PROCESSES = 2  # one model load and one core each: the machines are small and shared
LAYOUTS = {"agent_left": 0, "agent_right": 1, "mono": 0}  # channel index of the agent (mono: the only one)
TELEPHONY_RATE = 8000
BAND = ("sinc", "300-3400")  # the telephone band
# espeak-ng pads its output with up to ~0.3 s of silence; trimming it makes a turn's timing its speech.
TRIM_THRESHOLD = 328  # 1 % of 16-bit full scale
RENDER_VERSION = 3  # bump when the rendering changes, so cached files are redone


@dataclass(frozen=True)
class TurnTiming:
    """Where a turn's speech lies in the rendered file, in seconds from its start."""

    role: Role
    text: str
    begin_s: float
    end_s: float


@dataclass(frozen=True)
class SampleCall:
    call_id: str
    path: Path
    metadata: dict[str, Any]  # the JSON metadata to post with the audio: the YAML entry without `turns`
    language: str
    agent_channel: int  # 0 = left, 1 = right; the customer is on the other one (mono: both on 0)
    duration_s: float
    turns: tuple[TurnTiming, ...]
    engine: Engine
    voices: dict[str, str]  # role -> the engine's voice
    mono: bool = False  # both parties mixed into one channel

    def channel(self, role: Role) -> int:
        if self.mono:
            return 0
        return self.agent_channel if role == "agent" else 1 - self.agent_channel


@dataclass(frozen=True)
class _Turn:
    role: Role
    text: str
    pause_before_s: float


@dataclass(frozen=True)
class _Script:
    call_id: str
    metadata: dict[str, Any]
    language: str
    agent_channel: int
    turns: tuple[_Turn, ...]
    slot: int  # its position among the calls of its language: picks its Kokoro voices
    mono: bool = False

    def voices(self, engine: Engine) -> dict[Role, str]:
        if engine == "espeak":
            return dict(VOICES[self.language])
        agent, customer = KOKORO_VOICES[self.language][self.slot % len(KOKORO_VOICES[self.language])]
        return {"agent": agent, "customer": customer}


def render_calls(
    yaml_path: Path = DEFAULT_YAML,
    out_dir: Path = DEFAULT_OUT_DIR,
    *,
    engine: Engine = "kokoro",
    workers: int = 4,
    clip_cache: Path | None = DEFAULT_CLIP_CACHE,
    progress: bool = False,
) -> list[SampleCall]:
    """Render every call of `yaml_path` into `out_dir/<call_id>.wav` (cached) and describe them.

    A call is re-rendered only when its WAV or timing file is missing, older than the YAML, or from
    another RENDER_VERSION, engine or voices. `workers` threads run espeak-ng and sox; Kokoro runs in at
    most KOKORO_PROCESSES processes, its clips cached in `clip_cache` (None: not cached). `progress`
    shows a bar of the synthesised turns on stderr. Raises ValueError for a malformed script,
    RuntimeError when espeak-ng or sox is missing, kokoro.KokoroError when Kokoro is not set up.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
    scripts = _load(yaml_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    yaml_mtime = yaml_path.stat().st_mtime
    cached = {script.call_id: _cached(script, out_dir, yaml_mtime, engine) for script in scripts}
    todo = [script for script in scripts if cached[script.call_id] is None]
    if todo:
        jobs = [(script, index) for script in todo for index in range(len(script.turns))]
        with tempfile.TemporaryDirectory(dir=out_dir, prefix=".render-") as tmp, ThreadPoolExecutor(workers) as pool:
            if engine == "espeak":
                clips = list(pool.map(lambda job: _espeak(job[0], job[1], Path(tmp)), jobs))
            else:
                clips = _kokoro(jobs, Path(tmp), workers, clip_cache, progress)
            rates = {rate for _samples, rate in clips}
            if len(rates) != 1:
                raise RuntimeError(f"{engine} produced clips at several sample rates: {sorted(rates)}")
            by_call: dict[str, list[array[int]]] = {}
            for (script, _index), (samples, _rate) in zip(jobs, clips, strict=True):
                by_call.setdefault(script.call_id, []).append(samples)
            rate = rates.pop()
            rendered = list(
                pool.map(
                    lambda script: _render(script, engine, by_call[script.call_id], rate, out_dir, Path(tmp)), todo
                )
            )
        cached.update({call.call_id: call for call in rendered})
    return [cast(SampleCall, cached[script.call_id]) for script in scripts]


def _load(yaml_path: Path) -> list[_Script]:
    data = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
    calls = data.get("calls") if isinstance(data, dict) else None
    if not isinstance(calls, list) or not calls:
        raise ValueError(f"{yaml_path}: expected a non-empty `calls:` list")
    scripts: list[_Script] = []
    per_language: dict[str, int] = {}
    for position, call in enumerate(calls):
        where = f"{yaml_path}: calls[{position}]"
        if not isinstance(call, dict) or not isinstance(call.get("call_id"), str):
            raise ValueError(f"{where}: each call needs a string call_id")
        where = f"{yaml_path}: call {call['call_id']!r}"
        language = call.get("language")
        if language not in VOICES:
            raise ValueError(f"{where}: language must be one of {sorted(VOICES)}, not {language!r}")
        layout = call.get("channel_layout", "agent_left")
        if layout not in LAYOUTS:
            raise ValueError(f"{where}: channel_layout must be one of {sorted(LAYOUTS)}")
        raw_turns = call.get("turns")
        if not isinstance(raw_turns, list) or not raw_turns:
            raise ValueError(f"{where}: `turns` must be a non-empty list")
        turns = tuple(_turn(turn, f"{where} turn {index}") for index, turn in enumerate(raw_turns))
        metadata = {key: value for key, value in call.items() if key != "turns"}
        # YAML turns unquoted ISO timestamps into datetimes; the API wants the string.
        metadata = {key: v.isoformat() if isinstance(v, datetime) else v for key, v in metadata.items()}
        slot = per_language[language] = per_language.get(language, -1) + 1
        scripts.append(_Script(call["call_id"], metadata, language, LAYOUTS[layout], turns, slot, layout == "mono"))
    ids = [script.call_id for script in scripts]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{yaml_path}: call_id values must be unique")
    return scripts


def _turn(raw: Any, where: str) -> _Turn:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected a mapping with role and text")
    role, text, pause = raw.get("role"), raw.get("text"), raw.get("pause_before_s", DEFAULT_PAUSE_S)
    if role not in ("agent", "customer"):
        raise ValueError(f"{where}: role must be 'agent' or 'customer', not {role!r}")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{where}: text must be a non-empty string")
    if isinstance(pause, bool) or not isinstance(pause, int | float):
        raise ValueError(f"{where}: pause_before_s must be a number of seconds")
    return _Turn(cast(Role, role), text.strip(), float(pause))


def _files(out_dir: Path, call_id: str) -> tuple[Path, Path]:
    return out_dir / f"{call_id}.wav", out_dir / f"{call_id}.json"


def _cached(script: _Script, out_dir: Path, yaml_mtime: float, engine: Engine) -> SampleCall | None:
    wav_path, timing_path = _files(out_dir, script.call_id)
    try:
        if min(wav_path.stat().st_mtime, timing_path.stat().st_mtime) <= yaml_mtime:
            return None
        timing = json.loads(timing_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if timing.get("version") != RENDER_VERSION or timing.get("engine") != _engine_version(engine):
        return None
    if timing.get("voices") != script.voices(engine) or timing.get("channels", 2) != _channels(script):
        return None
    return _sample(script, wav_path, timing)


def _channels(script: _Script) -> int:
    return 1 if script.mono else 2


def _sample(script: _Script, wav_path: Path, timing: dict[str, Any]) -> SampleCall:
    return SampleCall(
        call_id=script.call_id,
        path=wav_path,
        metadata=script.metadata,
        language=script.language,
        agent_channel=script.agent_channel,
        duration_s=timing["duration_s"],
        turns=tuple(TurnTiming(t["role"], t["text"], t["begin_s"], t["end_s"]) for t in timing["turns"]),
        engine=cast(Engine, timing["engine"].split(":")[0]),
        voices=timing["voices"],
        mono=script.mono,
    )


def _tool(args: list[str], *, what: str) -> None:
    try:
        result = subprocess.run(args, capture_output=True, stdin=subprocess.DEVNULL, check=False)
    except FileNotFoundError as exc:
        raise RuntimeError(f"{args[0]} is not installed; run ./run setup (installs espeak-ng and sox)") from exc
    if result.returncode != 0:
        raise RuntimeError(
            f"{what} failed ({args[0]} exit {result.returncode}): {result.stderr.decode(errors='replace')}"
        )


def _espeak(script: _Script, index: int, tmp: Path) -> tuple[array[int], int]:
    """One turn by espeak-ng as 16-bit mono samples, silence trimmed, and its rate."""
    turn = script.turns[index]
    clip = tmp / f"{script.call_id}-{index:03d}.wav"
    # "--": a turn starting with "-" is text, not an option.
    voice, speed = VOICES[script.language][turn.role], str(SPEED_WPM[script.language])
    _tool(
        ["espeak-ng", "-v", voice, "-s", speed, "-w", str(clip), "--", turn.text],
        what=f"espeak-ng for {script.call_id} turn {index}",
    )
    return _trimmed(clip, f"espeak-ng for {script.call_id} turn {index}: {turn.text!r}")


def _kokoro(
    jobs: Sequence[tuple[_Script, int]], tmp: Path, workers: int, clip_cache: Path | None, progress: bool
) -> list[tuple[array[int], int]]:
    """Every turn by Kokoro (cached clips reused), each as 16-bit mono samples, silence trimmed, and its rate."""
    files = kokoro.require()
    engine_key = _kokoro_engine_key()
    folder = tmp if clip_cache is None else clip_cache
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    missing: dict[Path, kokoro.SpeechJob] = {}
    for script, index in jobs:
        turn = script.turns[index]
        voice = script.voices("kokoro")[turn.role]
        speed = KOKORO_SPEED[script.language]
        key = json.dumps([engine_key, script.language, voice, speed, turn.text], ensure_ascii=False)
        path = folder / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.wav"
        paths.append(path)
        if not path.is_file():
            missing[path] = kokoro.SpeechJob(turn.text, script.language, voice, path, speed)
    if missing:
        with tqdm(
            total=len(missing), unit="turn", desc="Kokoro-82M", disable=not progress, file=sys.stderr, leave=False
        ) as bar:

            def tick() -> None:
                bar.update()

            processes = max(1, min(workers, KOKORO_PROCESSES))
            kokoro.speak(list(missing.values()), files, processes=processes, on_clip=tick)
    return [
        _trimmed(path, f"Kokoro for {script.call_id} turn {index}: {script.turns[index].text!r}")
        for path, (script, index) in zip(paths, jobs, strict=True)
    ]


def _engine_version(engine: Engine) -> str:
    """The engine as the cache knows it: Kokoro with its model and speaking code, so a change re-renders."""
    return f"kokoro:{_kokoro_engine_key()}" if engine == "kokoro" else engine


def _kokoro_engine_key() -> str:
    """What a Kokoro rendering depends on besides its texts and voices: the model, speeds and speaking code."""
    digest = hashlib.sha256(json.dumps([kokoro.MODEL_SHA256, KOKORO_SPEED], sort_keys=True).encode())
    for path in (kokoro.SPEAK, kokoro.SPEAK.parent / "requirements.txt"):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _trimmed(clip: Path, what: str) -> tuple[array[int], int]:
    """A mono 16-bit WAV's samples with the leading and trailing silence trimmed, and its rate."""
    with wave.open(str(clip), "rb") as reader:
        if reader.getnchannels() != 1 or reader.getsampwidth() != 2:
            raise RuntimeError(f"{what}: {reader.getnchannels()} channels of {reader.getsampwidth()} bytes")
        rate = reader.getframerate()
        samples = array("h", reader.readframes(reader.getnframes()))
    if sys.byteorder == "big":
        samples.byteswap()  # WAV is little-endian
    if max(samples, default=0) <= TRIM_THRESHOLD and -min(samples, default=0) <= TRIM_THRESHOLD:
        raise RuntimeError(f"{what}: produced silence")
    first, last = 0, len(samples) - 1
    while abs(samples[first]) <= TRIM_THRESHOLD:
        first += 1
    while abs(samples[last]) <= TRIM_THRESHOLD:
        last -= 1
    return samples[first : last + 1], rate


def _render(
    script: _Script, engine: Engine, clips: list[array[int]], rate: int, out_dir: Path, tmp: Path
) -> SampleCall:
    # Lay the turns out in time: each starts pause_before_s after the previous turn ended (earlier if
    # negative: talk-over), but never on top of its own party's previous turn. Each party has a track of its
    # own (its channel of a stereo call; a mono call mixes the two tracks at the end).
    timings: list[TurnTiming] = []
    placed: list[tuple[int, int]] = []  # (channel, first sample)
    previous_end = 0
    channel_end = [0, 0]
    for index, (turn, clip) in enumerate(zip(script.turns, clips, strict=True)):
        channel = script.agent_channel if turn.role == "agent" else 1 - script.agent_channel
        begin = max(0, previous_end + round(turn.pause_before_s * rate))
        if begin < channel_end[channel]:
            raise ValueError(
                f"call {script.call_id!r} turn {index}: a negative pause_before_s overlaps the {turn.role}'s own "
                "previous turn; talk-over needs the other party to be speaking"
            )
        end = begin + len(clip)
        placed.append((channel, begin))
        timings.append(TurnTiming(turn.role, turn.text, round(begin / rate, 3), round(end / rate, 3)))
        channel_end[channel] = end
        previous_end = max(previous_end, end)
    total = previous_end + round(TAIL_S * rate)

    channels = [array("h", bytes(2 * total)), array("h", bytes(2 * total))]
    for (channel, begin), clip in zip(placed, clips, strict=True):
        channels[channel][begin : begin + len(clip)] = clip
    parts = []
    for number, samples in enumerate(channels):
        part = tmp / f"{script.call_id}-channel{number}.wav"
        if sys.byteorder == "big":
            samples.byteswap()
        with wave.open(str(part), "wb") as writer:
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(rate)
            writer.writeframes(samples.tobytes())
        parts.append(str(part))

    wav_path, timing_path = _files(out_dir, script.call_id)
    partial = tmp / f"{script.call_id}.wav"
    # -M: each input becomes one channel; mono: -m mixes them, each at full volume (-v 1: sox would halve
    # each), so a turn is as loud as on a stereo channel. -D: no dither, so a silent channel stays exactly zero.
    # The band-pass runs before the automatic rate change to 8 kHz; -3 dB keeps its overshoot from clipping.
    inputs = ["-m", "-v", "1", parts[0], "-v", "1", parts[1]] if script.mono else ["-M", *parts]
    _tool(
        ["sox", "-D", *inputs, "-r", str(TELEPHONY_RATE), "-e", "u-law", str(partial), "gain", "-3", *BAND],
        what=f"sox for {script.call_id}",
    )
    timing = {
        "version": RENDER_VERSION,
        "engine": _engine_version(engine),
        "voices": script.voices(engine),
        "channels": _channels(script),
        "duration_s": round(total / rate, 3),
        "turns": [{"role": t.role, "text": t.text, "begin_s": t.begin_s, "end_s": t.end_s} for t in timings],
    }
    # Audio first, timing last: the cache trusts a pair only when both exist and are newer than the YAML.
    os.replace(partial, wav_path)
    timing_tmp = tmp / f"{script.call_id}.json"
    timing_tmp.write_text(json.dumps(timing, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(timing_tmp, timing_path)
    return _sample(script, wav_path, timing)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m callqa_stack.samples", description="Render the sample calls.")
    parser.add_argument("--engine", choices=ENGINES, default="kokoro")
    parser.add_argument("out_dir", nargs="?", type=Path, default=DEFAULT_OUT_DIR)
    args = parser.parse_args(argv)
    for call in render_calls(DEFAULT_YAML, args.out_dir, engine=args.engine, progress=True):
        consent = call.metadata.get("consent", {}).get("status")
        voices = "/".join(call.voices[role] for role in ("agent", "customer"))
        print(
            f"{call.path}  {call.duration_s:5.1f} s  {call.language}  {len(call.turns)} turns  consent={consent}  "
            f"{call.engine}: {voices}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
