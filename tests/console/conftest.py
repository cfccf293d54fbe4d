"""The console in a real browser (Debian's chromium driven by Playwright) against a throw-away local stack started
as operators start it, with two English sample calls (espeak-ng) posted, transcribed, scored and indexed."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy import create_engine, text

from callqa_stack import samples, servers
from callqa_stack.throwaway import ThrowawayStack

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("CALLQA_TEST_ARTIFACTS", servers.REPO_ROOT / "tmp" / "artifacts")) / "console"
AGENTS = ("agent-en-104", "agent-en-112")  # the signed-in agent, and another agent whose call it must not open
ENVIRONMENT = {"CALLQA_TRANSCRIBER_ASR__MODEL": "tiny.en"}
STARTED = time.time()  # screenshots newer than this are this run's


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Where the browser tests left their screenshots (tmp/ is ignored by git; CI keeps the folder as artifacts)."""
    shots = [p for p in ARTIFACTS.glob("*.png") if p.stat().st_mtime >= STARTED] if ARTIFACTS.is_dir() else []
    if shots:
        terminalreporter.write_sep("-", "console screenshots")
        terminalreporter.write_line(f"{len(shots)} screenshots in {ARTIFACTS}")


@dataclass
class Seeded:
    stack: ThrowawayStack
    console: str
    logins: dict[str, dict[str, Any]]
    calls: dict[str, dict[str, Any]]  # agent id -> {recording, evaluation, transcript}
    admin: dict[str, str]


def _wait(what: str, check: Any, timeout: float = 150) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise TimeoutError(f"{what} not seen in {timeout:.0f}s")


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (./run setup installs it)")
    home = tmp_path_factory.mktemp("callqa-home")
    stack = ThrowawayStack(home, ENVIRONMENT)
    out_dir = tmp_path_factory.mktemp("calls")
    try:
        with ThreadPoolExecutor(1) as pool:  # espeak-ng renders the calls while the stack starts
            rendering = pool.submit(samples.render_calls, out_dir=out_dir, engine="espeak", clip_cache=None)
            stack.run("up")
            rendered = rendering.result()
        chosen = {c.metadata["agent_id"]: c for c in rendered if c.metadata["agent_id"] in AGENTS}
        secrets = stack.state().secrets
        admin = {"X-API-Key": secrets["admin_api_key"]}
        calls: dict[str, dict[str, Any]] = {}
        with httpx.Client(timeout=60) as client:
            for agent, call in chosen.items():
                answer = client.post(
                    f"{stack.url('recorder-ingest')}/v1/recordings",
                    files={"audio": (call.path.name, call.path.read_bytes(), "audio/wav")},
                    data={"metadata": json.dumps(call.metadata)},
                    headers={"X-API-Key": secrets["ingest_api_key"]},
                )
                assert answer.status_code in (200, 201), answer.text
                calls[agent] = {"recording": answer.json()}

            def evaluated() -> bool:
                listed = client.get(f"{stack.url('coaching')}/v1/evaluations", headers=admin, params={"limit": 50})
                for item in listed.json()["items"]:
                    for entry in calls.values():
                        if item["recording_id"] == entry["recording"]["id"]:
                            entry["evaluation"] = item
                return all("evaluation" in e for e in calls.values())

            _wait("both calls' evaluations in coaching", evaluated)
        index = create_engine(f"sqlite:///{home / 'data' / 'console.db'}")

        def indexed() -> bool:
            with index.connect() as conn:
                rows = conn.execute(text("SELECT recording_id, text FROM console_calls WHERE text != ''")).all()
            texts: dict[str, str] = {str(r[0]): str(r[1]) for r in rows}
            for entry in calls.values():
                entry["transcript"] = texts.get(entry["recording"]["id"], "")
            return all(e["transcript"] for e in calls.values())

        _wait("both transcripts in the console's index", indexed)
        index.dispose()
        logins = json.loads((home / "console-users.json").read_text())
        yield Seeded(stack, stack.url("console"), logins, calls, admin)
    finally:
        stack.run("down")
        print(stack.logs())


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope, not session: Playwright's sync API runs an event loop in this thread while it is open,
    # and every later test that calls asyncio.run() would find it running.
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--autoplay-policy=no-user-gesture-required", "--mute-audio"]
        )
        yield launched
        launched.close()


@pytest.fixture
def new_page(browser: Browser, seeded: Seeded, request: pytest.FixtureRequest) -> Iterator[Any]:
    """`new_page(locale)` opens a fresh browser context (no cookies); every page's last view is kept as a
    screenshot under the artifacts folder, named after the test."""
    contexts = []

    def make(locale: str = "en-GB") -> Page:
        context = browser.new_context(base_url=seeded.console, locale=locale, accept_downloads=True)
        context.set_default_timeout(30_000)
        contexts.append(context)
        return context.new_page()

    yield make
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for n, context in enumerate(contexts):
        for page in context.pages:
            page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-{n}.png"), full_page=True)
        context.close()


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Any:
    """`shot(page, name)`: a screenshot in the middle of a test (the page as the user sees it at that step)."""

    def take(page: Page, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-{name}.png"), full_page=True)

    return take
