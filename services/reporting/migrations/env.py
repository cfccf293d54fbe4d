from sqlmodel import SQLModel

import reporting.tables  # noqa: F401 - the service's tables, for autogenerate
from callqa.db import run_alembic_env

run_alembic_env(SQLModel.metadata, version_table="alembic_version_reporting")
