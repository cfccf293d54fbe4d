"""Hotwords: settings → the phrases faster-whisper gets (a fake model stands in for whisper: fast, no weights)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from callqa.transcripts import Span
from tests.transcriber.helpers import FakeBatched, FakeWhisper
from transcriber import asr, hotwords, packing
from transcriber.asr import ZH_PROMPT, Recogniser
from transcriber.config import Settings

CARD = """
id: tiny-zh
language: zh
sections:
  - id: s
    items:
      - id: opening
        kind: requirement
        condition:
          type: any
          conditions:
            - {type: proximity, first: [您好, 你好], second: [欢迎致电, 工号], scope: {first_turns: 1}}
            - {type: phrases, phrases: [请, 很高兴为您服务], synonyms: {请: [请问]}}
      - id: verify
        kind: requirement
        condition:
          type: all
          conditions:
            - {type: phrases, phrases: [手机号]}
            - {type: not, condition: {type: phrases, phrases: [不用核实]}}
            - {type: phrases, role: customer, phrases: [订单]}
      - id: insults
        kind: auto_fail
        condition: {type: phrases, phrases: [神经病]}
"""
EN_CARD = """
id: tiny-en
language: en
sections:
  - id: s
    items: [{id: closing, kind: requirement, condition: {type: phrases, phrases: [goodbye, thanks for calling]}}]
"""


@pytest.fixture
def fake_whisper(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(asr, "WhisperModel", FakeWhisper)
    monkeypatch.setattr(asr, "_TrimmedPipeline", FakeBatched)
    monkeypatch.setattr(asr, "resolve_model", lambda model, models_dir: tmp_path)
    monkeypatch.setattr(asr, "model_version", lambda model_dir, **options: options["pipeline"])


@pytest.fixture
def cards(tmp_path: Path) -> list[Path]:
    (tmp_path / "zh.yaml").write_text(CARD, encoding="utf-8")
    (tmp_path / "en.json").write_text(json.dumps(yaml.safe_load(EN_CARD)), encoding="utf-8")
    return [tmp_path / "zh.yaml", tmp_path / "en.json"]


def passed(recogniser: Recogniser, language: str | None) -> dict[str, Any]:
    """The options faster-whisper received for one call in `language`."""
    speech = packing.pack([np.full(1600, 0.1, dtype=np.float32)], [[Span(begin_ms=0, end_ms=100)]])
    recogniser.recognise(speech, language=language)
    calls: list[dict[str, Any]] = recogniser._model.calls
    return calls[-1]


@pytest.mark.usefixtures("fake_whisper")
@pytest.mark.parametrize("batch_size", [8, 0])
def test_environment_to_faster_whisper(monkeypatch: pytest.MonkeyPatch, cards: list[Path], batch_size: int) -> None:
    monkeypatch.setenv("CALLQA_TRANSCRIBER_ASR__BATCH_SIZE", str(batch_size))
    monkeypatch.setenv("CALLQA_TRANSCRIBER_ASR__HOTWORDS", json.dumps({"zh-CN": "客服中心"}))
    monkeypatch.setenv("CALLQA_TRANSCRIBER_ASR__HOTWORDS_SCORECARDS", json.dumps([str(path) for path in cards]))
    recogniser = Recogniser(Settings().asr)

    zh = passed(recogniser, "zh")
    # The configured text first, then the card's requirement phrases, each item's first, then each item's
    # second ...; one-character phrases, synonyms, customer-side phrases, phrases that must be absent (`not`)
    # and other kinds' phrases left out.
    assert zh["hotwords"] == "客服中心 您好 手机号 你好 欢迎致电 工号 很高兴为您服务"
    assert zh["initial_prompt"] == ZH_PROMPT  # the prompt stays; faster-whisper puts the hotwords before it
    assert passed(recogniser, "en")["hotwords"] == "goodbye, thanks for calling"
    assert "hotwords" not in passed(recogniser, "fr")
    assert "hotwords" not in passed(recogniser, None)  # detected too late to pick the phrases
    # A change of hotwords changes the model version, so the transcripts are keyed anew.
    assert json.loads(recogniser.model_info.version)["hotwords"] == recogniser.hotwords


@pytest.mark.usefixtures("fake_whisper")
def test_off_by_default_and_the_model_version_unchanged() -> None:
    recogniser = Recogniser(Settings().asr)
    assert recogniser.hotwords == {}
    assert "hotwords" not in passed(recogniser, "zh")
    assert "hotwords" not in passed(recogniser, "en")
    assert "hotwords" not in json.loads(recogniser.model_info.version)


@pytest.mark.usefixtures("fake_whisper")
def test_kinds_and_the_token_budget(monkeypatch: pytest.MonkeyPatch, cards: list[Path]) -> None:
    monkeypatch.setenv("CALLQA_TRANSCRIBER_ASR__HOTWORDS_SCORECARDS", json.dumps([str(cards[0])]))
    monkeypatch.setenv("CALLQA_TRANSCRIBER_ASR__HOTWORDS_KINDS", json.dumps(["auto_fail"]))
    assert passed(Recogniser(Settings().asr), "zh")["hotwords"] == "神经病"

    monkeypatch.delenv("CALLQA_TRANSCRIBER_ASR__HOTWORDS_KINDS")
    monkeypatch.setenv("CALLQA_TRANSCRIBER_ASR__HOTWORDS_MAX_TOKENS", "12")
    # 12 fake tokens: " 您好 手机号 你好" is 10, one phrase more would be 15: cut at the phrase.
    assert passed(Recogniser(Settings().asr), "zh")["hotwords"] == "您好 手机号 你好"


def test_a_file_that_is_not_a_scorecard_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("- just a list\n")
    with pytest.raises(hotwords.HotwordsError, match="not a scorecard"):
        hotwords.load_scorecard(tmp_path / "x.yaml")
