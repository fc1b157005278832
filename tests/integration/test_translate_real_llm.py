"""Wire-level test against a REAL OpenAI-compatible server: llama.cpp (xllamacpp) + the packaged SmolLM2-135M.

The 135M model's translations are not the point (it mostly echoes English); what is checked is the whole path
gRPC -> service -> OpenAI client -> llama.cpp's /v1/chat/completions (JSON mode) -> parsed, verified answer:
one non-empty string per input text, engine and model reported, ListEngines sees the endpoint as loaded.
Greedy decoding (temperature 0) makes the answer deterministic; on this model it follows the JSON cue protocol.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import pytest

from ting.translation.v1 import translation_service_pb2 as pb
from ting.translation.v1 import translation_service_pb2_grpc as pb_grpc
from ting_translate.config import TranslateSettings
from ting_translate.server import create_server

from .llm_real_server import LlamaUnavailable, start_llama_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def llama() -> Iterator[str]:
    try:
        server, base_url = start_llama_server(n_ctx=2048)
    except LlamaUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the real LLM server is required in CI: {exc}")
        pytest.skip(str(exc))
    holder: list[Any] = [server]
    yield base_url
    holder.clear()  # dropping the object stops llama.cpp's server


@pytest.fixture(scope="module")
async def address(llama: str) -> AsyncIterator[str]:
    settings = TranslateSettings(
        host="127.0.0.1",
        port=0,
        shutdown_delay_s=0.0,
        llm_base_url=llama,
        llm_model="SmolLM2-135M-Instruct",
        llm_context_tokens=2048,
        llm_max_output_tokens=128,
        llm_timeout_s=120.0,
        chunk_retries=1,
    )
    app, port = create_server(settings)
    await app.start()
    yield f"127.0.0.1:{port}"
    await app.drain(0)


async def test_translate_text_through_llama_cpp(address: str) -> None:
    async with grpc.aio.insecure_channel(address) as ch:
        stub = pb_grpc.TranslationServiceStub(ch)
        engines = await stub.ListEngines(pb.ListEnginesRequest())
        reply = await stub.TranslateText(
            pb.TranslateTextRequest(
                texts=["Good evening, everyone."],
                config=pb.TranslationConfig(source_language_code="en", target_language_codes=["es"]),
            ),
            timeout=180,
        )
    assert engines.engines[0].loaded and engines.engines[0].model == "SmolLM2-135M-Instruct"
    (target,) = reply.translations
    assert target.target_language_code == "es"
    assert len(target.translations) == 1 and target.translations[0].text.strip()
    assert reply.engine == "llm" and reply.model == "SmolLM2-135M-Instruct" and reply.processing_ms > 0
