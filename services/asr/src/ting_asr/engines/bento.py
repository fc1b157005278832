"""The ``bento`` engine: recognition on a BentoML model runner over HTTP (``services/asr/runners/bento/service.py``).

What the runner answers is described in :mod:`ting_asr.engines.remote`. A recognition is ``POST /transcribe`` as
``multipart/form-data``: a ``request`` part with the request JSON and an ``audio`` part with the samples as raw
float32 little-endian bytes (4 bytes a sample, never JSON number lists); ``POST /describe`` lists the models.

The engine's API is blocking (the servicer calls it from worker threads), so it owns one asyncio loop in a daemon
thread with one ``httpx.AsyncClient`` on it; a call is a coroutine submitted to that loop, and while the worker thread
waits it watches ``control.stop``: when the caller goes away the coroutine is cancelled, which closes its connection,
and the call raises :class:`~ting_asr.engines.StopRequested`.

Retries: a runner that cannot be reached (connection refused or reset, the server gone mid-request) or that answers
HTTP 429/502/503/504 (busy, restarting) is retried with exponential backoff (``TING_ASR_RUNNER_RETRIES``); a call
still failing then reaches the caller as UNAVAILABLE. ``TING_ASR_RUNNER_TIMEOUT_S`` bounds each attempt; running past
it is DEADLINE_EXCEEDED.
"""

from __future__ import annotations

import json

import httpx
import numpy as np
import numpy.typing as npt

from ting_asr.config import AsrSettings
from ting_asr.engines import CallControl, StopRequested
from ting_asr.engines.remote import RemoteAsrEngine
from ting_common.errors import DeadlineExceededError, InternalError
from ting_common.runners import (
    RETRY_HTTP_STATUSES,
    LoopThread,
    RunnerUnavailableError,
    async_runner_retrying,
    error_from_wire,
)

_CONNECT_TIMEOUT_S = 10.0


class BentoAsrEngine(RemoteAsrEngine):
    """:class:`~ting_asr.engines.AsrEngine` on a BentoML runner."""

    name = "bento"

    def __init__(self, url: str, *, timeout_s: float = 600.0, retries: int = 3) -> None:
        super().__init__()
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.retries = retries
        self.runner_label = f"BentoML at {self.url}"
        self._loop = LoopThread("bento-client")
        self._client: httpx.AsyncClient = self._loop.submit(self._open()).result()

    @classmethod
    def from_settings(cls, settings: AsrSettings) -> BentoAsrEngine:
        """The engine ``TING_ASR_ENGINE=bento`` configures; asks the runner for its models when it can."""
        engine = cls(settings.bento_url, timeout_s=settings.runner_timeout_s, retries=settings.runner_retries)
        engine.connect()
        return engine

    # -- calls -------------------------------------------------------------------------------------------------
    async def _open(self) -> httpx.AsyncClient:
        timeout = httpx.Timeout(self.timeout_s, connect=min(_CONNECT_TIMEOUT_S, self.timeout_s))
        return httpx.AsyncClient(base_url=self.url, timeout=timeout)

    def _call(self, request: bytes, audio: npt.NDArray[np.float32] | None, control: CallControl | None) -> bytes:
        if control is not None:
            control.check()
        # A stop cancels the coroutine on the loop, which closes its connection.
        stop = None if control is None else control.stop
        return self._loop.run(self._post_with_retries(request, audio), stop, StopRequested)

    async def _post_with_retries(self, request: bytes, audio: npt.NDArray[np.float32] | None) -> bytes:
        body = None if audio is None else _audio_bytes(audio)
        async for attempt in async_runner_retrying(self.retries):
            with attempt:
                return await self._post(request, body)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _post(self, request: bytes, audio: bytes | None) -> bytes:
        try:
            if audio is None:
                reply = await self._client.post("/describe", json={})
            else:
                reply = await self._client.post(
                    "/transcribe",
                    data={"request": request.decode()},
                    files={"audio": ("audio.f32", audio, "application/octet-stream")},
                )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadError, httpx.WriteError) as exc:
            raise self._unavailable(f"{type(exc).__name__}: {exc}") from exc
        except httpx.RemoteProtocolError as exc:  # the server went away before answering (a crash, a restart)
            raise self._unavailable(f"the connection ended without an answer ({exc})") from exc
        except httpx.PoolTimeout as exc:
            raise self._unavailable("no free connection to it") from exc
        except httpx.TimeoutException as exc:
            raise DeadlineExceededError(
                f"the ASR model runner ({self.runner_label}) did not answer within {self.timeout_s:g} s"
            ) from exc
        if reply.status_code in RETRY_HTTP_STATUSES:
            raise self._unavailable(f"HTTP {reply.status_code}: {reply.text[:300]}")
        if reply.status_code >= 400 and not _is_error_answer(reply.content):
            raise InternalError(
                f"the ASR model runner ({self.runner_label}) answered HTTP {reply.status_code}: {reply.text[:500]}"
            )
        return reply.content

    def _unavailable(self, why: str) -> RunnerUnavailableError:
        return RunnerUnavailableError(f"the ASR model runner ({self.runner_label}) is unavailable: {why}")

    def close(self) -> None:
        """Close the client and stop the loop."""
        self._loop.close(self._client.aclose())


def _audio_bytes(audio: npt.NDArray[np.float32]) -> bytes:
    """16 kHz mono samples as raw float32 little-endian bytes."""
    return np.ascontiguousarray(np.asarray(audio).reshape(-1), dtype="<f4").tobytes()


def _is_error_answer(content: bytes) -> bool:
    """Whether ``content`` is the runner's own ``{"error": {"code", "message"}}`` answer."""
    try:
        return error_from_wire(json.loads(content)) is not None
    except (ValueError, UnicodeDecodeError):
        return False


__all__ = ["BentoAsrEngine"]
