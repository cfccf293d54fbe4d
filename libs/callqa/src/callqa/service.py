"""What every service's FastAPI app has in common: logging, auth, problem details, health."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI

from callqa.auth import Authenticator
from callqa.db import Database
from callqa.http import install_problem_handlers
from callqa.observability import ReadinessCheck, configure_logging, health_router
from callqa.settings import ServiceSettings

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[Any]]


def build_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter] = (),
    checks: dict[str, ReadinessCheck] | None = None,
    lifespan: Lifespan | None = None,
    version: str = "0.1.0",
) -> FastAPI:
    configure_logging(settings.service_name, settings.log_level)
    app = FastAPI(title=title, description=description, version=version, lifespan=lifespan)
    app.state.settings = settings
    app.state.authenticator = Authenticator(settings.auth)
    install_problem_handlers(app)
    app.include_router(health_router(checks if checks is not None else {}))
    for router in routers:
        app.include_router(router)
    return app


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    """Run the app with uvicorn; SIGTERM triggers the lifespan's graceful shutdown."""
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_config=None, access_log=False)


def run_cli(settings: ServiceSettings, create_app: Callable[[Any], FastAPI], migrations_dir: Path) -> None:
    """`python -m <service> [serve|migrate]`: what every service's `__main__` does."""
    command = sys.argv[1] if len(sys.argv) > 1 else "serve"
    if command == "migrate":
        Database(settings.database_url).migrate(migrations_dir)
    elif command == "serve":
        serve(create_app(settings), settings)
    else:
        sys.exit(f"usage: python -m {settings.service_name.replace('-', '_')} [serve|migrate]")
