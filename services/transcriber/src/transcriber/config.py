"""Settings of the transcriber; every variable is prefixed `CALLQA_TRANSCRIBER_`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from callqa.settings import S3Settings, ServiceSettings
from transcriber.hotwords import DEFAULT_KINDS

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
REPO_ROOT = Path(__file__).resolve().parents[4]


class AsrSettings(BaseModel):
    model: str = Field(
        "base",
        description="'base' (multilingual, rebuilt from PyPI parts), 'tiny.en', or a CTranslate2 Whisper directory",
    )
    models_dir: Path = Field(REPO_ROOT / ".callqa" / "models", description="where rebuilt models are cached")
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    compute_type: str = "int8"
    cpu_threads: int = 1  # measured: 1 thread per process is as fast as 2; scale with replicas instead
    beam_size: int = 5
    batch_size: int = Field(8, description="BatchedInferencePipeline batch; 0 = plain sequential transcribe()")
    # 20 s: 9 % less CPU than 30 s and no worse error rates on the benchmark calls; 15 s cost 11 % less again
    # but read Mandarin a point worse (docs/benchmarks.md, "transcribe"). Enters the model version.
    window_s: float = Field(
        20, gt=0, le=30, description="longest stretch of packed speech decoded at once (whisper's limit: 30 s)"
    )
    chunk_s: float = Field(
        300, description="long calls are decoded and transcribed in chunks of about this length, cut at pauses"
    )
    # Off by default: on the rendered test calls they found a few more key phrases but made English WER and the
    # QA results worse (docs/benchmarks.md, "accuracy from audio"). They enter the model version: transcripts re-key.
    hotwords: dict[str, str] = Field(
        default_factory=dict,
        description='language -> phrases to bias decoding towards (faster-whisper hotwords), e.g. {"zh": "您好 再见"}',
    )
    hotwords_scorecards: list[Path] = Field(
        default_factory=list,
        description="scorecard files (YAML/JSON) whose key phrases become hotwords for the card's language",
    )
    hotwords_kinds: list[str] | None = Field(
        default_factory=lambda: list(DEFAULT_KINDS),
        description="item kinds whose phrases are taken (requirement, deduction, auto_fail, bonus); null: every kind",
    )
    hotwords_max_tokens: int = Field(
        120, ge=1, le=223, description="token budget of the hotwords (cut at a phrase); faster-whisper allows 223"
    )


class TranscriptStore(S3Settings):
    """Where transcripts and redacted audio go. Its own defaults live on the class, not in a factory: settings
    from the environment (CALLQA_TRANSCRIBER_S3__ENDPOINT, as the stack and docker-compose set) build the whole
    group from the class, so a factory's bucket would be lost and transcripts would land among the recordings."""

    bucket: str = "callqa-transcripts"
    object_lock: bool = False


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CALLQA_TRANSCRIBER_", env_nested_delimiter="__", extra="ignore")

    service_name: str = "transcriber"
    http_port: int = 8002
    database_url: str = "sqlite:///.callqa/transcriber.db"
    consumer_group: str = "transcriber"
    max_job_s: float = Field(3600, description="longest transcription; the consumer stays in its group that long")
    s3: TranscriptStore = Field(
        default_factory=TranscriptStore,
        description="this service's bucket; recordings are read from the bucket named in each event",
    )

    asr: AsrSettings = Field(default_factory=AsrSettings)
    language_by_queue: dict[str, str] = Field(
        default_factory=dict, description="queue -> language when the recording carries no hint"
    )
    default_language: str | None = Field(None, description="None = detect (slower, less reliable on poor audio)")
    min_non_talk_ms: int = 3000
    redaction_patterns: dict[str, str] = Field(
        default_factory=dict,
        description="extra PII patterns: name -> regular expression (RE2 syntax: linear time, no lookaround)",
    )
    redacted_audio: Literal["tone", "silence", "off"] = "tone"
    inline_transcript_max_bytes: int = 512 * 1024
