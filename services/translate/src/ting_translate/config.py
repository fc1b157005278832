"""Settings of the translation service (``TING_TRANSLATE_*`` environment variables)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from ting_common.settings import ServiceSettings

__all__ = ["ENGINE_HELP", "TranslateSettings"]

ENGINE_HELP = (
    "no translation engine is configured on this server; point it at an OpenAI-compatible LLM endpoint with "
    "TING_TRANSLATE_LLM_BASE_URL (e.g. http://127.0.0.1:8080/v1 for llama.cpp, http://127.0.0.1:11434/v1 for "
    "Ollama, https://api.openai.com/v1) and TING_TRANSLATE_LLM_MODEL (plus TING_TRANSLATE_LLM_API_KEY if the "
    "endpoint needs one), and/or at a converted CTranslate2 model (Marian/OPUS-MT, NLLB, M2M100) with "
    "TING_TRANSLATE_CT2_MODEL_PATH, then restart it. Speech into English needs no engine: use the ASR translate task"
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

    # -- CTranslate2 engine (Marian / OPUS-MT, NLLB-200, M2M100) ------------------------------------------------
    ct2_model_path: Path | None = Field(
        None,
        description="Directory of a CTranslate2-converted model (model.bin, vocabulary, tokenizer.json or .spm "
        "files, optional ting_model.json); unset = no CTranslate2 engine. A bad directory stops the service.",
    )
    ct2_engine_name: str = Field("ct2", description="Name of the CTranslate2 engine in ListEngines / requests.")
    ct2_model_name: str = Field("", description="Model name to report; empty = ting_model.json 'model' or the dir.")
    ct2_kind: Literal["auto", "marian", "nllb", "m2m100"] = Field(
        "auto",
        description="Token conventions: marian (one pair, or >>xx<< target tags), nllb (eng_Latn / spa_Latn "
        "language tokens), m2m100 (__en__ / __es__); auto = ting_model.json 'kind', else guessed from the vocabulary.",
    )
    ct2_source_language: str = Field(
        "", description="Source language(s), comma-separated (Marian: required here or in ting_model.json)."
    )
    ct2_target_languages: str = Field(
        "", description="Target languages, comma-separated; empty = ting_model.json, or every language (NLLB/M2M100)."
    )
    ct2_device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto = cuda when a GPU is visible.")
    ct2_compute_type: str = Field(
        "auto", description="CTranslate2 compute type; auto = int8 on CPU, float16 on CUDA (int8, float32, ...)."
    )
    ct2_inter_threads: int = Field(1, ge=1, le=64, description="Batches translated in parallel (worker threads).")
    ct2_intra_threads: int = Field(0, ge=0, le=256, description="Threads per batch; 0 = CTranslate2's default.")
    ct2_max_batch_size: int = Field(32, ge=1, le=4096, description="Most sentences in one translate_batch call.")
    ct2_beam_size: int = Field(4, ge=1, le=16, description="Beam size (1 = greedy, fastest).")
    ct2_max_input_tokens: int = Field(
        512, ge=16, le=4096, description="Longest input sentence in tokens (Marian/NLLB: 512); sizes chunks."
    )
    ct2_max_decoding_length: int = Field(256, ge=8, le=4096, description="Longest output sentence in tokens.")

    # -- engines -------------------------------------------------------------------------------------------------
    default_engine: str = Field(
        "", description="Engine used when a request names none; empty = the first configured (llm, then ct2)."
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
