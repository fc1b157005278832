"""The ``triton`` engine: recognition on an NVIDIA Triton model runner (KServe v2 gRPC, ``tritonclient.grpc.aio``).

The runner is the python-backend model in ``services/asr/runners/triton/whisper``; what it answers is described in
:mod:`ting_asr.engines.remote`. The engine's API is blocking (the servicer calls it from worker threads), so it owns
one asyncio loop in a daemon thread with one ``InferenceServerClient`` on it; a call is a coroutine submitted to that
loop, and while the worker thread waits it watches ``control.stop`` and cancels the call when the caller goes away.

Retries: UNAVAILABLE (the runner restarting, a connection refused) is retried with exponential backoff
(``TING_ASR_RUNNER_RETRIES``); a call still failing then reaches the caller as UNAVAILABLE. The timeout is
``TING_ASR_RUNNER_TIMEOUT_S`` per attempt.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ting_asr.config import AsrSettings
from ting_asr.engines import CallControl, StopRequested
from ting_asr.engines.remote import RemoteAsrEngine
from ting_common.errors import DeadlineExceededError, InternalError, UnavailableError
from ting_common.runners import LoopThread, RunnerUnavailableError, async_runner_retrying

_UNAVAILABLE = ("StatusCode.UNAVAILABLE", "UNAVAILABLE")
# Whole audio in one message (tritonclient's own default), and reconnects that follow a restarted runner within
# about a second instead of gRPC's default backoff of up to two minutes.
CHANNEL_ARGS = [
    ("grpc.max_send_message_length", 2**31 - 1),
    ("grpc.max_receive_message_length", 2**31 - 1),
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


class TritonAsrEngine(RemoteAsrEngine):
    """:class:`~ting_asr.engines.AsrEngine` on a Triton runner."""

    name = "triton"

    def __init__(
        self,
        url: str,
        model_name: str = "whisper",
        model_version: str = "",
        *,
        timeout_s: float = 600.0,
        retries: int = 3,
    ) -> None:
        super().__init__()
        self.url = url
        self.model_name = model_name
        self.model_version = model_version
        self.timeout_s = timeout_s
        self.retries = retries
        self.runner_label = f"Triton at {url} (model {model_name})"
        self._loop = LoopThread("triton-client")
        self._client: Any = None
        self._loop.submit(self._open()).result()

    @classmethod
    def from_settings(cls, settings: AsrSettings) -> TritonAsrEngine:
        """The engine ``TING_ASR_ENGINE=triton`` configures; asks the runner for its models when it can."""
        engine = cls(
            settings.triton_url,
            settings.triton_model,
            settings.triton_model_version,
            timeout_s=settings.runner_timeout_s,
            retries=settings.runner_retries,
        )
        engine.connect()
        return engine

    # -- calls -------------------------------------------------------------------------------------------------
    async def _open(self) -> None:
        from tritonclient.grpc.aio import InferenceServerClient

        self._client = InferenceServerClient(self.url, channel_args=CHANNEL_ARGS)

    def _call(self, request: bytes, audio: npt.NDArray[np.float32] | None, control: CallControl | None) -> bytes:
        stop = None if control is None else control.stop
        return self._loop.run(self._infer_with_retries(request, audio), stop, StopRequested)

    async def _infer_with_retries(self, request: bytes, audio: npt.NDArray[np.float32] | None) -> bytes:
        async for attempt in async_runner_retrying(self.retries):
            with attempt:
                return await self._infer(request, audio)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _infer(self, request: bytes, audio: npt.NDArray[np.float32] | None) -> bytes:
        from tritonclient.grpc import InferInput, InferRequestedOutput
        from tritonclient.utils import InferenceServerException

        samples = np.zeros((1, 1), np.float32) if audio is None else np.asarray(audio, np.float32).reshape(1, -1)
        audio_in = InferInput("AUDIO", list(samples.shape), "FP32")
        audio_in.set_data_from_numpy(samples)
        request_bytes = np.frombuffer(request, dtype=np.uint8).reshape(1, -1)
        body = InferInput("REQUEST", list(request_bytes.shape), "UINT8")
        body.set_data_from_numpy(request_bytes)
        try:
            result = await self._client.infer(
                self.model_name,
                [audio_in, body],
                model_version=self.model_version,
                outputs=[InferRequestedOutput("RESULT")],
                client_timeout=self.timeout_s,
            )
        except InferenceServerException as exc:
            status = str(exc.status() or "")
            if status in _UNAVAILABLE or "failed to connect" in str(exc).lower():
                raise RunnerUnavailableError(
                    f"the ASR model runner ({self.runner_label}) is unavailable: {exc.message()}"
                ) from exc
            if "DEADLINE_EXCEEDED" in status:
                raise DeadlineExceededError(
                    f"the ASR model runner ({self.runner_label}) did not answer within {self.timeout_s:.0f} s"
                ) from exc
            if "NOT_FOUND" in status or "unknown model" in str(exc).lower():
                raise UnavailableError(f"{self.runner_label} does not serve the model: {exc.message()}") from exc
            raise InternalError(f"the ASR model runner ({self.runner_label}) failed: {exc.message()}") from exc
        answer = result.as_numpy("RESULT")
        if answer is None or answer.size == 0:
            raise InternalError(f"{self.runner_label} answered without a RESULT")
        return np.ascontiguousarray(answer, dtype=np.uint8).tobytes()

    def close(self) -> None:
        """Close the client and stop the loop."""
        self._loop.close(self._client.close() if self._client is not None else None)


__all__ = ["TritonAsrEngine"]
