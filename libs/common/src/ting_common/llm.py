"""The OpenAI-compatible chat client shared by Ting's LLM engines (translate, summarize).

One chat completion against any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server, ...) with
our own transport retries, errors mapped to :mod:`ting_common.errors`, and helpers for JSON answers.

Retry policy (:class:`RetryPolicy`, driven by ``tenacity``): retried are HTTP 408, 429 and 5xx answers,
timeouts and connection errors; never retried is every other 4xx (a bad key, an unknown model or a rejected
request does not get better by asking again). Waits grow exponentially with jitter (``initial * 2**n +
U(0, jitter)``, capped at ``max_backoff_s``); a ``Retry-After`` header (``retry-after-ms``, delta-seconds or an
HTTP date) replaces the computed wait. Attempts are bounded by ``max_attempts`` and by ``max_total_s`` of wall
time: a wait that would cross that budget (e.g. a ``Retry-After: 3600``) ends the retries at once instead of
sleeping.

Errors (:meth:`LLMClient.complete`): exhausted retries, timeouts and unreachable endpoints are
:class:`~ting_common.errors.UnavailableError`; 401/403, 404 and other 4xx answers are
:class:`~ting_common.errors.FailedPreconditionError` whose message names the setting to fix (the names come
from :attr:`LLMSettings.env_prefix`, e.g. ``TING_TRANSLATE_LLM_``).

JSON answers: :func:`extract_json` finds the JSON value in a model's answer (code fences and chatter around it
are tolerated) and :meth:`LLMClient.complete_json` asks until the answer validates against a pydantic model,
a bounded number of times, re-asking with the validation error.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Generic, TypeVar

import openai
import pydantic
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from ting_common.errors import FailedPreconditionError, UnavailableError

__all__ = [
    "RETRYABLE_STATUS",
    "Completion",
    "JSONCompletion",
    "LLMClient",
    "LLMSettings",
    "MalformedJSONError",
    "ResponseFormatRejectedError",
    "RetryPolicy",
    "error_detail",
    "estimate_tokens",
    "extract_json",
    "is_retryable",
    "parse_retry_after",
    "retry_after_of",
]

logger = logging.getLogger(__name__)

RETRYABLE_STATUS: Final = frozenset({408, 429})

ModelT = TypeVar("ModelT", bound=pydantic.BaseModel)
Message = Mapping[str, str]


# -- retry policy ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RetryPolicy:
    """Bounds of the transport retries."""

    max_attempts: int = 4
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 20.0
    jitter_s: float = 0.5
    max_total_s: float = 120.0

    def backoff(self, attempt: int) -> float:
        """Jittered exponential wait after failed attempt number ``attempt`` (1-based)."""
        # The formula of tenacity's wait_exponential_jitter, usable outside a retry loop (stop decisions).
        base = self.initial_backoff_s * 2 ** max(0, attempt - 1)
        return float(min(self.max_backoff_s, base + random.uniform(0, self.jitter_s)))  # noqa: S311 - jitter


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait according to ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date); None if absent.

    Past dates and negative values give 0; unparsable values are ignored (None).
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms is not None:
        try:
            return max(0.0, float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = datetime.now(UTC).timestamp() if now is None else now
    return max(0.0, when.timestamp() - current)


def is_retryable(exc: BaseException) -> bool:
    """True for errors worth another attempt: 408/429/5xx, timeouts, connection failures."""
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in RETRYABLE_STATUS or exc.status_code >= 500
    return isinstance(exc, openai.APITimeoutError | openai.APIConnectionError)


def retry_after_of(exc: BaseException | None) -> float | None:
    """The ``Retry-After`` wait an error's HTTP response asks for, if any."""
    if isinstance(exc, openai.APIStatusError):
        return parse_retry_after(dict(exc.response.headers.items()), time.time())
    return None


# -- JSON answers ----------------------------------------------------------------------------------------------
_FENCE: Final = re.compile(r"^\s*```(?:json)?\s*|\s*```\s*$")


class MalformedJSONError(ValueError):
    """A model's answer holds no parsable JSON value."""


def extract_json(content: str) -> Any:
    """The JSON value of a model's answer: code fences stripped, text around the outermost ``{...}`` ignored.

    Raises :class:`MalformedJSONError` (with the start of the answer) when there is no valid JSON.
    """
    text = _FENCE.sub("", content or "").strip()
    if not text.startswith(("{", "[")):
        start = text.find("{")
        end = text.rfind("}")
        if start < 0 or end <= start:
            raise MalformedJSONError(f"the answer is not JSON: {content[:80]!r}")
        text = text[start : end + 1]
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedJSONError(f"the answer is not valid JSON ({exc.msg}): {content[:80]!r}") from exc


# -- token estimate --------------------------------------------------------------------------------------------
_ASCII_RUN: Final = re.compile(r"[A-Za-z0-9]+")
TOKEN_SAFETY_MARGIN: Final = 1.25


