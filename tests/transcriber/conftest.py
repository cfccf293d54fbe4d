"""Recognisers loaded once per session, real speech fetched at test time (`callqa_stack.clips`), and a short
English call rendered by espeak-ng."""

from __future__ import annotations

import pytest
import yaml

from callqa_stack import clips
from callqa_stack.clips import Clip, FetchError, telephony
from callqa_stack.samples import SampleCall, render_calls
from tests.transcriber.helpers import CALL
from transcriber.asr import Recogniser
from transcriber.config import AsrSettings


@pytest.fixture(scope="session")
def librivox_clips() -> list[Clip]:
    try:
        return clips.librivox_clips()
    except FetchError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def librivox_8k(librivox_clips: list[Clip], tmp_path_factory: pytest.TempPathFactory) -> list[Clip]:
    folder = tmp_path_factory.mktemp("librivox-8k")
    return [Clip(telephony(c.path, folder / c.path.name), c.text) for c in librivox_clips]


@pytest.fixture(scope="session")
def mandarin_clip() -> Clip:
    try:
        return clips.mandarin_clip()
    except FetchError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def mandarin_8k(mandarin_clip: Clip, tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return Clip(telephony(mandarin_clip.path, tmp_path_factory.mktemp("zh-8k") / "zh.wav"), mandarin_clip.text)


@pytest.fixture(scope="session")
def english_call(tmp_path_factory: pytest.TempPathFactory) -> SampleCall:
    folder = tmp_path_factory.mktemp("calls")
    script = folder / "calls.yaml"
    script.write_text(yaml.safe_dump({"calls": [CALL]}, allow_unicode=True))
    (call,) = render_calls(script, folder / "out", engine="espeak")
    return call


@pytest.fixture(scope="session")
def tiny_recogniser() -> Recogniser:
    """English-only tiny, greedy and sequential: the fastest way to exercise the plumbing."""
    return Recogniser(AsrSettings(model="tiny.en", batch_size=0, beam_size=1))


@pytest.fixture(scope="session")
def base_recogniser() -> Recogniser:
    """The production default (multilingual base, beam 5, batched), rebuilt into the shared models cache."""
    return Recogniser(AsrSettings(model="base"))
