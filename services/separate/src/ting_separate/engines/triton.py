"""Separation engines served by NVIDIA Triton (``TING_SEPARATE_RUNNER=triton``): KServe v2 over gRPC.

The model repository is ``services/separate/runners/triton/separator`` (python backend hosting
:class:`ting_separate.runner.RunnerHost`). One inference request carries one batch of chunks of one engine:

* inputs ``OPTIONS`` (``UINT8`` ``[1, k]``: the UTF-8 JSON header of :mod:`ting_separate.runner`) and ``AUDIO``
  (``FP32`` ``[1, n]``: the chunks' samples); both ragged across the requests batched together;
* outputs ``RESULT`` (``UINT8`` ``[1, k]``: the JSON answer, or ``{"error": ...}``) and ``STEMS`` (``FP32`` ``[1, m]``).

(JSON in UINT8 rather than a string tensor: the model moves tensors through DLPack, which has no string type;
see the model's ``config.pbtxt``.)

Transport, retries (``TING_SEPARATE_RUNNER_RETRIES``, on UNAVAILABLE), the timeout per attempt and cancellation
when the caller goes away: :class:`ting_common.triton_client.TritonModelClient`.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ting_common.errors import InternalError
from ting_common.runners import parse_answer
from ting_common.triton_client import TritonModelClient
from ting_separate.config import SeparateSettings
from ting_separate.engines import CallControl, FloatArray, SeparationEngine, StopRequested
from ting_separate.engines.remote import RemoteSeparationEngine, describe_runner
from ting_separate.runner import EMPTY, to_samples


class TritonTransport:
    """Requests to one Triton model over ``tritonclient.grpc.aio``, from any thread (see the module docstring)."""

    def __init__(self, url: str, model: str, version: str = "", *, timeout_s: float = 600.0, retries: int = 3) -> None:
        self._triton = TritonModelClient(
            url,
            model,
            version,
            timeout_s=timeout_s,
            retries=retries,
            timeout_setting="TING_SEPARATE_RUNNER_TIMEOUT_S",
        )
        self.where = self._triton.where

    def call(
        self, header: dict[str, Any], samples: FloatArray, control: CallControl | None
    ) -> tuple[dict[str, Any], FloatArray]:
        """One inference request; the runner's answer, or its error raised here."""
        encoded = np.frombuffer(json.dumps(header, separators=(",", ":")).encode(), dtype=np.uint8).reshape(1, -1)
        audio = np.ascontiguousarray(samples, dtype=np.float32).reshape(1, -1)  # empty for describe/plan
        out = self._triton.infer(
            {"OPTIONS": encoded, "AUDIO": audio},
            ["RESULT", "STEMS"],
            None if control is None else control.stop,
            StopRequested,
        )
        answer, stems = out["RESULT"], out["STEMS"]
        if answer is None:
            raise InternalError(f"{self.where} answered without its RESULT tensor")
        return parse_answer(answer.tobytes(), self.where), (to_samples(stems) if stems is not None else EMPTY)

    def close(self) -> None:
        """Close the channel and stop the loop thread (idempotent)."""
        self._triton.close()


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
