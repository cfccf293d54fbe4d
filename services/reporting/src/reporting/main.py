"""The reporting HTTP app: operations endpoints; the domain API grows with its issue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import reporting
from callqa.db import Database
from callqa.service import build_app
from reporting.config import Settings


def create_app(settings: Settings) -> FastAPI:
    db = Database(settings.database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        db.dispose()

    return build_app(
        settings,
        title="callqa reporting",
        description=reporting.__doc__ or "",
        checks={"database": db.ping},
        lifespan=lifespan,
    )
