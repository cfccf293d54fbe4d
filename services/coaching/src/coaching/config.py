"""Settings of coaching; every variable is prefixed `CALLQA_COACHING_`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from callqa.settings import ServiceSettings

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CALLQA_COACHING_", env_nested_delimiter="__", extra="ignore")

    service_name: str = "coaching"
    http_port: int = 8004
    database_url: str = "sqlite:///.callqa/coaching.db"
    consumer_group: str = "coaching"
    appeal_window_days: int = Field(7, ge=1, le=365, description="an agent appeals within this many days of release")
    appeal_max_rounds: int = Field(2, ge=1, le=20, description="how many times one evaluation may be appealed")
    appeal_route: Literal["reviewer", "supervisor"] = Field(
        "reviewer", description="appeals go to the reviewer of the appealed version, or to any supervisor"
    )
    release_on_submit: bool = Field(True, description="a submitted review is released at once unless it names a time")
    release_automatic: bool = Field(False, description="agents also see automatic evaluations nobody reviewed")
    default_pass_threshold: float = Field(
        80.0, ge=0, le=100, description="pass mark for evaluations whose event carries none"
    )
    follow_up_min_calls: int = Field(
        10, ge=1, le=100_000, description="calls a follow-up or re-check needs in each window (agent and group)"
    )
    follow_up_alpha: float = Field(0.05, gt=0, lt=1, description="one-sided significance level of follow-ups")
    follow_up_require_control: bool = Field(
        True, description="a plan's verdict needs the rest of the group as a control (else insufficient_data)"
    )
    plan_idle_days: int = Field(90, ge=1, le=3650, description="a draft or active plan idle this long expires")
    recurrence_days: int = Field(30, ge=1, le=3650, description="the recurrence check looks this far past a plan")
    sweep_interval_s: float = Field(
        300,
        ge=0,
        description="how often the periodic tasks run: review reminders, plans (expire, close, recurrence, "
        "check-ins) and the FAQ; 0: no periodic tasks at all (tests run them by hand)",
    )
    release_interval_s: float = Field(
        60, ge=1, description="how often scheduled releases are made (agents see a release at most this late)"
    )
    task_lease_s: float = Field(
        600, ge=10, description="how long a replica holds a periodic task it claimed (a crashed one's lease expires)"
    )
    review_due_days: int = Field(3, ge=1, le=365, description="a review assignment made without a due date is due")
    review_reminder_hours: float = Field(
        24, gt=0, le=24 * 365, description="an overdue review's reviewer is reminded at most this often"
    )
    faq_max_calls: int = Field(
        3000, ge=1, le=20_000, description="the FAQ groups the first requests of this many latest calls (n² memory)"
    )
    transcripts_bucket: str = Field(
        "callqa-transcripts", description="the transcriber's bucket: transcripts and redacted audio copies"
    )
    audio_url_ttl_s: int = Field(300, ge=10, le=86_400, description="lifetime of a library clip's presigned URL")
