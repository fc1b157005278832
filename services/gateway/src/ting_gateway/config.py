"""Settings of the gateway (``TING_GATEWAY_*`` environment variables)."""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import SettingsConfigDict

from ting_common.settings import ServiceSettings


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "ting"


class LiveSettings(BaseModel):
    """Live streams (``GET /v1/stream`` WebSocket and ``StreamProcess``): ``TING_GATEWAY_LIVE__<NAME>``."""

    max_streams: int = Field(
        16,
        ge=1,
        le=10_000,
        description="Live streams this replica serves at once (`TING_GATEWAY_LIVE__MAX_STREAMS`); one more gets "
        "RESOURCE_EXHAUSTED (WebSocket close 1013).",
    )
    idle_timeout_s: float = Field(
        15.0,
        gt=0,
        description="A stream whose client sends no audio (and no `stop`) for this long ends with DEADLINE_EXCEEDED; "
        "keep it below the ASR service's `streaming_idle_timeout_s`.",
    )
    max_duration_s: float = Field(
        3 * 3600.0,
        gt=0,
        description="Longest audio one stream records (PCM; Ogg/WebM streams are capped at `max_upload_mb`); "
        "at the limit the stream stops as if the client had sent `stop`, and is saved.",
    )
    save_wait_s: float = Field(
        300.0,
        ge=0,
        description="How long `done` waits for a worker to finish the saved job (summary, files); after that it "
        "is sent with the job still running.",
    )
    max_frame_kb: int = Field(
        1024, ge=16, le=16_384, description="Largest audio frame (one WebSocket message or gRPC chunk), KiB."
    )


class GatewaySettings(ServiceSettings):
    """Everything the gateway reads from its environment. Every field is ``TING_GATEWAY_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="TING_GATEWAY_", env_nested_delimiter="__", extra="ignore")

    port: int = Field(50050, ge=0, le=65535, description="gRPC port (`TING_GATEWAY_PORT`); 0 picks a free one.")
    http_host: str = Field("0.0.0.0", description="Interface of the REST API and web page.")
    http_port: int = Field(
        8080, ge=0, le=65535, description="REST/web port (`TING_GATEWAY_HTTP_PORT`); 0 picks a free one."
    )
    public_url: str = Field(
        "",
        description="Base URL clients reach the REST API at (signed download links); empty: "
        "`http://127.0.0.1:<http_port>`.",
    )

    # -- the services the pipeline calls --
    asr_address: str = Field("127.0.0.1:50051", description="ASR service (`host:port`).")
    translate_address: str = Field("127.0.0.1:50052", description="Translation service (`host:port`).")
    summarize_address: str = Field("127.0.0.1:50053", description="Summarization service (`host:port`).")
    separate_address: str = Field("127.0.0.1:50054", description="Separation service (`host:port`).")
    step_timeout_s: float = Field(
        3600.0, gt=0, description="Deadline of one call to a service (a whole recognition of a long file)."
    )
    retry_attempts: int = Field(
        6, ge=1, le=100, description="Attempts per service call on a retryable status (UNAVAILABLE, ABORTED)."
    )
    retry_initial_s: float = Field(0.5, gt=0, description="First retry delay; doubles each attempt, with jitter.")
    retry_max_s: float = Field(10.0, gt=0, description="Longest retry delay.")

    # -- storage and jobs --
    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Where the embedded defaults keep their files (storage directory, SQLite job database).",
    )
    storage_url: str = Field(
        "",
        description="Object storage: a directory (`/srv/ting` or `file:///srv/ting`) or `s3://bucket/prefix`; "
        "empty: `<data_dir>/storage`.",
    )
    s3_endpoint_url: str = Field("", description="Endpoint of an S3-compatible store (MinIO, SeaweedFS); empty: AWS.")
    s3_region: str = Field("us-east-1", description="S3 region.")
    jobs_url: str = Field(
        "",
        description="Job store: `sqlite:///path/jobs.db` or `postgresql://user@host/db` (shared by replicas); "
        "empty: SQLite in `<data_dir>/jobs.sqlite3`.",
    )
    jobs_table: str = Field(
        "ting_jobs", pattern=r"^[a-z_][a-z0-9_]{0,47}$", description="Table of the PostgreSQL job store."
    )
    workers: int = Field(
        2, ge=0, le=256, description="Jobs this replica runs at the same time; 0 makes an API-only replica."
    )
    lease_s: float = Field(
        30.0,
        gt=0,
        description="How long a worker's claim on a job lasts without renewal; a crashed worker's job is taken "
        "over by another after this.",
    )
    poll_interval_s: float = Field(0.5, gt=0, description="How often an idle worker looks for queued jobs.")
    retention_days: float = Field(
        30.0, ge=0, description="Days finished jobs, their inputs and artifacts are kept; 0 keeps them forever."
    )
    link_expiry_s: int = Field(
        7 * 24 * 3600, ge=60, description="Lifetime of share/download links (presigned or signed), seconds."
    )
    link_secret: str = Field(
        default_factory=lambda: secrets.token_urlsafe(32),
        description="Secret that signs local download links; set it (the same on every replica) so links "
        "survive restarts.",
    )

    # -- limits and auth --
    max_sync_audio_s: float = Field(
        600.0, gt=0, description="Longest audio `Process` accepts (seconds); longer audio needs a job."
    )
    max_upload_mb: float = Field(500.0, gt=0, description="Largest upload or inline audio, MiB.")
    api_keys: str = Field(
        "",
        description="Comma-separated API keys accepted as `Authorization: Bearer <key>` (REST) or metadata "
        "`authorization` (gRPC); empty: no auth.",
    )
    max_concurrent_per_key: int = Field(
        8, ge=1, le=10_000, description="Synchronous requests one API key (or anonymous caller) may run at once."
    )

    live: LiveSettings = Field(default_factory=LiveSettings, description="Live streaming limits.")

    @field_validator("link_secret")
    @classmethod
    def _long_secret(cls, value: str) -> str:
        if len(value.encode()) < 16:
            raise ValueError("link_secret must be at least 16 bytes")
        return value

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def max_upload_bytes(self) -> int:
        """:attr:`max_upload_mb` in bytes."""
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def api_key_list(self) -> list[str]:
        """The configured API keys (empty: auth off)."""
        return [key.strip() for key in self.api_keys.split(",") if key.strip()]

    def resolved_storage_url(self) -> str:
        """:attr:`storage_url`, defaulted."""
        return self.storage_url or str(self.data_dir / "storage")

    def resolved_jobs_url(self) -> str:
        """:attr:`jobs_url`, defaulted."""
        return self.jobs_url or f"sqlite:///{self.data_dir / 'jobs.sqlite3'}"
