"""Speak a batch of sentences with Kokoro-82M (int8 ONNX) into 24 kHz mono 16-bit WAV files.

Runs with `.venv-kokoro/bin/python` (kokoro-onnx, onnxruntime and misaki pin their own packages, so they
live in a venv of their own; `./run setup` makes it) and imports nothing from callqa. The model and the
voices are what `./run setup` assembled in `.callqa/models/kokoro/`; nothing is downloaded here.

    speak.py --model kokoro-v1.0.int8.onnx --voices voices/ [--threads N] < jobs.json

jobs.json is `{"jobs": [{"text": "...", "language": "zh" | "en", "voice": "zf_xiaoyi", "out": "/x.wav",
"speed": 1.0}, ...]}` (speed optional). The model loads once for the whole batch. Mandarin goes through
misaki's G2P (`misaki.zh.ZHG2P`), English through kokoro-onnx's own espeak-ng (US voices `a*_`, British
`b*_`). Each WAV is written next to its target and renamed into place, and a line `done N` (the job's
index) is printed when it is there. Exit status 2 for an unusable batch, 1 when synthesis fails.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import wave
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as rt
from kokoro_onnx import Kokoro

SAMPLE_RATE = 24000
VOICE_SHAPE = (510, 1, 256)  # float32, one style vector per phoneme count
ENGLISH = {"a": "en-us", "b": "en-gb"}  # by the voice's first letter


class BatchError(ValueError):
    """The batch itself is unusable: nothing is synthesised."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="kokoro-v1.0.int8.onnx")
    parser.add_argument("--voices", type=Path, required=True, help="folder of <voice>.bin (raw float32 510x1x256)")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads (default 1)")
    parser.add_argument("--jobs", type=Path, default=None, help="read the jobs from this file, not stdin")
    args = parser.parse_args(argv)
    try:
        raw = args.jobs.read_text(encoding="utf-8") if args.jobs else sys.stdin.read()
        jobs = _jobs(json.loads(raw))
        voices = {name: _voice(args.voices, name) for name in sorted({job["voice"] for job in jobs})}
        if not args.model.is_file():
            raise BatchError(f"no model at {args.model}; run ./run setup")
    except (BatchError, ValueError, OSError) as exc:
        print(f"speak.py: {exc}", file=sys.stderr)
        return 2
    try:
        speak(jobs, args.model, voices, args.threads)
    except Exception as exc:
        print(f"speak.py: synthesis failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


def _jobs(data: Any) -> list[dict[str, Any]]:
    jobs = data.get("jobs") if isinstance(data, dict) else None
    if not isinstance(jobs, list):
        raise BatchError('expected {"jobs": [...]}')
    for index, job in enumerate(jobs):
        if not isinstance(job, dict):
            raise BatchError(f"job {index}: expected an object")
        for key in ("text", "language", "voice", "out"):
            if not isinstance(job.get(key), str) or not job[key].strip():
                raise BatchError(f"job {index}: {key} must be a non-empty string")
        if job["language"] not in ("zh", "en"):
            raise BatchError(f"job {index}: language must be 'zh' or 'en', not {job['language']!r}")
        if job["language"] == "en" and job["voice"][:1] not in ENGLISH:
            raise BatchError(f"job {index}: {job['voice']!r} is not an English voice (a*_ or b*_)")
        speed = job.get("speed", 1.0)
        if isinstance(speed, bool) or not isinstance(speed, int | float) or not 0.5 <= speed <= 2.0:
            raise BatchError(f"job {index}: speed must be a number from 0.5 to 2.0")
    return jobs


def _voice(folder: Path, name: str) -> np.ndarray[Any, np.dtype[np.float32]]:
    if not name.replace("_", "").isalnum():
        raise BatchError(f"bad voice name {name!r}")
    path = folder / f"{name}.bin"
    if not path.is_file():
        raise BatchError(f"no voice {name!r} in {folder}; run ./run setup")
    data = np.fromfile(path, dtype="<f4")
    if data.size != int(np.prod(VOICE_SHAPE)):
        raise BatchError(f"{path} holds {data.size} floats, not {VOICE_SHAPE}")
    return data.reshape(VOICE_SHAPE).astype(np.float32)


def speak(
    jobs: list[dict[str, Any]], model: Path, voices: dict[str, np.ndarray[Any, np.dtype[np.float32]]], threads: int
) -> None:
    options = rt.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    session = rt.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
    with tempfile.TemporaryDirectory(prefix="kokoro-voices-") as tmp:
        # kokoro-onnx wants a voices file it can np.load; the voices themselves are passed as arrays.
        voices_npz = Path(tmp) / "voices.npz"
        np.savez(voices_npz, **voices)  # type: ignore[arg-type]
        tts = Kokoro.from_session(session, str(voices_npz))
        g2p = None
        if any(job["language"] == "zh" for job in jobs):
            import jieba  # misaki's Mandarin word segmenter; quiet its start-up chatter
            from misaki.zh import ZHG2P

            jieba.setLogLevel(logging.WARNING)
            g2p = ZHG2P()
        for index, job in enumerate(jobs):
            voice, speed = voices[job["voice"]], float(job.get("speed", 1.0))
            if job["language"] == "zh":
                assert g2p is not None
                phonemes, _ = g2p(job["text"])
                audio, rate = tts.create(phonemes, voice=voice, speed=speed, is_phonemes=True)
            else:
                audio, rate = tts.create(job["text"], voice=voice, speed=speed, lang=ENGLISH[job["voice"][0]])
            if rate != SAMPLE_RATE:
                raise RuntimeError(f"the model produced {rate} Hz, expected {SAMPLE_RATE}")
            _write(Path(job["out"]), audio)
            print(f"done {index}", flush=True)


def _write(out: Path, audio: np.ndarray[Any, np.dtype[np.float32]]) -> None:
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).round().astype("<i2")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as f, wave.open(f, "wb") as writer:
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(SAMPLE_RATE)
            writer.writeframes(pcm.tobytes())
        os.replace(partial, out)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


if __name__ == "__main__":
    raise SystemExit(main())