def is_cjk(char: str) -> bool:
    """True for Han, kana, hangul and CJK punctuation/full-width forms (two tokens each in estimates)."""
    code = ord(char)
    return (
        0x2E80 <= code <= 0x9FFF
        or 0xAC00 <= code <= 0xD7AF
        or 0xF900 <= code <= 0xFAFF
        or 0xFF00 <= code <= 0xFFEF
        or 0x20000 <= code <= 0x3FFFF
    )


def estimate_tokens(text: str) -> int:
    """A conservative, tokenizer-free token count for prompt budgets.

    One token per 3 ASCII characters of a word or number run (at least one per run), one per punctuation mark
    or newline, two per CJK/kana/hangul character, one per other non-ASCII character, plus 25 %: it over-counts
    the byte-level BPE vocabularies of GPT-2/Llama/SmolLM2/Qwen, so a budget computed with it is never too big.
    """
    total = 0
    for run in _ASCII_RUN.findall(text):
        total += max(1, math.ceil(len(run) / 3))
    for char in _ASCII_RUN.sub("", text):
        if char in " \t":
            continue
        if not char.isascii():
            total += 2 if is_cjk(char) else 1
        else:
            total += 1
    return math.ceil(total * TOKEN_SAFETY_MARGIN)


# -- the client ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LLMSettings:
    """Where and how to call the model. ``env_prefix`` names the settings in error messages."""

    base_url: str
    model: str
    api_key: str = ""
    timeout_s: float = 60.0
    temperature: float = 0.0
    json_mode: bool = True
    env_prefix: str = "TING_LLM_"

    def setting(self, name: str) -> str:
        """The environment variable an operator sets for ``name`` (e.g. ``API_KEY``)."""
        return f"{self.env_prefix}{name}"


@dataclass(frozen=True)
class Completion:
    """One answer of the model and what it cost."""

    content: str
    attempts: int = 1  # transport attempts it took (1 = no retry)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = ""


@dataclass(frozen=True)
class JSONCompletion(Generic[ModelT]):
    """A validated JSON answer, with the requests and tokens all its attempts took."""

    value: ModelT
    requests: int
    attempts: int
    prompt_tokens: int
    completion_tokens: int


class ResponseFormatRejectedError(FailedPreconditionError):
    """The endpoint does not take the ``json_schema`` response format (it answered 400/422 to one)."""


