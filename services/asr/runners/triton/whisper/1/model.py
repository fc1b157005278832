"""Triton python-backend model: Whisper through the ASR service's own engine (see ../config.pbtxt).

Thin on purpose: the request handling lives in ``ting_asr.runner`` / ``ting_asr.engines.remote`` (tested without
Triton); this file only moves tensors (through DLPack, see ``ting_common.triton_backend``). Requests batched into one
``execute`` run in parallel on the engine's CTranslate2 workers; each request's failure is answered in its own
RESULT, so one bad request never fails its batch.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils  # provided by Triton's python backend

from ting_asr.runner import engine_from_parameters
from ting_common.triton_backend import input_array, input_json_bytes, json_output, quiet_capsule_destructor

quiet_capsule_destructor()


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        parameters = {key: value.get("string_value", "") for key, value in config.get("parameters", {}).items()}
        device = "cuda" if args.get("model_instance_kind") == "GPU" else "cpu"
        device_index = int(args.get("model_instance_device_id") or 0)
        self.handler = engine_from_parameters(parameters, device=device, device_index=device_index)
        self.pool = ThreadPoolExecutor(max(1, self.handler.engine.concurrency), thread_name_prefix="whisper")

    def execute(self, requests: list[Any]) -> list[Any]:
        work = []
        for request in requests:
            body = input_json_bytes(request, "REQUEST", pb_utils)
            audio = input_array(request, "AUDIO", pb_utils)
            samples = None if audio is None else np.array(audio, dtype=np.float32).reshape(-1)
            work.append(self.pool.submit(self.handler.handle, body, samples))
        return [
            pb_utils.InferenceResponse(output_tensors=[json_output("RESULT", future.result(), pb_utils)])
            for future in work
        ]

    def finalize(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
