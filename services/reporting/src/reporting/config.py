"""Settings of reporting; every variable is prefixed `CALLQA_REPORTING_`."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from callqa.settings import ServiceSettings
from reporting.delivery import SmtpSettings

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CALLQA_REPORTING_", env_nested_delimiter="__", extra="ignore")

    service_name: str = "reporting"
    http_port: int = 8005
    database_url: str = "sqlite:///.callqa/reporting.db"
    consumer_group: str = "reporting"
    site_timezone: str = Field(
        "Asia/Shanghai", description="IANA zone of the contact centre: local days, weeks (Mon–Sun) and months"
    )
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    schedule_poll_s: float = Field(30.0, gt=0, description="how often due schedules are looked for")
    schedules_enabled: bool = True
    batch_size: int = Field(
        1000, ge=1, le=10_000, description="most events one poll hands to the rollups (one transaction)"
    )

    @field_validator("site_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.site_timezone)
