"""Structured JSON logs carry the correlation id of the call being handled."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from callqa.observability import JsonFormatter, correlation


def test_log_lines_are_json_with_the_correlation_id_and_extra_fields(caplog: pytest.LogCaptureFixture) -> None:
    formatter = JsonFormatter("recorder-ingest")
    logger = logging.getLogger("callqa.test")
    with caplog.at_level(logging.INFO, logger="callqa.test"):
        with correlation("rec-42"):
            logger.info("recording stored", extra={"status": "stored"})
        logger.warning("outside any call")
    inside, outside = (json.loads(formatter.format(record)) for record in caplog.records)
    assert inside["correlation_id"] == "rec-42"
    assert inside | {"ts": None} == {
        "ts": None,
        "level": "info",
        "service": "recorder-ingest",
        "logger": "callqa.test",
        "msg": "recording stored",
        "correlation_id": "rec-42",
        "status": "stored",
    }
    assert "correlation_id" not in outside


def test_exceptions_are_logged_with_their_traceback() -> None:
    formatter = JsonFormatter("scorer")
    try:
        raise ValueError("bad scorecard")
    except ValueError:
        record = logging.getLogger("x").makeRecord("x", logging.ERROR, __file__, 1, "failed", (), exc_info=True)

        record.exc_info = sys.exc_info()
    entry = json.loads(formatter.format(record))
    assert "ValueError: bad scorecard" in entry["exc"]
