"""Wire-level test of the ``llm`` summary engine against a REAL OpenAI-compatible server: llama.cpp (xllamacpp)
with the packaged SmolLM2-135M, shared with the translation tests (one server per test process).

The summary schema goes as ``response_format`` json_schema, which llama.cpp enforces with a grammar; a 135M model
may still repeat itself inside a string until the token limit cuts the JSON, so the call must end in one of two
ways: a summary that passed the schema (non-empty overview, keywords within the limit, tokens counted by
llama.cpp) or UNAVAILABLE saying that the model gave no usable summary. Anything else (INTERNAL, a crash, a hang)
fails. Greedy decoding (temperature 0) keeps the outcome stable from run to run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from ting.audio.v1 import audio_pb2
from ting.summarization.v1 import summarization_service_pb2 as pb
from ting.summarization.v1 import summarization_service_pb2_grpc as pb_grpc
from ting_summarize.config import SummarizeSettings
from ting_summarize.server import create_llm_engine, create_server

from .llm_real_server import llama_base_url

__all__ = ["llama_base_url"]  # the shared session fixture, imported so pytest finds it here

pytestmark = pytest.mark.integration

MODEL = "SmolLM2-135M-Instruct"
TRANSCRIPT = [
    (0, 4000, "S1", "Good morning. Today we decide on the new office and the budget for it."),
    (4000, 9000, "S2", "The office on Main Street costs less, and it is close to the station."),
    (9000, 13000, "S1", "Then we take Main Street. Anna, please sign the lease by Friday."),
    (13000, 16000, "S2", "I will sign it on Friday."),
]


@pytest.fixture(scope="module")
async def address(llama_base_url: str) -> AsyncIterator[str]:
    settings = SummarizeSettings(
        host="127.0.0.1",
        port=0,
        shutdown_delay_s=0.0,
        default_engine="llm",
        llm_base_url=llama_base_url,
        llm_model=MODEL,
        llm_context_tokens=2048,
        llm_max_output_tokens=128,
        # Grammar-constrained answers run to the token limit when the model repeats itself; on a loaded 2-core
        # machine llama.cpp does ~2 tokens/s, so one request may take a minute: no transport retries, one deadline.
        llm_timeout_s=120.0,
        retry_max_attempts=1,
        llm_answer_attempts=2,
    )
    app, port = create_server(settings, create_llm_engine(settings))
    await app.start()
    yield f"127.0.0.1:{port}"
    await app.drain(0)


async def test_summarize_through_llama_cpp(address: str) -> None:
    request = pb.SummarizeRequest(
        config=pb.SummaryConfig(
            engine="llm", parts=[pb.SUMMARY_PART_OVERVIEW, pb.SUMMARY_PART_KEYWORDS], max_keywords=5
        ),
        segments=[
            audio_pb2.Segment(id=k, start_ms=a, end_ms=b, speaker=who, text=text)
            for k, (a, b, who, text) in enumerate(TRANSCRIPT)
        ],
        language_code="en",
    )
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.SummarizationServiceStub(channel)
        engines = await stub.ListEngines(pb.ListEnginesRequest(), timeout=10)
        failure: grpc.aio.AioRpcError | None = None
        reply: pb.SummarizeResponse | None = None
        try:
            reply = await stub.Summarize(request, timeout=270)
        except grpc.aio.AioRpcError as exc:
            failure = exc
    if failure is not None:  # the small model did not follow the schema twice: a clear UNAVAILABLE, never INTERNAL
        details = failure.details() or ""
        assert failure.code() == grpc.StatusCode.UNAVAILABLE, (failure.code(), details)
        assert f"the LLM {MODEL!r}" in details and "no usable summary in 2 request(s)" in details, details
        assert "Traceback" not in details
    (engine,) = engines.engines
    assert (engine.name, engine.default, engine.loaded, engine.model) == ("llm", True, True, MODEL)
    if reply is not None:
        assert (reply.engine, reply.model, reply.chunk_count) == ("llm", MODEL, 1)
        assert reply.summary.overview.strip()
        assert len(reply.summary.keywords) <= 5 and not reply.summary.chapters
        assert list(reply.summary.parts) == [pb.SUMMARY_PART_OVERVIEW, pb.SUMMARY_PART_KEYWORDS]
        assert reply.input_token_count > 0 and reply.output_token_count > 0  # llama.cpp reports usage


async def test_json_schema_answer_parses_the_first_time(llama_base_url: str) -> None:
    """llama.cpp turns ``response_format`` json_schema into a grammar, so even a 135M model that repeats itself
    writes the schema and closes the list at ``maxItems``: the first answer validates. In plain JSON mode the same
    model, asked the same, invents its own shape ({"type": "Transcript", "text": {...}}) and is cut at 128 tokens."""
    from ting_common.llm import LLMSettings
    from ting_summarize.engines.llm import SummaryAnswer, answer_schema
    from ting_summarize.engines.structured import SchemaLLMClient, SchemaSupport, json_schema_format

    support = SchemaSupport()
    client = SchemaLLMClient(LLMSettings(base_url=llama_base_url, model=MODEL, timeout_s=180.0), None, support)
    messages = [
        {"role": "system", "content": "List up to 3 keywords of the transcript, as JSON."},
        {"role": "user", "content": "Transcript:\n" + "\n".join(text for *_, text in TRANSCRIPT)},
    ]
    response_format = json_schema_format("keywords", answer_schema(["keywords"], {"keywords": 3}))
    try:
        answer = await client.complete_schema(
            messages, SummaryAnswer, response_format, max_tokens=128, answer_attempts=1
        )
    finally:
        await client.close()
    assert support.value is True and client.fallbacks == 0  # llama.cpp took the schema
    assert answer.requests == 1 and answer.completion_tokens > 0
    assert 1 <= len(answer.value.keywords) <= 3 and "keywords" in answer.value.model_fields_set
