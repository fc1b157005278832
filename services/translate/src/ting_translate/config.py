"""Settings of the translation service (``TING_TRANSLATE_*`` environment variables)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from ting_common.settings import ServiceSettings

__all__ = ["ENGINE_HELP", "TranslateSettings"]

ENGINE_HELP = (
    "no translation engine is configured on this server; point it at an OpenAI-compatible LLM endpoint with "
    "TING_TRANSLATE_LLM_BASE_URL (e.g. http://127.0.0.1:8080/v1 for llama.cpp, http://127.0.0.1:11434/v1 for "
    "Ollama, https://api.openai.com/v1) and TING_TRANSLATE_LLM_MODEL (plus TING_TRANSLATE_LLM_API_KEY if the "
    "endpoint needs one), then restart it. Speech into English needs no engine: use the ASR translate task"
)


class TranslateSettings(ServiceSettings):
    """Everything the translation service reads from its environment. Every field is ``TING_TRANSLATE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="TING_TRANSLATE_", env_nested_delimiter="__", extra="ignore")

    port: int = Field(50052, ge=0, le=65535, description="gRPC port (`TING_TRANSLATE_PORT`); 0 picks a free one.")

    # -- OpenAI-compatible LLM engine -------------------------------------------------------------------
    llm_base_url: str = Field("", description="Base URL of an OpenAI-compatible API (…/v1); empty = no LLM engine.")
    llm_model: str = Field("", description="Model name sent to the endpoint (required with llm_base_url).")
    llm_api_key: SecretStr = Field(SecretStr(""), description="API key; empty for local servers.")
    llm_engine_name: str = Field("llm", description="Name of the LLM engine in ListEngines / TranslationConfig.")
    llm_timeout_s: float = Field(120.0, gt=0, description="Timeout of one chat completion request, in seconds.")
    llm_context_tokens: int = Field(
        8192, ge=512, description="Context window of the model; chunks are sized so prompt + answer fit in it."
    )
    llm_max_output_tokens: int = Field(4096, ge=64, description="Largest answer requested from the model.")
    llm_temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature (0 = most deterministic).")
    llm_json_mode: bool = Field(
        True, description="Ask for response_format=json_object (supported by OpenAI, vLLM, Ollama, llama.cpp)."
    )

    # -- retries, chunking, concurrency ------------------------------------------------------------------
    retry_max_attempts: int = Field(4, ge=1, le=20, description="Attempts per request on 429/5xx/timeouts.")
    retry_initial_backoff_s: float = Field(0.5, ge=0, description="First backoff; doubles per attempt, plus jitter.")
    retry_max_backoff_s: float = Field(20.0, ge=0, description="Longest single backoff (Retry-After may ask more).")
    retry_max_total_s: float = Field(120.0, gt=0, description="Wall-time budget of one request's retries.")
    chunk_retries: int = Field(
        1, ge=0, le=5, description="Re-asks of a chunk whose answer is unusable (wrong cue count...) before a split."
    )
    cues_per_chunk: int = Field(20, ge=1, le=500, description="Default maximum number of cues per chunk.")
    context_cues: int = Field(2, ge=0, le=10, description="Cues of the previous chunk sent along as context.")
    max_concurrency: int = Field(4, ge=1, le=256, description="Engine requests in flight at once (all calls).")
    tokenizer_path: Path | None = Field(
        None, description="tokenizer.json of the model for exact token counts; unset = conservative estimate."
    )

    # -- limits ----------------------------------------------------------------------------------------------
    max_texts: int = Field(1024, ge=1, description="Most texts in one TranslateText call.")
    max_text_chars: int = Field(100_000, ge=1, description="Most characters in one TranslateText call.")
    max_cues: int = Field(10_000, ge=1, description="Most cues in one TranslateSubtitles call.")
    max_subtitle_chars: int = Field(500_000, ge=1, description="Most characters of cue text in one call.")
    max_document_mb: float = Field(10.0, gt=0, description="Largest subtitle document in MiB.")
    max_targets: int = Field(16, ge=1, le=64, description="Most target languages in one call.")
