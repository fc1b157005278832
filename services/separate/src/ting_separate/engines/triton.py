"""Separation engines served by NVIDIA Triton (``TING_SEPARATE_RUNNER=triton``): KServe v2 over gRPC.

The model repository is ``services/separate/runners/triton/separator`` (python backend hosting
:class:`ting_separate.runner.RunnerHost`). One inference request carries one batch of chunks of one engine:

* inputs ``OPTIONS`` (``UINT8`` ``[1, k]``: the UTF-8 JSON header of :mod:`ting_separate.runner`) and ``AUDIO``
  (``FP32`` ``[1, n]``: the chunks' samples); both ragged across the requests batched together;
* outputs ``RESULT`` (``UINT8`` ``[1, k]``: the JSON answer, or ``{"error": ...}``) and ``STEMS`` (``FP32`` ``[1, m]``).

(JSON in UINT8 rather than a string tensor: the model moves tensors through DLPack, which has no string type;
see the model's ``config.pbtxt``.)

Engines are called from worker threads with a blocking API, while ``tritonclient.grpc.aio`` needs an event loop:
the transport owns one loop in a daemon thread and submits each call there, polling the caller's stop flag every
50 ms (a stopped call is cancelled on the wire). UNAVAILABLE (runner down, restarting, connection reset) is
retried with backoff (:func:`ting_common.runners.async_runner_retrying`), then surfaces as UNAVAILABLE naming
the runner.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Coroutine
from typing import Any, Final, TypeVar

import numpy as np
from tritonclient.grpc import InferInput, InferRequestedOutput  # type: ignore[import-untyped, unused-ignore]
from tritonclient.grpc.aio import InferenceServerClient  # type: ignore[import-untyped, unused-ignore]
from tritonclient.utils import InferenceServerException  # type: ignore[import-untyped, unused-ignore]

from ting_common.errors import DeadlineExceededError, FailedPreconditionError, InternalError, TingError
from ting_common.runners import LoopThread, RunnerUnavailableError, async_runner_retrying, parse_answer
from ting_separate.config import SeparateSettings
from ting_separate.engines import CallControl, FloatArray, SeparationEngine, StopRequested
from ting_separate.engines.remote import RemoteSeparationEngine, describe_runner
from ting_separate.runner import EMPTY, to_samples

T = TypeVar("T")
_RECONNECT_WAIT_S: Final = 2.0
_MAX_MESSAGE: Final = 2**31 - 1
# Reconnect quickly after a runner restart (gRPC's default backoff grows to two minutes).
_CHANNEL_ARGS: Final = [
    ("grpc.max_send_message_length", _MAX_MESSAGE),
    ("grpc.max_receive_message_length", _MAX_MESSAGE),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
]


class TritonTransport:
    """Requests to one Triton model over ``tritonclient.grpc.aio``, from any thread (see the module docstring)."""

    def __init__(self, url: str, model: str, version: str = "", *, timeout_s: float = 600.0, retries: int = 3) -> None:
        self.url, self.model, self.version = url, model, version
        self.timeout_s, self.retries = timeout_s, retries
        self.where = f"Triton at {url} (model {model}{f' version {version}' if version else ''})"
        self._loop = LoopThread("triton-client")
        self._client: Any = self._loop.run(self._connect())

    async def _connect(self) -> Any:
        return InferenceServerClient(self.url, channel_args=_CHANNEL_ARGS)

    def call(
        self, header: dict[str, Any], samples: FloatArray, control: CallControl | None
    ) -> tuple[dict[str, Any], FloatArray]:
        """One inference request; the runner's answer, or its error raised here."""
        raw, stems = self._wait(self._infer(header, samples), control)
        return parse_answer(raw, self.where), stems

    def _wait(self, coroutine: Coroutine[Any, Any, T], control: CallControl | None) -> T:
        return self._loop.run(coroutine, None if control is None else control.stop, StopRequested)

    async def _infer(self, header: dict[str, Any], samples: FloatArray) -> tuple[bytes, FloatArray]:
        encoded = np.frombuffer(json.dumps(header, separators=(",", ":")).encode(), dtype=np.uint8).reshape(1, -1)
        options = InferInput("OPTIONS", list(encoded.shape), "UINT8")
        options.set_data_from_numpy(encoded)
        audio = InferInput("AUDIO", [1, samples.size], "FP32")  # empty for describe/plan
        audio.set_data_from_numpy(np.ascontiguousarray(samples, dtype=np.float32).reshape(1, -1))
        outputs = [InferRequestedOutput("RESULT"), InferRequestedOutput("STEMS")]
        try:
            async for attempt in async_runner_retrying(self.retries):
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        await self._reconnect()
                    try:
                        result = await self._client.infer(
                            self.model,
                            [options, audio],
                            model_version=self.version,
                            outputs=outputs,
                            client_timeout=self.timeout_s,
                        )
                    except InferenceServerException as exc:
                        raise self._error(exc) from None
        except RunnerUnavailableError as exc:
            raise RunnerUnavailableError(
                f"{self.where} is unavailable after {self.retries + 1} attempt(s): {exc.message}"
            ) from None
        answer = result.as_numpy("RESULT")
        stems = result.as_numpy("STEMS")
        if answer is None:
            raise InternalError(f"{self.where} answered without its RESULT tensor")
        return answer.tobytes(), (to_samples(stems) if stems is not None else EMPTY)

    async def _reconnect(self) -> None:
        """Before a retry: have the channel connect now and wait (a little) until it is ready, instead of failing
        fast while gRPC's reconnect backoff runs (a restarted runner is then used as soon as it listens)."""
        channel = getattr(self._client, "_channel", None)
        if channel is None:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(channel.channel_ready(), min(_RECONNECT_WAIT_S, self.timeout_s))

    def _error(self, exc: InferenceServerException) -> TingError:
        status = str(exc.status() or "")
        message = str(exc.message() or exc)
        if status == "StatusCode.UNAVAILABLE":
            return RunnerUnavailableError(f"{self.where} is unreachable: {message}")
        if status == "StatusCode.DEADLINE_EXCEEDED":
            return DeadlineExceededError(
                f"{self.where} did not answer within {self.timeout_s:g} s (TING_SEPARATE_RUNNER_TIMEOUT_S)"
            )
        if status in ("StatusCode.NOT_FOUND", "StatusCode.INVALID_ARGUMENT") and "model" in message.lower():
            return FailedPreconditionError(f"{self.where} cannot serve the model: {message}")
        return InternalError(f"{self.where} failed ({status or 'no status'}): {message}")

    def close(self) -> None:
        """Close the channel and stop the loop thread (idempotent)."""
        self._loop.close(self._client.close())


class TritonSeparationEngine(RemoteSeparationEngine):
    """One engine of the Triton ``separator`` model (see :class:`RemoteSeparationEngine`)."""


def triton_engines(settings: SeparateSettings) -> list[SeparationEngine]:
    """The engines the configured Triton model hosts, in its order (default first); UNAVAILABLE when unreachable."""
    transport = TritonTransport(
        settings.triton_url,
        settings.triton_model,
        settings.triton_model_version,
        timeout_s=settings.runner_timeout_s,
        retries=settings.runner_retries,
    )
    try:
        infos = describe_runner(transport)
    except BaseException:
        transport.close()
        raise
    return [TritonSeparationEngine(info, transport) for info in infos]
