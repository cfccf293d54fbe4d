"""A throwaway local stack started and driven through `python -m callqa_stack`, as operators do."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from callqa_stack import samples
from callqa_stack.consistency import StackClient
from callqa_stack.throwaway import ThrowawayStack

# Settings a site could choose too: the smallest model, and a keeper that re-checks the store often.
ENVIRONMENT = {
    "CALLQA_TRANSCRIBER_ASR__MODEL": "tiny.en",
    "CALLQA_INGEST_OBJECT_LOCK_CHECK_INTERVAL_S": "1",
}


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThrowawayStack]:
    local = ThrowawayStack(tmp_path_factory.mktemp("callqa-home"), ENVIRONMENT)
    local.run("up")
    try:
        yield local
    finally:
        local.run("down")
        print(local.logs())  # shown by pytest when a test failed


@pytest.fixture(scope="module")
def client(local_stack: ThrowawayStack) -> Iterator[StackClient]:
    client = StackClient(local_stack.state())
    yield client
    client.close()


@pytest.fixture(scope="session")
def english_calls(tmp_path_factory: pytest.TempPathFactory) -> list[samples.SampleCall]:
    """The sample calls in English (one with consent declined), rendered by espeak-ng: quick and small."""
    rendered = samples.render_calls(out_dir=tmp_path_factory.mktemp("calls"), engine="espeak", clip_cache=None)
    return [call for call in rendered if call.metadata.get("language") == "en"]
