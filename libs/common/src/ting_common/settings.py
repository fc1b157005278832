"""Settings shared by every Ting gRPC service (pydantic-settings).

Each service subclasses :class:`ServiceSettings` with its own ``env_prefix`` (``TING_ASR_``,
``TING_TRANSLATE_``, ...), so ``TING_ASR_PORT=6000`` sets the ASR port. Nested fields use ``__``.
Settings objects are built once in ``__main__`` (or a test fixture) and passed explicitly.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Network, logging and limits common to all services."""

    model_config = SettingsConfigDict(env_prefix="TING_", env_nested_delimiter="__", extra="ignore")

    host: str = Field("0.0.0.0", description="Interface the gRPC server binds to.")
    port: int = Field(50051, ge=0, le=65535, description="gRPC port; 0 picks a free port (tests).")
    grace_period_s: float = Field(
        10.0, ge=0, description="On SIGTERM: seconds in-flight calls get to finish before they are cancelled."
    )
    shutdown_delay_s: float = Field(
        2.0,
        ge=0,
        description=(
            "On SIGTERM: seconds the server keeps accepting calls while health already says NOT_SERVING, "
            "so probes and load balancers stop routing to it before it stops listening."
        ),
    )
    metrics_port: int = Field(
        0, ge=0, le=65535, description="Port of the Prometheus /metrics HTTP endpoint; 0 disables it."
    )
    log_level: str = Field("INFO", description="Root log level (DEBUG, INFO, WARNING, ERROR).")
    log_format: Literal["json", "text"] = Field("json", description="json lines (default) or text.")
    max_message_mb: int = Field(
        128, ge=1, le=2048, description="Largest gRPC message the server accepts or sends, in MiB."
    )
    enable_reflection: bool = Field(True, description="Serve gRPC server reflection (grpcurl, buf curl).")
