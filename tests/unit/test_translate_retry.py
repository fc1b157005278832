"""Retry policy (which errors retry, Retry-After parsing, backoff bounds) and parsing of the LLM's JSON answer."""

from __future__ import annotations

import email.utils

import httpx2
import openai
import pytest

from ting_translate.engines import MalformedAnswerError
from ting_translate.engines.openai_chat import parse_answer
from ting_translate.engines.retry import RetryPolicy, is_retryable, parse_retry_after, retry_after_of

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


def test_parse_answer() -> None:
    assert parse_answer('{"cues": [{"i": 1, "text": "Hola"}, {"i": 2, "text": "Adiós"}], "source_language": "en"}') == (
        {1: "Hola", 2: "Adiós"},
        "en",
    )
    fenced = '```json\n{"cues": [{"i": "1", "translation": "Hola"}]}\n```'
    assert parse_answer(fenced) == ({1: "Hola"}, "")
    assert parse_answer('Here you go: {"cues": [{"id": 1, "text": "x"}]} Enjoy!')[0] == {1: "x"}
    assert parse_answer('[{"i": 1, "text": "x"}]')[0] == {1: "x"}
    for bad in (
        "no json here",
        '{"cues": "x"}',
        '{"cues": [{"i": 1}]}',
        '{"cues": [{"i": 1, "text": "a"}, {"i": 1, "text": "b"}]}',
        '{"cues": [{"i": true, "text": "a"}]}',
        '{"cues": [1, 2]}',
        '{"cues": [{"i": 1, "text": "a"}',
    ):
        with pytest.raises(MalformedAnswerError):
            parse_answer(bad)