class LLMClient:
    """One ``openai.AsyncOpenAI`` (``max_retries=0``: the retries are ours) with :class:`RetryPolicy`.

    Bind one client to one event loop (its connection pool lives there); :meth:`close` it when done.
    """

    def __init__(self, settings: LLMSettings, retry: RetryPolicy | None = None) -> None:
        if not settings.base_url or not settings.model:
            raise FailedPreconditionError(
                f"the LLM engine needs {settings.setting('BASE_URL')} and {settings.setting('MODEL')}"
            )
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self._client = openai.AsyncOpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key or "not-needed",
            timeout=settings.timeout_s,
            max_retries=0,
        )

    @property
    def model(self) -> str:
        """The model name sent to the endpoint."""
        return self.settings.model

    @property
    def base_url(self) -> str:
        """The endpoint's base URL."""
        return self.settings.base_url

    async def ready(self, timeout_s: float = 3.0) -> bool:
        """True when ``GET /models`` answers within ``timeout_s`` (at most the request timeout)."""
        try:
            await self._client.with_options(timeout=min(self.settings.timeout_s, timeout_s)).models.list()
        except openai.OpenAIError:
            return False
        return True

    async def close(self) -> None:
        """Close the HTTP connection pool."""
        await self._client.close()

    def _stop(self, started: float) -> Callable[[RetryCallState], bool]:
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

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        json_mode: bool | None = None,
        response_format: Mapping[str, Any] | None = None,
    ) -> Completion:
        """One chat completion with transport retries; raises ``ting_common.errors`` domain errors.

        ``json_mode`` (default: the settings') sends ``response_format={"type": "json_object"}``; a
        ``response_format`` (e.g. a ``json_schema`` one) is sent as given instead. An endpoint that answers a
        ``json_schema`` request with 400/422 raises :class:`ResponseFormatRejectedError`.
        """
        started = time.monotonic()
        attempts = 0
        kwargs: dict[str, Any] = {
            "model": self.settings.model,
            "messages": [dict(m) for m in messages],
            "temperature": self.settings.temperature,
            "max_tokens": max_tokens,
        }
        if response_format is not None:
            kwargs["response_format"] = dict(response_format)
        elif self.settings.json_mode if json_mode is None else json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        response: Any = None
        try:
            async for attempt in AsyncRetrying(
                stop=self._stop(started),
                wait=self._wait,
                retry=retry_if_exception(is_retryable),
                reraise=True,
            ):
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    response = await self._client.chat.completions.create(**kwargs)
        except openai.APIStatusError as exc:
            if exc.status_code in (400, 422) and kwargs.get("response_format", {}).get("type") == "json_schema":
                # The same message as any rejection: whether json_schema was the cause is the caller's to judge.
                raise ResponseFormatRejectedError(str(self._status_error(exc, attempts))) from exc
            raise self._status_error(exc, attempts) from exc
        except openai.APITimeoutError as exc:
            raise UnavailableError(
                f"the LLM endpoint {self.base_url} did not answer within {self.settings.timeout_s:g} s "
                f"({attempts} attempt(s)); raise {self.settings.setting('TIMEOUT_S')} or check the server"
            ) from exc
        except openai.APIConnectionError as exc:
            raise UnavailableError(
                f"cannot reach the LLM endpoint {self.base_url} ({attempts} attempt(s)): {exc}"
            ) from exc
        choice = response.choices[0] if response is not None and response.choices else None
        message = choice.message if choice is not None else None
        usage = response.usage if response is not None else None
        return Completion(
            content=(message.content if message is not None else None) or "",
            attempts=attempts,
            prompt_tokens=int(usage.prompt_tokens or 0) if usage is not None else 0,
            completion_tokens=int(usage.completion_tokens or 0) if usage is not None else 0,
            finish_reason=str(choice.finish_reason or "") if choice is not None else "",
        )

    def _status_error(self, exc: openai.APIStatusError, attempts: int) -> Exception:
        status = exc.status_code
        detail = error_detail(exc)
        where = f"the LLM endpoint {self.base_url}"
        if is_retryable(exc):
            what = "is rate limiting (429)" if status == 429 else f"failed with HTTP {status}"
            return UnavailableError(f"{where} {what} after {attempts} attempt(s): {detail}")
        if status in (401, 403):
            return FailedPreconditionError(
                f"{where} refused the credentials (HTTP {status}): {detail}; set {self.settings.setting('API_KEY')}"
            )
        if status == 404:
            return FailedPreconditionError(
                f"{where} does not know model {self.model!r} or the URL is wrong (HTTP 404): {detail}; "
                f"check {self.settings.setting('BASE_URL')} (usually ends in /v1) and {self.settings.setting('MODEL')}"
            )
        return FailedPreconditionError(f"{where} rejected the request (HTTP {status}): {detail}")

    async def complete_json(
        self,
        messages: Sequence[Message],
        schema: type[ModelT],
        *,
        max_tokens: int,
        answer_attempts: int = 2,
        check: Callable[[ModelT], None] | None = None,
        what: str = "answer",
        response_format: Mapping[str, Any] | None = None,
    ) -> JSONCompletion[ModelT]:
        """Ask until the answer is JSON that validates as ``schema`` (and passes ``check``), at most
        ``answer_attempts`` requests; each retry tells the model what was wrong with its last answer. Every
        request asks for ``response_format`` when given (see :meth:`complete`).

        ``check`` raises ``ValueError`` for answers that are valid JSON but unusable (e.g. a required part is
        missing). When every answer is rejected: :class:`~ting_common.errors.UnavailableError` naming ``what``,
        the model and the last reason.
        """
        history = list(messages)
        attempts = prompt_tokens = completion_tokens = 0
        reason = ""
        for request in range(1, max(1, answer_attempts) + 1):
            completion = await self.complete(history, max_tokens=max_tokens, response_format=response_format)
            attempts += completion.attempts
            prompt_tokens += completion.prompt_tokens
            completion_tokens += completion.completion_tokens
            try:
                value = schema.model_validate(extract_json(completion.content))
                if check is not None:
                    check(value)
            except MalformedJSONError as exc:
                reason = str(exc)
            except pydantic.ValidationError as exc:
                reason = f"the JSON does not follow the schema: {_first_error(exc)}"
            except ValueError as exc:
                reason = f"the JSON does not follow the schema: {exc}"
            else:
                return JSONCompletion(value, request, attempts, prompt_tokens, completion_tokens)
            if completion.finish_reason == "length":
                reason += f" (the answer was cut at {max_tokens} tokens)"
            logger.info("LLM answer rejected", extra={"request": request, "reason": reason[:200]})
            history = [
                *messages,
                {
                    "role": "user",
                    "content": f"Your previous answer was rejected: {reason[:300]}. "
                    "Answer again with one JSON object that follows the schema exactly, and nothing else.",
                },
            ]
        raise UnavailableError(
            f"the LLM {self.model!r} at {self.base_url} gave no usable {what} in {max(1, answer_attempts)} "
            f"request(s): {reason}; retry, or configure a model that follows JSON instructions"
        )


def error_detail(exc: openai.APIStatusError) -> str:
    """The endpoint's own error message of an HTTP error answer (at most 300 characters)."""
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error")
        message = body.get("message") or (error.get("message") if isinstance(error, dict) else None)
        if isinstance(message, str) and message:
            return message[:300]
    return str(exc.message)[:300]


def _first_error(exc: pydantic.ValidationError) -> str:
    errors = exc.errors(include_url=False)
    if not errors:
        return str(exc)[:200]
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "(root)"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first.get('msg', 'invalid')}{more}"
