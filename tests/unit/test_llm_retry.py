"""ting_common.llm: retry policy (which errors retry, Retry-After, backoff bounds), JSON answers, token estimate."""

from __future__ import annotations

import email.utils

import httpx2
import openai
import pytest

from ting_common.errors import FailedPreconditionError
from ting_common.llm import (
    LLMClient,
    LLMSettings,
    MalformedJSONError,
    RetryPolicy,
    error_detail,
    estimate_tokens,
    extract_json,
    is_retryable,
    parse_retry_after,
    retry_after_of,
)

NOW = 1_800_000_000.0


def status_error(code: int, headers: dict[str, str] | None = None) -> openai.APIStatusError:
    request = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = httpx2.Response(code, headers=headers or {}, request=request)
    return openai.APIStatusError(f"HTTP {code}", response=response, body=None)


def test_retry_after_forms() -> None:
    assert parse_retry_after({"Retry-After": "3"}, NOW) == 3.0
    assert parse_retry_after({"retry-after": " 1.5 "}, NOW) == 1.5
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}, NOW) == 0.25
    date = email.utils.formatdate(NOW + 7, usegmt=True)
    assert parse_retry_after({"Retry-After": date}, NOW) == pytest.approx(7.0)
    assert parse_retry_after({"Retry-After": email.utils.formatdate(NOW - 60, usegmt=True)}, NOW) == 0.0
    assert parse_retry_after({"Retry-After": "-4"}, NOW) == 0.0
    assert parse_retry_after({"Retry-After": "soon"}, NOW) is None
    assert parse_retry_after({}, NOW) is None
    assert retry_after_of(status_error(429, {"Retry-After": "2"})) == 2.0
    assert retry_after_of(ValueError()) is None


@pytest.mark.parametrize(("code", "retry"), [(408, True), (429, True), (500, True), (502, True), (503, True)])
def test_transient_statuses_retry(code: int, retry: bool) -> None:
    assert is_retryable(status_error(code)) is retry


@pytest.mark.parametrize("code", [400, 401, 403, 404, 409, 413, 422])
def test_other_4xx_never_retry(code: int) -> None:
    assert not is_retryable(status_error(code))


def test_timeouts_and_connection_errors_retry() -> None:
    request = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")
    assert is_retryable(openai.APITimeoutError(request=request))
    assert is_retryable(openai.APIConnectionError(request=request))
    assert not is_retryable(ValueError("x"))


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(initial_backoff_s=0.5, max_backoff_s=4.0, jitter_s=0.5)
    for attempt, base in [(1, 0.5), (2, 1.0), (3, 2.0)]:
        waits = [policy.backoff(attempt) for _ in range(50)]
        assert all(base <= w <= base + 0.5 for w in waits) and len(set(waits)) > 1
    assert all(policy.backoff(10) == 4.0 for _ in range(10))


def test_extract_json() -> None:
    assert extract_json('{"a": 1}') == {"a": 1}
    assert extract_json('```json\n{"a": [1, 2]}\n```') == {"a": [1, 2]}
    assert extract_json('Sure! {"a": "x"} Hope this helps.') == {"a": "x"}
    assert extract_json("[1, 2]") == [1, 2]
    with pytest.raises(MalformedJSONError, match="not JSON"):
        extract_json("no json here")
    with pytest.raises(MalformedJSONError, match="not valid JSON"):
        extract_json('{"a": 1')
    with pytest.raises(MalformedJSONError):
        extract_json("")


def test_error_detail_reads_the_endpoint_message() -> None:
    request = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = httpx2.Response(400, request=request)
    nested = openai.APIStatusError("HTTP 400", response=response, body={"error": {"message": "context too long"}})
    flat = openai.APIStatusError("HTTP 400", response=response, body={"message": "bad model"})
    bare = openai.APIStatusError("HTTP 400 plain", response=response, body=None)
    assert (error_detail(nested), error_detail(flat), error_detail(bare)) == (
        "context too long",
        "bad model",
        "HTTP 400 plain",
    )


def test_estimate_tokens_is_conservative_and_counts_cjk_double() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("Hello, world.") == 8  # Hello 2 + "," 1 + world 2 + "." 1 = 6, x 1.25 rounded up
    assert estimate_tokens("会议") == 5  # 2 chars x 2, + 25 %
    long = " ".join(["meeting"] * 100)
    assert estimate_tokens(long) >= 100  # never fewer than one token per word


def test_client_needs_url_and_model_and_names_the_settings() -> None:
    with pytest.raises(FailedPreconditionError, match="TING_SUMMARIZE_LLM_BASE_URL and TING_SUMMARIZE_LLM_MODEL"):
        LLMClient(LLMSettings(base_url="", model="m", env_prefix="TING_SUMMARIZE_LLM_"))
    settings = LLMSettings(base_url="http://127.0.0.1:9/v1", model="m", env_prefix="TING_X_LLM_")
    assert settings.setting("API_KEY") == "TING_X_LLM_API_KEY"
    assert LLMClient(settings).model == "m"
