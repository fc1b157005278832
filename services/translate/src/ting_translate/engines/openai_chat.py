"""Translation through any OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, llama.cpp server, ...).

Wire protocol with the model: the user message is a JSON object with the numbered segments
(``{"cues": [{"i": 1, "text": "..."}], "context": [...]}``) and the model must answer one JSON object
``{"cues": [{"i": 1, "text": "..."}], "source_language": "en"}`` with the same numbers. ``response_format`` is
``json_object`` by default (llama.cpp, vLLM, Ollama and OpenAI constrain the output to JSON then).

The ``openai`` client runs with ``max_retries=0``: transport retries are ours (:mod:`.retry`), so they are
bounded, honour ``Retry-After`` and are counted in the report. Non-retryable answers are mapped to domain
errors with a message an operator can act on: 401/403 and 404 (bad key, wrong URL or model) and other 4xx
(the endpoint rejected the request, e.g. a context too small) are FAILED_PRECONDITION; exhausted retries are
UNAVAILABLE.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Sequence
from typing import Any

import openai
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from ting_common.errors import FailedPreconditionError, UnavailableError
from ting_translate.engines import (
    EngineDescription,
    EngineReply,
    MalformedAnswerError,
    TranslationRequest,
)
from ting_translate.engines.retry import RetryPolicy, is_retryable, retry_after_of
from ting_translate.languages import ISO_639_1, language_name

__all__ = ["OpenAIChatEngine", "parse_answer"]

logger = logging.getLogger(__name__)

_FENCE = re.compile(r"^\s*```(?:json)?\s*|\s*```\s*$")
# Tokens of the system prompt and JSON scaffolding, reserved out of the context window.
PROMPT_OVERHEAD_TOKENS = 400

SYSTEM_PROMPT = """You are a professional translator{kind}.
Translate every item of "cues" {source}into {target}.
Answer with one JSON object only, exactly:
{{"source_language": "<ISO 639-1 code of the input>", "cues": [{{"i": <number>, "text": "<translation>"}}]}}
Rules:
- exactly one output item per input item, with the same "i" numbers, in the same order;
- never merge, split, skip or add items;
- keep every placeholder such as ⟦0⟧ exactly as written, once, where it belongs in the translation;
- keep line breaks inside an item where they make sense;
- "context" items are earlier text for reference only: do not translate or output them.{extra}"""


def parse_answer(content: str) -> tuple[dict[int, str], str]:
    """Parse the model's JSON answer into (number -> text, detected language); raises MalformedAnswerError."""
    text = _FENCE.sub("", content or "").strip()
    if not text.startswith(("{", "[")):
        start = text.find("{")
        end = text.rfind("}")
        if start < 0 or end <= start:
            raise MalformedAnswerError(f"the answer is not JSON: {content[:80]!r}")
        text = text[start : end + 1]
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedAnswerError(f"the answer is not valid JSON ({exc.msg}): {content[:80]!r}") from exc
    items = data.get("cues") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise MalformedAnswerError("the answer has no 'cues' list")
    out: dict[int, str] = {}
    for item in items:
        if not isinstance(item, dict):
            raise MalformedAnswerError("an answer item is not an object")
        number = item.get("i", item.get("id", item.get("index")))
        value = item.get("text", item.get("translation"))
        if isinstance(number, str) and number.strip().isdigit():
            number = int(number)
        if not isinstance(number, int) or isinstance(number, bool) or not isinstance(value, str):
            raise MalformedAnswerError("an answer item lacks an integer 'i' or a string 'text'")
        if number in out:
            raise MalformedAnswerError(f"the answer repeats item {number}")
        out[number] = value
    language = data.get("source_language", "") if isinstance(data, dict) else ""
    return out, language if isinstance(language, str) and language.lower() in ISO_639_1 else ""


