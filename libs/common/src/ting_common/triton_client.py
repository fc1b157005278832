"""Calls to one model on an NVIDIA Triton server (KServe v2 over gRPC, ``tritonclient.grpc.aio``) from blocking code.

The runner engines (ASR's ``triton`` engine, separation's ``TING_SEPARATE_RUNNER=triton``) are called from worker
threads; the aio client lives on a :class:`~ting_common.runners.LoopThread` and each call is a coroutine there, which
the waiting thread cancels when its caller goes away.

* UNAVAILABLE (the runner down, restarting, a connection reset) is retried with backoff
  (:func:`~ting_common.runners.async_runner_retrying`); before a retry the channel is asked to connect and given up
  to 2 s to be ready, so a restarted runner is used as soon as it listens instead of after gRPC's reconnect backoff.
  When the attempts are spent the call fails UNAVAILABLE, naming the runner.
* Running past the timeout is DEADLINE_EXCEEDED; a model the server does not serve is FAILED_PRECONDITION; anything
  else the server says is INTERNAL. Errors the model itself answers travel inside its outputs (runner JSON).

Requires ``tritonclient[grpc]`` (a dependency of the services that use it, imported here only when a client is made).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ting_common.errors import DeadlineExceededError, FailedPreconditionError, InternalError, TingError
from ting_common.runners import LoopThread, RunnerUnavailableError, async_runner_retrying

_RECONNECT_WAIT_S: Final = 2.0
_MAX_MESSAGE: Final = 2**31 - 1
# Whole audio in one message, and reconnects that follow a restarted runner within about a second (gRPC's default
# backoff grows to two minutes).
CHANNEL_ARGS: Final = [
    ("grpc.max_send_message_length", _MAX_MESSAGE),
    ("grpc.max_receive_message_length", _MAX_MESSAGE),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
]
_DATATYPES: Final = {np.dtype(np.float32): "FP32", np.dtype(np.uint8): "UINT8", np.dtype(np.int64): "INT64"}


class TritonModelClient:
    """One model (name, version) on one Triton server; :meth:`infer` is blocking and thread-safe."""

    def __init__(
        self,
        url: str,
        model: str,
        version: str = "",
        *,
        timeout_s: float = 600.0,
        retries: int = 3,
        timeout_setting: str = "",
    ) -> None:
        self.url, self.model, self.version = url, model, version
        self.timeout_s, self.retries = timeout_s, retries
        self.timeout_setting = timeout_setting
        self.where = f"Triton at {url} (model {model}{f' version {version}' if version else ''})"
        self._loop = LoopThread("triton-client")
        self._client: Any = self._loop.run(self._open())

    async def _open(self) -> Any:
        from tritonclient.grpc.aio import InferenceServerClient

        return InferenceServerClient(self.url, channel_args=CHANNEL_ARGS)

    def infer(
        self,
        inputs: dict[str, npt.NDArray[Any]],
        outputs: Sequence[str],
        stop: threading.Event | None = None,
        stopped: Callable[[], BaseException] | None = None,
    ) -> dict[str, npt.NDArray[Any] | None]:
        """One inference: ``inputs`` by name (float32 / uint8 / int64 arrays, batch dimension included) → the named
        ``outputs`` (``None`` for one the model did not return). ``stop`` set while waiting cancels the call and
        raises ``stopped()``."""
        return self._loop.run(self._infer_with_retries(inputs, outputs), stop, stopped)

    async def _infer_with_retries(
        self, inputs: dict[str, npt.NDArray[Any]], outputs: Sequence[str]
    ) -> dict[str, npt.NDArray[Any] | None]:
        try:
            async for attempt in async_runner_retrying(self.retries):
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        await self._reconnect()
                    return await self._infer(inputs, outputs)
        except RunnerUnavailableError as exc:
            raise RunnerUnavailableError(
                f"{self.where} is unavailable after {self.retries + 1} attempt(s): {exc.message}"
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover (tenacity re-raises)

    async def _infer(
        self, inputs: dict[str, npt.NDArray[Any]], outputs: Sequence[str]
    ) -> dict[str, npt.NDArray[Any] | None]:
        from tritonclient.grpc import InferInput, InferRequestedOutput
        from tritonclient.utils import InferenceServerException

        tensors = []
        for name, array in inputs.items():
            data = np.ascontiguousarray(array)
            tensor = InferInput(name, list(data.shape), _DATATYPES[data.dtype])
            tensor.set_data_from_numpy(data)
            tensors.append(tensor)
        try:
            result = await self._client.infer(
                self.model,
                tensors,
                model_version=self.version,
                outputs=[InferRequestedOutput(name) for name in outputs],
                client_timeout=self.timeout_s,
            )
        except InferenceServerException as exc:
            raise self._error(exc) from None
        return {name: result.as_numpy(name) for name in outputs}

    async def _reconnect(self) -> None:
        """Before a retry: have the channel connect now and wait (a little) until it is ready."""
        channel = getattr(self._client, "_channel", None)
        if channel is None:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(channel.channel_ready(), min(_RECONNECT_WAIT_S, self.timeout_s))

    def _error(self, exc: Any) -> TingError:
        status = str(exc.status() or "")
        message = str(exc.message() or exc)
        if status == "StatusCode.UNAVAILABLE" or "failed to connect" in message.lower():
            return RunnerUnavailableError(f"{self.where} is unreachable: {message}")
        if status == "StatusCode.DEADLINE_EXCEEDED":
            hint = f" ({self.timeout_setting})" if self.timeout_setting else ""
            return DeadlineExceededError(f"{self.where} did not answer within {self.timeout_s:g} s{hint}")
        if status in ("StatusCode.NOT_FOUND", "StatusCode.INVALID_ARGUMENT") and "model" in message.lower():
            return FailedPreconditionError(f"{self.where} cannot serve the model: {message}")
        return InternalError(f"{self.where} failed ({status or 'no status'}): {message}")

    def close(self) -> None:
        """Close the channel and stop the loop thread (idempotent)."""
        self._loop.close(self._client.close())


__all__ = ["CHANNEL_ARGS", "TritonModelClient"]
