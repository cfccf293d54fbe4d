from callqa.db import run_alembic_env
from sqlmodel import SQLModel

run_alembic_env(SQLModel.metadata, version_table="alembic_version_reporting")
