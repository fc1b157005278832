"""The summarization server's ``llm`` engine on loopback, with the fault-injecting OpenAI-compatible server as its LLM.

The fault server answers with a scripted JSON summary built from the request (the segment ids in the transcript
lines, the fields the schema in the system prompt requires); merge requests get every chapter of the partial
summaries back, in reverse, so the engine's own ordering is what the tests see.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import pytest

from ting.audio.v1 import audio_pb2
from ting.summarization.v1 import summarization_service_pb2 as pb
from ting.summarization.v1 import summarization_service_pb2_grpc as pb_grpc
from ting_common.errors import FailedPreconditionError
from ting_common.transcript import Segment
from ting_summarize.config import SummarizeSettings
from ting_summarize.engines import CallControl, Part, StopRequested, SummaryOptions
from ting_summarize.engines.extractive import ExtractiveEngine
from ting_summarize.server import create_llm_engine, create_server

from .llm_fault_server import Fault, FaultServer, Seen

pytestmark = pytest.mark.integration

LINE = re.compile(r"^\[(\d+) @ [\d:]+\] ", re.MULTILINE)
PART = re.compile(r"^Part \d+ \([^)]*\): (\{.*\})$", re.MULTILINE)
ALL_PARTS = [p for p in pb.SummaryPart.values() if p != pb.SUMMARY_PART_UNSPECIFIED]


def required_fields(body: dict[str, Any]) -> list[str]:
    """The ``required`` list of the JSON schema in the system prompt."""
    system = body["messages"][0]["content"]
    schema = json.loads(system.split("JSON schema:\n", 1)[1].split("\n", 1)[0])
    required = schema["required"]
    assert isinstance(required, list)
    return [str(f) for f in required]


def chunk_summary(ids: list[int]) -> dict[str, Any]:
    """A valid answer for transcript lines with ``ids``: two chapters, one of everything else."""
    middle = ids[len(ids) // 2]
    return {
        "overview": f"Segments {ids[0]} to {ids[-1]}.",
        "key_points": [{"text": f"Point of {ids[0]}", "segment_ids": ids[:2]}],
        "chapters": [
            {"title": f"Opening {ids[0]}", "start_segment_id": ids[0], "summary": "First half."},
            {"title": f"Topic {middle}", "start_segment_id": middle, "summary": "Second half."},
        ],
        "action_items": [{"text": "Send the report", "owner": "S2", "due": "Friday", "segment_ids": [ids[-1]]}],
        "keywords": ["budget", "report"],
        "questions_answers": [{"question": "Is it approved?", "answer": "Yes.", "segment_ids": ids[1:3]}],
        "speaker_summaries": [{"speaker": "S1", "summary": "Runs the meeting."}],
    }


def summary_responder(body: dict[str, Any]) -> str:
    """Scripted summaries: per transcript chunk, and merges that keep every partial's chapters."""
    user = body["messages"][1]["content"]  # the transcript or the partials (a retry appends a correction)
    ids = [int(i) for i in LINE.findall(user)]
    if ids:
        answer = chunk_summary(ids)
    else:
        partials = [json.loads(p) for p in PART.findall(user)]
        answer = {
            "overview": "Merged: " + " ".join(p["overview"] for p in partials),
            "chapters": [c for p in reversed(partials) for c in reversed(p.get("chapters", []))],
            "keywords": ["budget"],
        }
    return json.dumps({f: answer.get(f, []) for f in required_fields(body)})


