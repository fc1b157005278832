"""The ``triton`` engine: recognition on an NVIDIA Triton model runner (KServe v2 gRPC, ``tritonclient.grpc.aio``).

The runner is the python-backend model in ``services/asr/runners/triton/whisper``; what it answers is described in
:mod:`ting_asr.engines.remote`. Transport, retries
(``TING_ASR_RUNNER_RETRIES``, on UNAVAILABLE), the timeout per attempt (``TING_ASR_RUNNER_TIMEOUT_S``) and cancellation
when the caller goes away: :class:`ting_common.triton_client.TritonModelClient`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ting_asr.config import AsrSettings
from ting_asr.engines import CallControl, StopRequested
from ting_asr.engines.remote import RemoteAsrEngine
from ting_common.errors import InternalError
from ting_common.triton_client import TritonModelClient


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
        self._triton = TritonModelClient(
            url,
            model_name,
            model_version,
            timeout_s=timeout_s,
            retries=retries,
            timeout_setting="TING_ASR_RUNNER_TIMEOUT_S",
        )

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

    def _call(self, request: bytes, audio: npt.NDArray[np.float32] | None, control: CallControl | None) -> bytes:
        samples = np.zeros((1, 1), np.float32) if audio is None else np.asarray(audio, np.float32).reshape(1, -1)
        body = np.frombuffer(request, dtype=np.uint8).reshape(1, -1)
        answer = self._triton.infer(
            {"AUDIO": samples, "REQUEST": body}, ["RESULT"], None if control is None else control.stop, StopRequested
        )["RESULT"]
        if answer is None or answer.size == 0:
            raise InternalError(f"{self.runner_label} answered without a RESULT")
        return np.ascontiguousarray(answer, dtype=np.uint8).tobytes()

    def close(self) -> None:
        """Close the client."""
        self._triton.close()


__all__ = ["TritonAsrEngine"]
