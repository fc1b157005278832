"""Settings of the separation service (``TING_SEPARATE_*`` environment variables)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from ting_common.settings import ServiceSettings


class SeparateSettings(ServiceSettings):
    """Everything the separation service reads from its environment. Every field is ``TING_SEPARATE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="TING_SEPARATE_", env_nested_delimiter="__", extra="ignore")

    port: int = Field(50054, ge=0, le=65535, description="gRPC port (`TING_SEPARATE_PORT`); 0 picks a free one.")
    default_engine: Literal["dsp"] = Field(
        "dsp", description="Engine used when a request names none. `dsp` is embedded and needs no model."
    )
    concurrency: int = Field(1, ge=1, le=64, description="Separations that run at the same time (worker threads).")
    max_queue: int = Field(
        8, ge=0, le=10_000, description="Calls allowed to wait for a worker; beyond that RESOURCE_EXHAUSTED."
    )
    max_audio_mb: float = Field(200.0, gt=0, description="Largest accepted audio payload in MiB.")
    max_audio_duration_s: float = Field(
        1800.0, gt=0, description="Longest accepted audio in seconds (the stems are held in memory as float32)."
    )
    max_inline_output_mb: float = Field(
        64.0, gt=0, description="Largest inline output (all stems together, estimated before separating), MiB."
    )
    storage_root: Path | None = Field(
        None, description="Directory that `file://` audio URIs may point into; unset disables file URIs."
    )
