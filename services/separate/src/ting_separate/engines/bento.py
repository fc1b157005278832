"""Separation engines served by the BentoML runner (``TING_SEPARATE_RUNNER=bento``, ``TING_SEPARATE_BENTO_URL``).

The service is ``services/separate/runners/bento/service.py:SeparatorRunner`` (hosting
:class:`ting_separate.runner.RunnerHost`). Its endpoints:

* ``POST /describe`` (JSON ``{}``) -> JSON, the hosted engines;
* ``POST /plan`` (JSON ``{"options": <header>}``) -> JSON, the engine's chunk plan;
* ``POST /separate`` (multipart: ``options``, the JSON header, and ``audio``, the float32 samples as a file part,
  not JSON number lists) -> the framed answer (:func:`ting_separate.runner.frame`).

Engines run in worker threads, so the client is ``httpx``'s blocking one; the stop flag is checked between
batches (and before each attempt). Connection failures and HTTP 429/502/503/504 are retried with backoff
(:func:`ting_common.runners.runner_retrying`), then surface as UNAVAILABLE naming the runner.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from ting_common.errors import DeadlineExceededError, InternalError
from ting_common.runners import (
    RETRY_HTTP_STATUSES,
    RunnerUnavailableError,
    error_from_wire,
    parse_answer,
    runner_retrying,
)
from ting_separate.config import SeparateSettings
from ting_separate.engines import CallControl, FloatArray, SeparationEngine
from ting_separate.engines.remote import RemoteSeparationEngine, describe_runner
from ting_separate.runner import EMPTY, WIRE_DTYPE, unframe


class BentoTransport:
    """Requests to the BentoML separator runner (see the module docstring)."""

    def __init__(self, url: str, *, timeout_s: float = 600.0, retries: int = 3) -> None:
        self.url = url.rstrip("/")
        self.retries = retries
        self.timeout_s = timeout_s
        self.where = f"BentoML at {self.url}"
        self._http = httpx.Client(base_url=self.url, timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)))

    def call(
        self, header: dict[str, Any], samples: FloatArray, control: CallControl | None
    ) -> tuple[dict[str, Any], FloatArray]:
        """One request; the runner's answer, or its error raised here."""
        try:
            for attempt in runner_retrying(self.retries):
                with attempt:
                    if control is not None:
                        control.check()
                    return self._post(header, samples)
        except RunnerUnavailableError as exc:
            raise RunnerUnavailableError(
                f"{self.where} is unavailable after {self.retries + 1} attempt(s): {exc.message}"
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover (tenacity re-raises)

    def _post(self, header: dict[str, Any], samples: FloatArray) -> tuple[dict[str, Any], FloatArray]:
        op = header.get("op")
        try:
            if op == "describe":
                reply = self._http.post("/describe", json={})
            elif op == "plan":
                reply = self._http.post("/plan", json={"options": header})
            else:
                files = {
                    "audio": (
                        "chunks.f32",
                        samples.astype(WIRE_DTYPE, copy=False).tobytes(),
                        "application/octet-stream",
                    )
                }
                reply = self._http.post("/separate", data={"options": json.dumps(header)}, files=files)
        except httpx.TimeoutException as exc:
            if isinstance(exc, httpx.ConnectTimeout):
                raise RunnerUnavailableError(f"{self.where} did not accept the connection: {exc}") from None
            raise DeadlineExceededError(
                f"{self.where} did not answer within {self.timeout_s:g} s (TING_SEPARATE_RUNNER_TIMEOUT_S)"
            ) from None
        except httpx.TransportError as exc:  # refused, reset, closed mid-answer
            raise RunnerUnavailableError(f"{self.where} is unreachable: {type(exc).__name__}: {exc}") from None
        if reply.status_code in RETRY_HTTP_STATUSES:
            raise RunnerUnavailableError(f"{self.where} answered HTTP {reply.status_code}: {reply.text[:200]}")
        if reply.status_code != 200:
            try:
                error = error_from_wire(reply.json())
            except ValueError:
                error = None
            raise error or InternalError(f"{self.where} answered HTTP {reply.status_code}: {reply.text[:300]}")
        if op in ("describe", "plan"):
            return parse_answer(reply.content, self.where), EMPTY
        raw, stems = unframe(reply.content)
        return parse_answer(raw, self.where), stems

    def close(self) -> None:
        """Close the connection pool (idempotent)."""
        self._http.close()


class BentoSeparationEngine(RemoteSeparationEngine):
    """One engine of the BentoML separator runner (see :class:`RemoteSeparationEngine`)."""


def bento_engines(settings: SeparateSettings) -> list[SeparationEngine]:
    """The engines the configured BentoML runner hosts (default first); UNAVAILABLE when unreachable."""
    transport = BentoTransport(settings.bento_url, timeout_s=settings.runner_timeout_s, retries=settings.runner_retries)
    try:
        infos = describe_runner(transport)
    except BaseException:
        transport.close()
        raise
    return [BentoSeparationEngine(info, transport) for info in infos]