class OpenAIChatEngine:
    """:class:`~ting_translate.engines.TranslationEngine` over an OpenAI-compatible ``/chat/completions``."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str = "",
        timeout_s: float = 60.0,
        context_tokens: int = 8192,
        max_output_tokens: int = 4096,
        temperature: float = 0.0,
        json_mode: bool = True,
        retry: RetryPolicy | None = None,
        name: str = "llm",
        default_cues_per_chunk: int = 20,
    ) -> None:
        if not base_url or not model:
            raise FailedPreconditionError(
                "the LLM engine needs TING_TRANSLATE_LLM_BASE_URL and TING_TRANSLATE_LLM_MODEL"
            )
        self._name = name
        self._model = model
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.context_tokens = context_tokens
        self.max_output_tokens = max_output_tokens
        self.temperature = temperature
        self.json_mode = json_mode
        self.retry = retry or RetryPolicy()
        self.default_cues_per_chunk = default_cues_per_chunk
        self._client = openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key or "not-needed", timeout=timeout_s, max_retries=0
        )

    @property
    def name(self) -> str:
        """Engine name for ``TranslationConfig.engine``."""
        return self._name

    @property
    def model(self) -> str:
        """The model name sent to the endpoint."""
        return self._model

    @property
    def chunk_token_budget(self) -> int:
        """Input tokens per request: a third of what is left after the prompt (the answer may be twice as long)."""
        return max(64, min(self.max_output_tokens // 2, (self.context_tokens - PROMPT_OVERHEAD_TOKENS) // 3))

    def describe(self) -> EngineDescription:
        """Facts for ``ListEngines``: any ISO 639-1 pair, detection, glossary, context and formality."""
        codes = sorted(ISO_639_1)
        return EngineDescription(
            name=self._name,
            description=f"OpenAI-compatible chat LLM at {self.base_url} (any language pair the model knows)",
            model=self._model,
            device="remote",
            source_languages=codes,
            target_languages=codes,
            supports_language_detection=True,
            supports_glossary=True,
            supports_context=True,
            supports_formality=True,
            default_cues_per_chunk=self.default_cues_per_chunk,
        )

    def supports(self, source: str, target: str) -> bool:
        """Every ISO 639-1 pair (the model's competence is the operator's choice)."""
        return target.split("-")[0] in ISO_639_1 and (not source or source.split("-")[0] in ISO_639_1)

    async def ready(self) -> bool:
        """True when ``GET /models`` answers within a short timeout."""
        try:
            await self._client.with_options(timeout=min(self.timeout_s, 3.0)).models.list()
        except openai.OpenAIError:
            return False
        return True

    async def close(self) -> None:
        """Close the HTTP connection pool."""
        await self._client.close()

    def messages(self, request: TranslationRequest) -> list[dict[str, str]]:
        """The chat messages for one chunk."""
        options = request.options
        extra: list[str] = []
        if options.glossary:
            terms = "; ".join(f'"{g.term}" -> "{g.translation}"' for g in options.glossary)
            extra.append(f"\n- always translate these terms this way: {terms};")
        if options.formality:
            extra.append(f"\n- use the {options.formality} register;")
        if options.domain:
            extra.append(f"\n- the domain is {options.domain};")
        if options.context:
            extra.append(f"\n- background (do not translate): {options.context}")
        if options.subtitles:
            extra.append("\n- these are subtitle cues: keep each translation about as short as its source.")
        system = SYSTEM_PROMPT.format(
            kind=" of subtitles" if options.subtitles else "",
            source=f"from {language_name(request.source_language)} " if request.source_language else "",
            target=language_name(request.target_language),
            extra="".join(extra),
        )
        user: dict[str, object] = {
            "target_language": request.target_language,
            "cues": [{"i": i, "text": text} for i, text in enumerate(request.segments, start=1)],
        }
        if request.context:
            user = {"context": list(request.context), **user}
        return [
            {"role": "system", "content": system},
            {"role": "user", "content": json.dumps(user, ensure_ascii=False)},
        ]

    def _stop(self, started: float) -> Any:
        policy = self.retry

        def stop(state: RetryCallState) -> bool:
            if state.attempt_number >= policy.max_attempts:
                return True
            elapsed = time.monotonic() - started
            exc = state.outcome.exception() if state.outcome is not None else None
            after = retry_after_of(exc)
            wait = after if after is not None else policy.backoff(state.attempt_number)
            return elapsed + wait > policy.max_total_s

        return stop

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        after = retry_after_of(exc)
        wait = after if after is not None else self.retry.backoff(state.attempt_number)
        logger.info(
            "LLM call failed, retrying",
            extra={"attempt": state.attempt_number, "wait_s": round(wait, 3), "error": type(exc).__name__},
        )
        return wait

    async def _complete(self, messages: Sequence[dict[str, str]], max_tokens: int) -> tuple[Any, int]:
        started = time.monotonic()
        attempts = 0
        kwargs: dict[str, Any] = {
            "model": self._model,
            "messages": list(messages),
            "temperature": self.temperature,
            "max_tokens": max_tokens,
        }
        if self.json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        try:
            async for attempt in AsyncRetrying(
                stop=self._stop(started),
                wait=self._wait,
                retry=retry_if_exception(is_retryable),
                reraise=True,
            ):
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    return await self._client.chat.completions.create(**kwargs), attempts
        except openai.APIStatusError as exc:
            raise self._status_error(exc, attempts) from exc
        except openai.APITimeoutError as exc:
            raise UnavailableError(
                f"the LLM endpoint {self.base_url} did not answer within {self.timeout_s:g} s "
                f"({attempts} attempt(s)); raise TING_TRANSLATE_LLM_TIMEOUT_S or check the server"
            ) from exc
        except openai.APIConnectionError as exc:
            raise UnavailableError(
                f"cannot reach the LLM endpoint {self.base_url} ({attempts} attempt(s)): {exc}"
            ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _status_error(self, exc: openai.APIStatusError, attempts: int) -> Exception:
        status = exc.status_code
        detail = _error_detail(exc)
        where = f"the LLM endpoint {self.base_url}"
        if is_retryable(exc):
            what = "is rate limiting (429)" if status == 429 else f"failed with HTTP {status}"
            return UnavailableError(f"{where} {what} after {attempts} attempt(s): {detail}")
        if status in (401, 403):
            return FailedPreconditionError(
                f"{where} refused the credentials (HTTP {status}): {detail}; set TING_TRANSLATE_LLM_API_KEY"
            )
        if status == 404:
            return FailedPreconditionError(
                f"{where} does not know model {self._model!r} or the URL is wrong (HTTP 404): {detail}; "
                "check TING_TRANSLATE_LLM_BASE_URL (usually ends in /v1) and TING_TRANSLATE_LLM_MODEL"
            )
        return FailedPreconditionError(f"{where} rejected the request (HTTP {status}): {detail}")

    async def translate(self, request: TranslationRequest) -> EngineReply:
        """Translate one chunk; the answer's numbering is checked by the caller."""
        messages = self.messages(request)
        size = sum(len(s) for s in request.segments)
        max_tokens = min(self.max_output_tokens, max(256, 3 * size))
        response, attempts = await self._complete(messages, max_tokens)
        choice = response.choices[0] if response.choices else None
        content = choice.message.content if choice is not None and choice.message is not None else None
        if not content:
            raise MalformedAnswerError("the LLM returned an empty answer", attempts=attempts)
        try:
            translations, language = parse_answer(content)
        except MalformedAnswerError as exc:
            exc.attempts = attempts
            raise
        usage = response.usage
        return EngineReply(
            translations=translations,
            attempts=attempts,
            detected_language=language.lower(),
            prompt_tokens=int(usage.prompt_tokens) if usage is not None else 0,
            completion_tokens=int(usage.completion_tokens) if usage is not None else 0,
        )


def _error_detail(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message") or (body.get("error") or {}).get("message") if isinstance(body, dict) else None
        if isinstance(message, str) and message:
            return message[:300]
    return str(exc.message)[:300]
