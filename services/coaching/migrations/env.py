from sqlmodel import SQLModel

import coaching.tables  # noqa: F401 - registers the tables with SQLModel.metadata
from callqa.db import run_alembic_env

run_alembic_env(SQLModel.metadata, version_table="alembic_version_coaching")
