"""Helpers for the project's Triton python-backend models (``services/*/runners/triton/*/1/model.py``).

Tensors cross the python backend through DLPack, never through ``Tensor.as_numpy()`` / ``Tensor(name, ndarray)``:
the backend stub of Triton 2.51 (the ``tritonserver`` that PyPI's nvidia-pytriton ships, and NVIDIA's 24.x images)
builds those arrays with a pybind11 that predates numpy 2, and under numpy 2 they come out wrong (every element a
copy of the first: zero strides). DLPack carries shape and strides itself. For the same reason JSON travels as UTF-8
in UINT8 tensors rather than BYTES (object) tensors, which also spares the length-prefixed BYTES encoding.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np
import numpy.typing as npt


def quiet_capsule_destructor() -> None:
    """Drop one known, harmless error from the logs: numpy's DLPack capsule destructor complains (an "unraisable"
    ``ValueError: PyCapsule_GetPointer called with incorrect name``) after the stub has consumed and renamed the
    capsule. Every other unraisable error still goes to the default hook."""
    previous = sys.unraisablehook

    def hook(info: Any) -> None:
        if info.exc_type is ValueError and "PyCapsule_GetPointer" in str(info.exc_value):
            return
        previous(info)

    sys.unraisablehook = hook


def input_array(request: Any, name: str, pb_utils: Any) -> npt.NDArray[Any] | None:
    """The named input of a python-backend request as a numpy array (``None`` when the request lacks it)."""
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    if tensor is None:
        return None
    return np.from_dlpack(tensor)


def input_json_bytes(request: Any, name: str, pb_utils: Any) -> bytes:
    """A UINT8 input holding UTF-8 JSON, as bytes (empty when absent)."""
    array = input_array(request, name, pb_utils)
    return b"" if array is None else np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def output_tensor(name: str, array: npt.NDArray[Any], pb_utils: Any) -> Any:
    """A python-backend output tensor from a numpy array (through a legacy DLPack capsule)."""
    data = np.ascontiguousarray(array)
    if not data.flags.writeable:  # DLPack (the legacy capsule) cannot carry a read-only flag
        data = data.copy()
    return pb_utils.Tensor.from_dlpack(name, data.__dlpack__())


def json_output(name: str, text: str, pb_utils: Any, *, batch: bool = True) -> Any:
    """A UINT8 output tensor holding ``text`` (JSON) as UTF-8, shaped ``[1, n]`` for batching models."""
    data = np.frombuffer(text.encode(), dtype=np.uint8)
    return output_tensor(name, data.reshape(1, -1) if batch else data, pb_utils)


def json_bytes(payload: Any) -> npt.NDArray[np.uint8]:
    """``payload`` as JSON in a ``[1, n]`` uint8 array (the client side of a JSON input)."""
    return np.frombuffer(json.dumps(payload, ensure_ascii=False).encode(), dtype=np.uint8).reshape(1, -1).copy()


__all__ = [
    "input_array",
    "input_json_bytes",
    "json_bytes",
    "json_output",
    "output_tensor",
    "quiet_capsule_destructor",
]