def segments(count: int, words: int = 8, first_id: int = 100) -> list[audio_pb2.Segment]:
    return [
        audio_pb2.Segment(
            id=first_id + k,
            start_ms=k * 5000,
            end_ms=k * 5000 + 4500,
            text=" ".join(["We discussed the quarterly budget and the report."] * max(1, words // 8)),
            speaker="S1" if k % 3 else "S2",
        )
        for k in range(count)
    ]


def settings(fault: FaultServer, **overrides: object) -> SummarizeSettings:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": 0,
        "grace_period_s": 1.0,
        "shutdown_delay_s": 0.0,
        "concurrency": 2,
        "llm_base_url": fault.base_url,
        "llm_model": "fault-echo",
        "llm_timeout_s": 2.0,
        "retry_initial_backoff_s": 0.05,
        "retry_max_backoff_s": 0.2,
        "retry_max_total_s": 10.0,
    }
    values.update(overrides)
    return SummarizeSettings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
async def fault() -> AsyncIterator[FaultServer]:
    server = FaultServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(autouse=True)
def _reset(fault: FaultServer) -> Iterator[None]:
    fault.reset()
    fault.responder = summary_responder
    yield
    fault.reset()


@pytest.fixture(scope="module")
async def address(fault: FaultServer) -> AsyncIterator[str]:
    """Extractive by default, ``llm`` beside it (built from the settings)."""
    app, port = create_server(settings(fault), ExtractiveEngine())
    await app.start()
    yield f"127.0.0.1:{port}"
    await app.drain(0)


@pytest.fixture(scope="module")
async def small_context_address(fault: FaultServer) -> AsyncIterator[str]:
    """``llm`` as the default engine on a 1536-token context: a few dozen segments need map-reduce."""
    config = settings(fault, default_engine="llm", llm_context_tokens=1536, llm_max_output_tokens=256)
    app, port = create_server(config, create_llm_engine(config))
    await app.start()
    yield f"127.0.0.1:{port}"
    await app.drain(0)


async def summarize(address: str, request: pb.SummarizeRequest) -> pb.SummarizeResponse:
    async with grpc.aio.insecure_channel(address) as channel:
        return await pb_grpc.SummarizationServiceStub(channel).Summarize(request, timeout=30)


async def expect(address: str, request: pb.SummarizeRequest, code: grpc.StatusCode) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await summarize(address, request)
    assert info.value.code() == code, info.value.details()
    details = info.value.details() or ""
    assert details and "Traceback" not in details
    return details


def llm_request(segs: list[audio_pb2.Segment] | None = None, engine: str = "llm", **config: Any) -> pb.SummarizeRequest:
    config.setdefault("parts", ALL_PARTS)
    return pb.SummarizeRequest(
        config=pb.SummaryConfig(engine=engine, **config), segments=segs or segments(6), language_code="en"
    )


def chat_requests(fault: FaultServer) -> list[Seen]:
    return [r for r in fault.requests if r.path.endswith("/chat/completions")]


async def test_json_summary_maps_to_the_proto(address: str, fault: FaultServer) -> None:
    request = llm_request(
        speaker_names={"S2": "Tom"}, reference_date="2025-03-12", output_language_code="fr", title="Weekly sync"
    )
    reply = await summarize(address, request)
    summary = reply.summary
    (seen,) = chat_requests(fault)
    assert seen.body["model"] == "fault-echo"
    response_format = seen.body["response_format"]  # the answer schema itself, strict (OpenAI, llama.cpp)
    assert response_format["type"] == "json_schema" and response_format["json_schema"]["strict"] is True
    schema = response_format["json_schema"]["schema"]
    assert schema["required"] == required_fields(seen.body) and schema["additionalProperties"] is False
    point = schema["properties"]["key_points"]["items"]
    assert point["required"] == ["text", "segment_ids"] and point["additionalProperties"] is False
    system = seen.body["messages"][0]["content"]
    assert '"required":["overview","key_points","chapters"' in system and "French (fr)" in system
    assert "Weekly sync" in system and "[101 @ 00:05] S1: We discussed" in seen.body["messages"][1]["content"]

    assert (reply.engine, reply.model, reply.chunk_count) == ("llm", "fault-echo", 1)
    assert (reply.input_token_count, reply.output_token_count) == (10, 10)  # the fault server's usage
    assert summary.language_code == "fr" and summary.overview == "Segments 100 to 105."
    # Chapters start at segment 100 and 103; times come from those segments, and they cover the transcript.
    assert [(c.title, c.start_segment_id, c.end_segment_id) for c in summary.chapters] == [
        ("Opening 100", 100, 102),
        ("Topic 103", 103, 105),
    ]
    assert [(c.start_ms, c.end_ms) for c in summary.chapters] == [(0, 15000), (15000, 29500)]
    (point,) = summary.key_points
    assert (list(point.segment_ids), point.start_ms, point.end_ms) == ([100, 101], 0, 9500)
    (item,) = summary.action_items
    assert (item.owner, item.due, item.due_date, item.start_ms) == ("Tom", "Friday", "2025-03-14", 25000)
    assert [k.text for k in summary.keywords] == ["budget", "report"] and summary.keywords[0].occurrence_count == 6
    (qa,) = summary.questions_answers
    assert (qa.answer, qa.start_ms, qa.question_speaker) == ("Yes.", 5000, "S1")
    assert [(s.speaker, s.name, s.turn_count) for s in summary.speaker_summaries] == [("S2", "Tom", 2), ("S1", "", 2)]
    assert summary.speaker_summaries[1].summary == "Runs the meeting."


async def test_parts_are_honoured(address: str, fault: FaultServer) -> None:
    reply = await summarize(address, llm_request(parts=[pb.SUMMARY_PART_KEYWORDS], max_keywords=1))
    assert list(reply.summary.parts) == [pb.SUMMARY_PART_KEYWORDS]
    assert [k.text for k in reply.summary.keywords] == ["budget"]
    assert not reply.summary.overview and not reply.summary.chapters and not reply.summary.action_items
    assert required_fields(chat_requests(fault)[0].body) == ["keywords"]


async def test_429_with_retry_after_then_success(address: str, fault: FaultServer) -> None:
    fault.script.append(Fault(status=429, headers={"Retry-After": "1"}))
    reply = await summarize(address, llm_request())
    first, second = chat_requests(fault)
    assert 0.9 <= second.at - first.at < 3.0
    assert reply.summary.overview == "Segments 100 to 105."


async def test_500_then_success(address: str, fault: FaultServer) -> None:
    fault.script.append(Fault(status=500))
    reply = await summarize(address, llm_request())
    assert len(chat_requests(fault)) == 2 and reply.summary.chapters


async def test_malformed_json_is_asked_again(address: str, fault: FaultServer) -> None:
    fault.script.append(Fault(content="Sure! Here is the summary you asked for."))
    reply = await summarize(address, llm_request())
    first, second = chat_requests(fault)
    assert reply.summary.overview == "Segments 100 to 105."
    assert "previous answer was rejected" in second.body["messages"][-1]["content"]
    assert "previous answer was rejected" not in json.dumps(first.body["messages"])
    assert [r.body["response_format"]["type"] for r in (first, second)] == ["json_schema", "json_schema"]


async def test_schema_violations_twice_are_unavailable(address: str, fault: FaultServer) -> None:
    fault.script.extend([Fault(content='{"overview": 42}'), Fault(content='{"overview": "Fine."}')])
    details = await expect(address, llm_request(), grpc.StatusCode.UNAVAILABLE)
    assert "no usable summary in 2 request(s)" in details and "does not follow the schema" in details
    assert "key_points" in details  # the second answer lacked the required parts
    assert len(chat_requests(fault)) == 2


async def test_400_is_failed_precondition_without_retry(address: str, fault: FaultServer) -> None:
    await summarize(address, llm_request(parts=[pb.SUMMARY_PART_KEYWORDS]))  # the endpoint takes json_schema
    fault.requests.clear()
    fault.script.append(Fault(status=400, body={"error": {"message": "context length exceeded"}}))
    details = await expect(address, llm_request(), grpc.StatusCode.FAILED_PRECONDITION)
    assert "rejected the request (HTTP 400)" in details and "context length exceeded" in details
    assert len(chat_requests(fault)) == 1


async def test_401_names_the_key_setting(address: str, fault: FaultServer) -> None:
    fault.script.append(Fault(status=401))
    details = await expect(address, llm_request(), grpc.StatusCode.FAILED_PRECONDITION)
    assert "TING_SUMMARIZE_LLM_API_KEY" in details


async def test_long_transcript_is_map_reduced_and_chapters_merge_in_order(
    small_context_address: str, fault: FaultServer
) -> None:
    segs = segments(40, words=16)
    parts = [pb.SUMMARY_PART_OVERVIEW, pb.SUMMARY_PART_CHAPTERS, pb.SUMMARY_PART_KEYWORDS]
    reply = await summarize(small_context_address, llm_request(segs, engine="", parts=parts))
    requests = chat_requests(fault)
    maps = [r for r in requests if r.body["messages"][1]["content"].startswith("Transcript part ")]
    merges = [r for r in requests if r.body["messages"][1]["content"].startswith("Partial summaries in time order:")]
    assert reply.engine == "llm" and reply.chunk_count == len(maps) > 1
    assert len(maps) + len(merges) == len(requests) and requests[-1] is merges[-1]
    # Every segment went to exactly one map request, whole and in order.
    mapped = [int(i) for r in maps for i in LINE.findall(r.body["messages"][1]["content"])]
    assert sorted(mapped) == [s.id for s in segs] and len(mapped) == len(segs)
    assert "overview" in required_fields(maps[0].body)
    # The partials do not fit one merge on this context: neighbours are merged first, then the whole.
    assert len(merges) > 1
    assert all("one summary of those parts" in m.body["messages"][0]["content"] for m in merges[:-1])
    assert "one summary of the whole recording" in merges[-1].body["messages"][0]["content"]
    # The merge returned the chapters reversed; the result is in time order, consecutive and complete.
    chapters = list(reply.summary.chapters)
    assert len(chapters) == 2 * len(maps)
    assert [c.start_segment_id for c in chapters] == sorted(c.start_segment_id for c in chapters)
    assert chapters[0].start_segment_id == 100 and chapters[-1].end_segment_id == 139
    for a, b in itertools.pairwise(chapters):
        assert a.end_segment_id + 1 == b.start_segment_id and a.end_ms == b.start_ms
    # The overview went through the merge tree in time order: every map's range, contiguous, once.
    ranges = [(int(a), int(b)) for a, b in re.findall(r"Segments (\d+) to (\d+)\.", reply.summary.overview)]
    assert len(ranges) == len(maps) and ranges[0][0] == 100 and ranges[-1][1] == 139
    assert all(b + 1 == c for (_, b), (c, _) in itertools.pairwise(ranges))
    assert reply.summary.overview.startswith("Merged: Merged: ")
    assert reply.input_token_count == 10 * len(requests)


async def test_list_engines_and_selection(address: str, small_context_address: str) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        reply = await pb_grpc.SummarizationServiceStub(channel).ListEngines(pb.ListEnginesRequest(), timeout=10)
    assert [(e.name, e.default, e.loaded) for e in reply.engines] == [("extractive", True, True), ("llm", False, True)]
    llm = reply.engines[1]
    assert (llm.device, llm.model, llm.max_input_tokens) == ("remote", "fault-echo", 8192)
    assert list(llm.language_codes) == [] and pb.SUMMARY_PART_SPEAKER_SUMMARIES in llm.supported_parts
    default = await summarize(address, llm_request(engine="", output_language_code=""))
    assert default.engine == "extractive"
    async with grpc.aio.insecure_channel(small_context_address) as channel:
        reply = await pb_grpc.SummarizationServiceStub(channel).ListEngines(pb.ListEnginesRequest(), timeout=10)
    assert [(e.name, e.default) for e in reply.engines] == [("llm", True)]


async def test_unreachable_endpoint_is_unavailable_and_not_loaded(fault: FaultServer) -> None:
    from ting_common.probe import free_port

    config = settings(
        fault, default_engine="llm", llm_base_url=f"http://127.0.0.1:{free_port()}/v1", retry_max_attempts=2
    )
    app, port = create_server(config, create_llm_engine(config))
    await app.start()
    try:
        address = f"127.0.0.1:{port}"
        details = await expect(address, llm_request(), grpc.StatusCode.UNAVAILABLE)
        assert "cannot reach the LLM endpoint" in details and "2 attempt(s)" in details
        async with grpc.aio.insecure_channel(address) as channel:
            reply = await pb_grpc.SummarizationServiceStub(channel).ListEngines(pb.ListEnginesRequest(), timeout=10)
        assert [(e.name, e.loaded) for e in reply.engines if e.name == "llm"] == [("llm", False)]
    finally:
        await app.drain(0)


async def test_stop_flag_cancels_the_request(fault: FaultServer) -> None:
    engine = create_llm_engine(settings(fault, llm_timeout_s=10.0))
    fault.script.append(Fault(delay_s=6.0))
    control = CallControl()
    domain = tuple(
        Segment(id=s.id, start=s.start_ms / 1000, end=s.end_ms / 1000, text=s.text, speaker=s.speaker)
        for s in segments(3)
    )
    threading.Timer(0.3, control.stop.set).start()
    started = time.monotonic()
    with pytest.raises(StopRequested):
        await asyncio.to_thread(engine.summarize, domain, SummaryOptions(parts=(Part.OVERVIEW,)), control)
    assert time.monotonic() - started < 4.0  # well before the 6 s answer: the stop flag ended the wait


def domain(segs: list[audio_pb2.Segment]) -> tuple[Segment, ...]:
    return tuple(
        Segment(id=s.id, start=s.start_ms / 1000, end=s.end_ms / 1000, text=s.text, speaker=s.speaker) for s in segs
    )


async def test_endpoint_without_json_schema_falls_back_to_json_mode_once(fault: FaultServer) -> None:
    engine = create_llm_engine(settings(fault))
    fault.reject_json_schema = True
    options = SummaryOptions(parts=(Part.OVERVIEW, Part.KEYWORDS))
    first = await asyncio.to_thread(engine.summarize, domain(segments(6)), options, CallControl())
    assert first.overview == "Segments 100 to 105." and [k.text for k in first.keywords] == ["budget", "report"]
    # The json_schema request got the 400; the same request went again in JSON mode, schema still in the prompt.
    assert [f["type"] if f else None for f in fault.response_formats] == ["json_schema", "json_object"]
    rejected, accepted = chat_requests(fault)
    assert rejected.body["messages"] == accepted.body["messages"]
    # Remembered: the next summary (a new client of the same engine) asks in JSON mode straight away, and a bad
    # answer is still validated and asked again (bounded), in JSON mode.
    fault.requests.clear()
    fault.response_formats.clear()
    fault.script.append(Fault(content='{"overview": 42}'))
    second = await asyncio.to_thread(engine.summarize, domain(segments(6)), options, CallControl())
    assert second.overview == "Segments 100 to 105."
    assert [f["type"] if f else None for f in fault.response_formats] == ["json_object", "json_object"]
    assert "previous answer was rejected" in chat_requests(fault)[1].body["messages"][-1]["content"]


async def test_a_400_that_json_mode_also_gets_is_the_requests_error(fault: FaultServer) -> None:
    engine = create_llm_engine(settings(fault))
    too_long = Fault(status=400, body={"error": {"message": "context length exceeded"}})
    fault.script.extend([too_long, too_long])
    options = SummaryOptions(parts=(Part.OVERVIEW,))
    with pytest.raises(FailedPreconditionError, match="context length exceeded"):
        await asyncio.to_thread(engine.summarize, domain(segments(3)), options, CallControl())
    assert [f["type"] if f else None for f in fault.response_formats] == ["json_schema", "json_object"]
    # Not taken for "no json_schema": the next summary asks with the schema again.
    fault.response_formats.clear()
    await asyncio.to_thread(engine.summarize, domain(segments(3)), options, CallControl())
    assert [f["type"] if f else None for f in fault.response_formats] == ["json_schema"]


async def test_concurrent_map_requests_probe_json_schema_once(fault: FaultServer) -> None:
    config = settings(fault, llm_context_tokens=1536, llm_max_output_tokens=256)
    engine = create_llm_engine(config)
    fault.reject_json_schema = True
    options = SummaryOptions(parts=(Part.OVERVIEW, Part.CHAPTERS))
    summary = await asyncio.to_thread(engine.summarize, domain(segments(40, words=16)), options, CallControl())
    assert summary.chunk_count > 1 and summary.chapters
    kinds = [f["type"] if f else None for f in fault.response_formats]
    assert kinds.count("json_schema") == 1 and kinds[0] == "json_schema"
    assert kinds[1:] == ["json_object"] * (len(kinds) - 1)


async def test_json_mode_off_sends_no_response_format(fault: FaultServer) -> None:
    engine = create_llm_engine(settings(fault, llm_json_mode=False))
    summary = await asyncio.to_thread(
        engine.summarize, domain(segments(3)), SummaryOptions(parts=(Part.OVERVIEW,)), CallControl()
    )
    assert summary.overview == "Segments 100 to 102." and fault.response_formats == [None]
