"""Structured JSON logs with a correlation id, and the health/readiness/metrics endpoints.

`correlation_id` is a context variable: set it (`with correlation(recording_id):`) when
handling a request or message and every log line inside carries it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)

_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "correlation_id"}
_base_factory = logging.getLogRecordFactory()


def _record_with_correlation(*args: Any, **kwargs: Any) -> logging.LogRecord:
    # Captured when the record is made: a handler may format it later, outside the context.
    record = _base_factory(*args, **kwargs)
    record.correlation_id = correlation_id.get()
    return record


logging.setLogRecordFactory(_record_with_correlation)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if (cid := getattr(record, "correlation_id", None)) is not None:
            entry["correlation_id"] = cid
        # `logger.info("...", extra={"recording_id": ...})` fields become top-level keys.
        entry.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED and not k.startswith("_")})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "urllib3", "botocore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


@contextlib.contextmanager
def correlation(value: str | None) -> Iterator[None]:
    token = correlation_id.set(value)
    try:
        yield
    finally:
        correlation_id.reset(token)


ReadinessCheck = Callable[[], Awaitable[bool] | bool]


def health_router(checks: dict[str, ReadinessCheck], registry: CollectorRegistry = REGISTRY) -> APIRouter:
    """`/healthz` (the process is alive), `/readyz` (its dependencies answer), `/metrics`."""
    router = APIRouter(tags=["operations"])
    started = time.monotonic()

    @router.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "uptime_s": round(time.monotonic() - started, 1)}

    @router.get(
        "/readyz",
        summary="Readiness: every dependency answers",
        responses={503: {"description": "A dependency does not answer", "content": {"application/json": {}}}},
    )
    async def readyz() -> JSONResponse:
        results = {name: await _run_check(check) for name, check in checks.items()}
        ready = all(results.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": results},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router


async def _run_check(check: ReadinessCheck) -> bool:
    try:
        result = check()
        if asyncio.iscoroutine(result) or isinstance(result, Awaitable):
            result = await asyncio.wait_for(result, timeout=3)
        return bool(result)
    except Exception:
        logging.getLogger(__name__).warning("readiness check failed", exc_info=True)
        return False
