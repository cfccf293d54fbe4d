from sqlmodel import SQLModel

from callqa.db import run_alembic_env

run_alembic_env(SQLModel.metadata, version_table="alembic_version_recorder_ingest")
