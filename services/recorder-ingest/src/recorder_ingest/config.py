"""Settings of recorder-ingest; every variable is prefixed `CALLQA_INGEST_`."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from callqa.events import ChannelLayout
from callqa.settings import DEV_SECRET, Environment, ServiceSettings

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


class DeclinedConsentPolicy(StrEnum):
    discard_audio = "discard_audio"  # keep metadata and the reason, never store the audio
    retain_audio = "retain_audio"  # keep audio for disputes, but do not transcribe or score it


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CALLQA_INGEST_", env_nested_delimiter="__", extra="ignore")

    service_name: str = "recorder-ingest"
    http_port: int = 8001
    database_url: str = "sqlite:///.callqa/recorder_ingest.db"

    max_upload_bytes: int = Field(2 * 1024**3, description="larger uploads get 413")
    max_duration_s: float = Field(4 * 3600, description="longer recordings get 413")
    spool_dir: Path | None = Field(None, description="where uploads are spooled before probing (default: temp dir)")

    retention_days: dict[str, int] = Field(
        default_factory=lambda: {"default": 180, "complaint": 3 * 365, "dispute": 3 * 365, "declined": 0},
        description="retention policy name -> days after the call start",
    )
    retention_by_tag: dict[str, str] = Field(
        default_factory=lambda: {"complaint": "complaint", "dispute": "dispute"},
        description="a recording tagged with a key gets that policy unless it names one (the longest wins)",
    )
    declined_consent: DeclinedConsentPolicy = DeclinedConsentPolicy.discard_audio
    channel_layouts: dict[str, ChannelLayout] = Field(
        default_factory=dict, description="per telephony platform: which stereo channel carries the agent"
    )
    default_channel_layout: ChannelLayout = ChannelLayout.agent_left

    customer_number_hash_key: SecretStr = SecretStr(DEV_SECRET)
    customer_number_encryption_key: SecretStr | None = Field(
        None, description="Fernet key; when set the number is also stored encrypted (else only its keyed hash)"
    )

    audio_url_ttl_s: int = 300
    purge_interval_s: float = 3600
    orphan_grace_s: float = Field(3600, description="objects without a row older than this are swept")
    retry_after_s: int = 5
    object_lock_check_interval_s: float = Field(
        30, gt=0, description="how often the store's object lock and holds are checked (restored when lost)"
    )

    @model_validator(mode="after")
    def _ingest_secrets(self) -> Self:
        if self.environment is Environment.production and self.customer_number_hash_key.get_secret_value() in (
            "",
            DEV_SECRET,
        ):
            raise ValueError("customer_number_hash_key must be a real secret in production")
        if "default" not in self.retention_days:
            raise ValueError("retention_days needs a 'default' policy")
        if unknown := set(self.retention_by_tag.values()) - set(self.retention_days):
            raise ValueError(f"retention_by_tag names unknown policies: {sorted(unknown)}")
        return self
