"""Settings shared by every service.

Each service subclasses `ServiceSettings` with its own env prefix (`CALLQA_INGEST_`, ...);
nested groups use `__`, e.g. `CALLQA_INGEST_KAFKA__BOOTSTRAP_SERVERS`. Outside development
the validators refuse the insecure local defaults, so a forgotten variable fails at start-up
instead of in production traffic.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "change-me"  # noqa: S105 - the development placeholder the validator refuses elsewhere


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class KafkaSettings(BaseModel):
    bootstrap_servers: str = "127.0.0.1:9092"
    client_id: str = "callqa"
    # Tansu (the local broker) rejects InitProducerId; real Kafka should turn this on.
    enable_idempotence: bool = False
    max_request_size: int = 16 * 1024 * 1024
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000
    rebalance_timeout_ms: int = 10_000
    max_poll_interval_ms: int = 300_000
    max_retries: int = 5
    retry_backoff_s: float = 0.2
    retry_backoff_max_s: float = 10.0
    topic_partitions: int = 6


class S3Settings(BaseModel):
    endpoint: str = "127.0.0.1:4566"
    access_key: str = "test"
    secret_key: SecretStr = SecretStr("test")
    region: str = "us-east-1"
    secure: bool = False
    bucket: str = "callqa"
    object_lock: bool = True


class AuthSettings(BaseModel):
    # API keys: "key=principal:role1,role2;..."; only the SHA-256 of each key is kept in memory.
    api_keys: SecretStr = SecretStr("")
    jwt_secret: SecretStr = SecretStr(DEV_SECRET)
    jwt_algorithm: str = "HS256"
    jwt_audience: str = "callqa"
    jwt_issuer: str | None = None


class ServiceSettings(BaseSettings):
    """Fields every service has; subclasses set `model_config` with their env prefix."""

    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="ignore")

    environment: Environment = Environment.development
    service_name: str = "callqa"
    log_level: str = "INFO"
    database_url: str = "sqlite:///.callqa/callqa.db"
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    s3: S3Settings = Field(default_factory=S3Settings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    http_host: str = "127.0.0.1"
    http_port: int = 8000

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> Self:
        if self.environment is not Environment.production:
            return self
        problems = []
        if self.auth.jwt_secret.get_secret_value() in ("", DEV_SECRET) or len(self.auth.jwt_secret) < 32:
            problems.append("auth.jwt_secret must be a real secret of at least 32 characters")
        if self.database_url.startswith("sqlite"):
            problems.append("database_url must point at PostgreSQL in production")
        if self.s3.secret_key.get_secret_value() == "test":
            problems.append("s3.secret_key must not be the development default 'test'")
        for name, address in (
            ("kafka.bootstrap_servers", self.kafka.bootstrap_servers),
            ("s3.endpoint", self.s3.endpoint),
        ):
            if address.startswith(("127.", "localhost")):
                problems.append(f"{name} points at this machine ({address}); set the real address")
        if problems:
            raise ValueError("unsafe production settings: " + "; ".join(problems))
        return self
