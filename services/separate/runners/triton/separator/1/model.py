"""Triton python-backend model ``separator``: a thin shell over :class:`ting_separate.runner.RunnerHost`.

The logic (engines, wire format, errors) lives in ``ting_separate.runner``; this file only moves tensors.
``execute`` reads every request's tensors on the stub's thread, runs the requests on a small pool and builds the
responses on the stub's thread again: one response per request, a failure in that request's RESULT (as
``{"error": ...}`` JSON), never an exception out of ``execute``. Tensors move through DLPack (zero-copy; see
``config.pbtxt`` for why not ``as_numpy()``), the JSON as UTF-8 bytes in UINT8 tensors.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils  # provided by the python backend's stub

_EMPTY = np.zeros((1, 0), dtype=np.float32)


def _read(request: Any, name: str) -> np.ndarray:
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    if tensor is None:
        raise ValueError(f"input {name} is missing")
    return np.from_dlpack(tensor).reshape(-1)


def _tensor(name: str, array: np.ndarray) -> Any:
    array = np.ascontiguousarray(array).reshape(1, -1)
    if not array.flags.writeable:  # DLPack 0.x cannot export read-only memory
        array = array.copy()
    return pb_utils.Tensor.from_dlpack(name, array)


class TritonPythonModel:
    """The separation runner (see ``config.pbtxt``)."""

    def initialize(self, args: dict[str, Any]) -> None:
        config = json.loads(args["model_config"])
        gpu = args.get("model_instance_kind") == "GPU"
        if gpu:
            # One stub process per instance: pin onnxruntime's CUDA provider to the instance's device.
            os.environ["CUDA_VISIBLE_DEVICES"] = str(args.get("model_instance_device_id", "0"))
        from ting_separate.config import SeparateSettings
        from ting_separate.runner import RunnerHost

        self.host = RunnerHost.from_settings(SeparateSettings(), device="cuda" if gpu else "cpu")
        workers = int(config.get("parameters", {}).get("workers", {}).get("string_value", "1") or 1)
        self.pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="separator")

    def execute(self, requests: list[Any]) -> list[Any]:
        calls: list[tuple[bytes, np.ndarray] | bytes] = []
        for request in requests:
            try:
                options = _read(request, "OPTIONS").tobytes()
                audio = np.array(_read(request, "AUDIO"), dtype=np.float32)  # a copy: the request's memory goes
                calls.append((options, audio))
            except Exception as exc:  # a malformed request answers alone
                message = f"malformed request: {type(exc).__name__}: {exc}"
                calls.append(json.dumps({"error": {"code": "INVALID_ARGUMENT", "message": message}}).encode())
        futures = [None if isinstance(call, bytes) else self.pool.submit(self.host.handle_raw, *call) for call in calls]
        responses = []
        for call, future in zip(calls, futures, strict=True):
            if future is None:
                header, stems = call, _EMPTY
            else:
                header, stems = future.result()  # handle_raw never raises
            try:
                outputs = [_tensor("RESULT", np.frombuffer(header, dtype=np.uint8)), _tensor("STEMS", stems)]
                responses.append(pb_utils.InferenceResponse(output_tensors=outputs))
            except Exception as exc:  # this request fails alone, as an error response
                error = pb_utils.TritonError(f"the separator could not build its response: {exc}")
                responses.append(pb_utils.InferenceResponse(output_tensors=[], error=error))
        return responses

    def finalize(self) -> None:
        self.pool.shutdown(wait=True)
        self.host.close()
