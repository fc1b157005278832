"""The real translation gRPC server on loopback, with the fault-injecting OpenAI-compatible server as its LLM."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest

from ting.translation.v1 import translation_service_pb2 as pb
from ting.translation.v1 import translation_service_pb2_grpc as pb_grpc
from ting_translate.config import TranslateSettings
from ting_translate.server import create_server
from ting_translate.subtitles import decode_document, parse_document

from ..conftest import SHARED_EVAL
from .llm_fault_server import Fault, FaultServer, echo_text

pytestmark = pytest.mark.integration

SUBTITLES = SHARED_EVAL / "subtitles"


def eval_file(name: str) -> Path:
    path = SUBTITLES / name
    if not path.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{path} is missing (the shared eval set is required in CI)")
        pytest.skip(f"{path} is missing: the shared eval set (../shared/eval) is not on this machine")
    return path


def settings(**overrides: object) -> TranslateSettings:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": 0,
        "grace_period_s": 1.0,
        "shutdown_delay_s": 0.0,
        "llm_model": "fault-echo",
        "llm_timeout_s": 1.0,
        "retry_initial_backoff_s": 0.05,
        "retry_max_backoff_s": 0.2,
        "retry_max_total_s": 15.0,
        "max_concurrency": 2,
        "max_text_chars": 5000,
    }
    values.update(overrides)
    return TranslateSettings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
async def fault() -> AsyncIterator[FaultServer]:
    server = FaultServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(autouse=True)
def _reset(fault: FaultServer) -> Iterator[None]:
    fault.reset()
    yield
    fault.reset()


@pytest.fixture(scope="module")
async def address(fault: FaultServer) -> AsyncIterator[str]:
    app, port = create_server(settings(llm_base_url=fault.base_url))
    await app.start()
    yield f"127.0.0.1:{port}"
    await app.drain(0)


@pytest.fixture(scope="module")
async def small_context_address(fault: FaultServer) -> AsyncIterator[str]:
    app, port = create_server(settings(llm_base_url=fault.base_url, llm_context_tokens=1024))
    await app.start()
    yield f"127.0.0.1:{port}"
    await app.drain(0)


@pytest.fixture(scope="module")
async def bare_address() -> AsyncIterator[str]:
    app, port = create_server(settings())
    await app.start()
    yield f"127.0.0.1:{port}"
    await app.drain(0)


async def subtitles(address: str, request: pb.TranslateSubtitlesRequest) -> pb.TranslateSubtitlesResponse:
    async with grpc.aio.insecure_channel(address) as ch:
        return await pb_grpc.TranslationServiceStub(ch).TranslateSubtitles(request, timeout=60)


async def texts(address: str, items: list[str], targets: list[str], **config: object) -> pb.TranslateTextResponse:
    async with grpc.aio.insecure_channel(address) as ch:
        request = pb.TranslateTextRequest(
            texts=items, config=pb.TranslationConfig(target_language_codes=targets, **config)
        )
        return await pb_grpc.TranslationServiceStub(ch).TranslateText(request, timeout=60)


def doc_request(path: Path, targets: list[str], **fields: object) -> pb.TranslateSubtitlesRequest:
    return pb.TranslateSubtitlesRequest(
        document=pb.SubtitleDocument(content=path.read_bytes()),
        config=pb.TranslationConfig(source_language_code="en", target_language_codes=targets),
        **fields,
    )


def user_payload(body: dict[str, object]) -> dict[str, object]:
    messages = body["messages"]
    assert isinstance(messages, list)
    payload = json.loads(messages[-1]["content"])
    assert isinstance(payload, dict)
    return payload


# -- subtitles --------------------------------------------------------------------------------------------------
async def test_tricky_srt_keeps_indices_times_speakers_markup(address: str) -> None:
    path = eval_file("tricky_en.srt")
    source, _ = parse_document(decode_document(path.read_bytes()))
    reply = await subtitles(address, doc_request(path, ["es"]))
    (es,) = reply.translations
    assert es.target_language_code == "es"
    assert [(c.index, c.start_ms, c.end_ms) for c in es.cues] == [(c.index, c.start_ms, c.end_ms) for c in source]
    assert [c.speaker for c in es.cues] == [c.speaker for c in source]
    assert es.cues[1].speaker == "JOHN" and es.cues[5].speaker == "MARY"
    assert es.cues[3].text == "♪"  # nothing to translate: passed through, never sent
    assert es.cues[4].text == echo_text("es", source[4].text)  # markup and notes restored where they were
    assert "<i>♪ Oh" in es.cues[4].text and es.cues[4].text.endswith("♪</i>")
    assert es.cues[1].text == echo_text("es", "We can't stay here.\nThe tide comes in at midnight.")
    assert es.report.cue_count == 12 and not es.report.untranslated_cue_indices
    # The rendered document parses back to the same structure and keeps the speaker tags and the hour crossing.
    document = es.document.content.decode()
    assert es.document.format == pb.SUBTITLE_FORMAT_SRT
    assert "[JOHN] «es» " in document and "00:59:58,600 --> 01:00:02,400" in document
    again, _ = parse_document(document)
    assert [(c.index, c.start_ms, c.end_ms, c.text) for c in again] == [
        (c.index, c.start_ms, c.end_ms, c.text) for c in es.cues
    ]
    assert reply.engine == "llm" and reply.model == "fault-echo" and reply.source_language_code == "en"


async def test_vtt_to_two_targets_and_vtt_out(address: str) -> None:
    path = eval_file("talk_en.vtt")
    reply = await subtitles(address, doc_request(path, ["es", "fr"], max_cues_per_chunk=10))
    assert [t.target_language_code for t in reply.translations] == ["es", "fr"]
    for t in reply.translations:
        assert len(t.cues) == 40 and t.document.format == pb.SUBTITLE_FORMAT_VTT
        assert t.document.content.startswith(b"WEBVTT\n")
        assert all(c.text.startswith(f"«{t.target_language_code}» ") for c in t.cues)
        assert t.report.chunk_count >= 4 and t.report.split_count == 0


async def test_context_is_carried_between_chunks(address: str, fault: FaultServer) -> None:
    path = eval_file("talk_en.srt")
    source, _ = parse_document(path.read_text())
    await subtitles(address, doc_request(path, ["es"], max_cues_per_chunk=8))
    payloads = [user_payload(r.body) for r in fault.requests if r.path.endswith("/chat/completions")]
    assert len(payloads) >= 5
    first_ids = {json.dumps(p["cues"]) for p in payloads}
    assert len(first_ids) == len(payloads)
    with_context = [p for p in payloads if p.get("context")]
    assert len(with_context) == len(payloads) - 1  # every chunk but the first
    for p in with_context:
        cues = p["cues"]
        assert isinstance(cues, list)
        k = next(i for i, c in enumerate(source) if c.text == cues[0]["text"])
        assert p["context"] == [c.text for c in source[max(0, k - 2) : k]]


async def test_wrong_cue_count_is_retried_then_split_never_misaligned(address: str, fault: FaultServer) -> None:
    fault.transform = lambda cues: cues[:-1] if len(cues) > 1 else cues  # drop a cue whenever it can
    path = eval_file("talk_en.srt")
    source, _ = parse_document(path.read_text())
    reply = await subtitles(address, doc_request(path, ["es"], max_cues_per_chunk=8))
    (es,) = reply.translations
    assert [c.text for c in es.cues] == [echo_text("es", c.text) for c in source]
    assert [c.index for c in es.cues] == list(range(1, 41))
    report = es.report
    # 5 chunks of 8 cues, each split down to single cues: 7 splits per chunk.
    assert report.split_count == 35
    assert report.chunk_count == 5 + 2 * 35
    assert report.retry_count >= 5 * 1  # every multi-cue chunk was asked again once before its split
    assert not report.untranslated_cue_indices


async def test_malformed_json_is_retried(address: str, fault: FaultServer) -> None:
    fault.script.append(Fault(content="Sure! Here is your translation: ..."))
    reply = await subtitles(address, doc_request(eval_file("tricky_en.srt"), ["es"]))
    (es,) = reply.translations
    assert es.report.retry_count == 1 and es.report.split_count == 0
    assert es.cues[0].text == echo_text("es", "<i>Previously on Harbour Lights...</i>")


async def test_a_cue_that_never_comes_back_keeps_its_source_text(address: str, fault: FaultServer) -> None:
    fault.transform = lambda cues: [c for c in cues if "radio" not in c["text"]]
    reply = await subtitles(address, doc_request(eval_file("tricky_en.srt"), ["es"]))
    (es,) = reply.translations
    assert list(es.report.untranslated_cue_indices) == [6]
    assert es.cues[5].text == "John, the radio.\nListen." and es.cues[5].speaker == "MARY"
    assert es.cues[6].text.startswith("«es» <i>")
    assert len(es.cues) == 12


async def test_lost_markup_is_not_accepted(address: str, fault: FaultServer) -> None:
    # The model drops every placeholder: no cue with markup may come back without it.
    fault.transform = lambda cues: [{"i": c["i"], "text": c["text"].replace("⟦0⟧", "")} for c in cues]
    reply = await subtitles(address, doc_request(eval_file("tricky_en.srt"), ["es"]))
    (es,) = reply.translations
    for cue in es.cues:
        assert cue.text.count("<i>") == cue.text.count("</i>")
    assert 1 in es.report.untranslated_cue_indices


async def test_cues_input_and_line_wrapping(address: str) -> None:
    cues = pb.CueList(
        cues=[
            pb.Cue(index=7, start_ms=0, end_ms=1500, text="A rather long sentence that will surely need wrapping."),
            pb.Cue(index=9, start_ms=1500, end_ms=3000, text="Short.", speaker="S1"),
        ]
    )
    request = pb.TranslateSubtitlesRequest(
        cues=cues, config=pb.TranslationConfig(target_language_codes=["de"]), max_line_length=20
    )
    (de,) = (await subtitles(address, request)).translations
    assert [c.index for c in de.cues] == [7, 9] and de.cues[1].speaker == "S1"
    assert all(len(line) <= 20 for line in de.cues[0].text.split("\n")) and "\n" in de.cues[0].text
    assert de.document.content.decode().startswith("1\n00:00:00,000 --> 00:00:01,500\n")


# -- plain text and transport faults -----------------------------------------------------------------------------
async def test_text_source_equals_target_is_unchanged(address: str, fault: FaultServer) -> None:
    reply = await texts(address, ["Hello", ""], ["en", "es"], source_language_code="en")
    assert [t.text for t in reply.translations[0].translations] == ["Hello", ""]
    assert [t.text for t in reply.translations[1].translations] == [echo_text("es", "Hello"), ""]
    assert len(fault.requests) == 1


async def test_long_text_is_split_at_sentences_and_rejoined(small_context_address: str, fault: FaultServer) -> None:
    sentences = [f"This is sentence number {k} of a fairly long paragraph about city trees." for k in range(20)]
    reply = await texts(small_context_address, [" ".join(sentences)], ["es"])
    (out,) = reply.translations[0].translations
    assert out.text.count("«es» ") > 1
    assert out.text.replace("«es» ", "") == " ".join(sentences)
    assert out.detected_language_code == "en"


async def test_429_retry_after_is_honoured(address: str, fault: FaultServer) -> None:
    fault.script.append(Fault(status=429, headers={"Retry-After": "1"}))
    reply = await texts(address, ["Hello"], ["es"])
    assert reply.translations[0].translations[0].text == echo_text("es", "Hello")
    first, second = fault.requests[0].at, fault.requests[1].at
    assert 0.9 <= second - first < 3.0


async def test_500_then_success(address: str, fault: FaultServer) -> None:
    fault.script.extend([Fault(status=500), Fault(status=503)])
    reply = await texts(address, ["Hello"], ["es"])
    assert reply.translations[0].translations[0].text == echo_text("es", "Hello")
    assert len(fault.requests) == 3


async def test_timeout_then_success(address: str, fault: FaultServer) -> None:
    fault.script.append(Fault(delay_s=1.6))  # client timeout is 1 s
    reply = await texts(address, ["Hello"], ["es"])
    assert reply.translations[0].translations[0].text == echo_text("es", "Hello")
    assert len([r for r in fault.requests if r.path.endswith("/chat/completions")]) == 2


async def expect(coro: object, code: grpc.StatusCode) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await coro  # type: ignore[misc]
    assert info.value.code() == code, info.value.details()
    details = info.value.details() or ""
    assert "Traceback" not in details
    return details


async def test_400_is_not_retried(address: str, fault: FaultServer) -> None:
    fault.script.append(Fault(status=400, body={"error": {"message": "context length exceeded"}}))
    details = await expect(texts(address, ["Hello"], ["es"]), grpc.StatusCode.FAILED_PRECONDITION)
    assert "rejected the request (HTTP 400)" in details and "context length exceeded" in details
    assert len(fault.requests) == 1


async def test_401_names_the_api_key_setting(address: str, fault: FaultServer) -> None:
    fault.script.append(Fault(status=401))
    details = await expect(texts(address, ["Hello"], ["es"]), grpc.StatusCode.FAILED_PRECONDITION)
    assert "TING_TRANSLATE_LLM_API_KEY" in details and len(fault.requests) == 1


async def test_persistent_5xx_is_unavailable_after_bounded_attempts(address: str, fault: FaultServer) -> None:
    fault.script.extend(Fault(status=502) for _ in range(10))
    details = await expect(texts(address, ["Hello"], ["es"]), grpc.StatusCode.UNAVAILABLE)
    assert "HTTP 502 after 4 attempt(s)" in details
    assert len(fault.requests) == 4


async def test_concurrency_is_bounded(address: str, fault: FaultServer) -> None:
    fault.delay_s = 0.1
    await subtitles(address, doc_request(eval_file("talk_en.srt"), ["es"], max_cues_per_chunk=4))
    assert fault.max_in_flight == 2  # settings.max_concurrency, and the chunks did run in parallel


async def test_list_engines(address: str, bare_address: str) -> None:
    async with grpc.aio.insecure_channel(address) as ch:
        reply = await pb_grpc.TranslationServiceStub(ch).ListEngines(pb.ListEnginesRequest(target_language_code="zh"))
    (engine,) = reply.engines
    assert engine.name == "llm" and engine.default and engine.loaded and engine.device == "remote"
    assert "zh" in engine.target_language_codes and engine.default_cues_per_chunk == 20
    async with grpc.aio.insecure_channel(bare_address) as ch:
        bare = await pb_grpc.TranslationServiceStub(ch).ListEngines(pb.ListEnginesRequest())
    assert list(bare.engines) == []


# -- no engine, bad input ------------------------------------------------------------------------------------------
async def test_no_engine_is_failed_precondition_with_how_to(bare_address: str) -> None:
    details = await expect(texts(bare_address, ["Hello"], ["es"]), grpc.StatusCode.FAILED_PRECONDITION)
    assert "TING_TRANSLATE_LLM_BASE_URL" in details and "TING_TRANSLATE_LLM_MODEL" in details
    details = await expect(
        subtitles(bare_address, doc_request(eval_file("tricky_en.srt"), ["es"])), grpc.StatusCode.FAILED_PRECONDITION
    )
    assert "TING_TRANSLATE_LLM_BASE_URL" in details


SRT_BAD_TIME = b"1\n00:00:01,000 --> 00:00:0x,000\nHello\n"
SRT_BACKWARDS = b"1\n00:00:01,000 --> 00:00:02,000\nHi\n\n2\n00:00:05,000 --> 00:00:04,000\nHello\n"
NOT_SUBTITLES = b"Dear diary,\ntoday I wrote no subtitles.\n"


@pytest.mark.parametrize(
    ("items", "targets", "config", "code", "needle"),
    [
        ([], ["es"], {}, grpc.StatusCode.INVALID_ARGUMENT, "texts is empty"),
        (["", "  "], ["es"], {}, grpc.StatusCode.INVALID_ARGUMENT, "every text is empty"),
        (["Hello"], [], {}, grpc.StatusCode.INVALID_ARGUMENT, "target_language_codes is empty"),
        (["Hello"], ["english"], {}, grpc.StatusCode.INVALID_ARGUMENT, "not an ISO 639-1 code"),
        (["Hello"], ["qq"], {}, grpc.StatusCode.INVALID_ARGUMENT, "unknown ISO 639-1 language"),
        (["Hello"], ["es", "es"], {}, grpc.StatusCode.INVALID_ARGUMENT, "duplicate"),
        (["Hello"], ["es"], {"source_language_code": "xx-"}, grpc.StatusCode.INVALID_ARGUMENT, "source language"),
        (["Hello"], ["es"], {"engine": "nllb"}, grpc.StatusCode.NOT_FOUND, "unknown engine"),
        (["x" * 6000], ["es"], {}, grpc.StatusCode.RESOURCE_EXHAUSTED, "at most 5000"),
    ],
)
async def test_bad_text_requests(
    address: str, items: list[str], targets: list[str], config: dict[str, object], code: grpc.StatusCode, needle: str
) -> None:
    assert needle in await expect(texts(address, items, targets, **config), code)


@pytest.mark.parametrize(
    ("content", "fields", "code", "needle"),
    [
        (SRT_BAD_TIME, {}, grpc.StatusCode.INVALID_ARGUMENT, "line 2: bad cue timing"),
        (SRT_BACKWARDS, {}, grpc.StatusCode.INVALID_ARGUMENT, "line 6: the cue ends"),
        (NOT_SUBTITLES, {}, grpc.StatusCode.INVALID_ARGUMENT, "line 1:"),
        (b"WEBVTT\n\nNOTE only a note\n", {}, grpc.StatusCode.INVALID_ARGUMENT, "no cue"),
        (b"\xff\x00garbage", {}, grpc.StatusCode.INVALID_ARGUMENT, "UTF"),
        (b"", {}, grpc.StatusCode.INVALID_ARGUMENT, "empty"),
        (SRT_BACKWARDS[:40], {"max_line_length": 5}, grpc.StatusCode.OUT_OF_RANGE, "max_line_length"),
    ],
)
async def test_bad_subtitle_requests(
    address: str, content: bytes, fields: dict[str, object], code: grpc.StatusCode, needle: str
) -> None:
    request = pb.TranslateSubtitlesRequest(
        document=pb.SubtitleDocument(content=content),
        config=pb.TranslationConfig(target_language_codes=["es"]),
        **fields,
    )
    assert needle in await expect(subtitles(address, request), code)


async def test_bad_cue_times(address: str) -> None:
    request = pb.TranslateSubtitlesRequest(
        cues=pb.CueList(cues=[pb.Cue(index=1, start_ms=2000, end_ms=1000, text="Hi")]),
        config=pb.TranslationConfig(target_language_codes=["es"]),
    )
    assert "start_ms <= end_ms" in await expect(subtitles(address, request), grpc.StatusCode.INVALID_ARGUMENT)
