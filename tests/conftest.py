"""Shared fixtures: one loaded Whisper engine per test session, real gRPC servers on loopback."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from ting_common.probe import free_port

__all__ = ["ROOT", "SAMPLES", "SHARED_EVAL", "asr_settings", "free_port"]

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
SHARED_EVAL = ROOT.parent / "shared" / "eval"


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


@pytest.fixture(scope="session")
def model_cache_dir() -> Path:
    """Where packaged weights are joined; the user's cache unless TING_ASR_CACHE_DIR says otherwise."""
    from ting_asr.config import AsrSettings

    return Path(AsrSettings().cache_dir)


@pytest.fixture(scope="session")
def asr_engine(model_cache_dir: Path) -> Iterator[object]:
    """The packaged multilingual Whisper base on faster-whisper, loaded once for the whole session."""
    from ting_asr.engines.faster_whisper import FasterWhisperEngine

    engine = FasterWhisperEngine("base", cache_dir=model_cache_dir, concurrency=2, cpu_threads=0)
    yield engine
    engine.close()


def asr_settings(**overrides: object) -> object:
    from ting_asr.config import AsrSettings

    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": 0,
        "grace_period_s": 2.0,
        "shutdown_delay_s": 0.0,
        "concurrency": 2,
    }
    values.update(overrides)
    return AsrSettings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
async def asr_address(asr_engine: object) -> AsyncIterator[str]:
    """A real ASR gRPC server on a loopback port, shared by the session's integration tests."""
    from ting_asr.server import create_server

    app, port = create_server(asr_settings(), asr_engine)  # type: ignore[arg-type]
    await app.start()
    yield f"127.0.0.1:{port}"
    await app.drain(0)


@pytest.fixture(scope="module")
async def services(asr_address: str) -> AsyncIterator[object]:
    """Real summarize, separate and translate servers beside the session's ASR server, for a module of gateway
    tests (see ``tests/integration/gateway_stack.py``)."""
    from tests.integration.gateway_stack import downstream_services

    async with downstream_services(asr_address) as running:
        yield running


@pytest.fixture
def ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip GPU-marked tests on machines without a CUDA device (CTranslate2's view)."""
    from ting_asr.engines.faster_whisper import cuda_available

    if cuda_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (CTranslate2 sees none)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop the shared llama.cpp test server before pytest prints its summary (its shutdown log would
    otherwise follow the summary line)."""
    import sys

    for name, module in list(sys.modules.items()):
        if name.endswith("llm_real_server") and hasattr(module, "stop_llama_servers"):
            module.stop_llama_servers()
