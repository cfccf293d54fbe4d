"""Settings of the scorer; every variable is prefixed `CALLQA_SCORER_`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from callqa.settings import ServiceSettings

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CALLQA_SCORER_", env_nested_delimiter="__", extra="ignore")

    service_name: str = "scorer"
    http_port: int = 8003
    database_url: str = "sqlite:///.callqa/scorer.db"
    consumer_group: str = "scorer"
    transcripts_bucket: str = Field("callqa-transcripts", description="where the transcriber keeps transcripts")
    seed_default_scorecards: bool = Field(True, description="install default-zh and default-en when missing")
    rescore_lease_s: float = Field(
        60.0, gt=0, description="a re-score job whose run stops writing for this long is resumed by another replica"
    )
