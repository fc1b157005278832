"""The gateway's ``Process`` over real services on loopback: transcribe → translate ∥ summarize → render."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.conftest import SAMPLES
from tests.integration.gateway_stack import Services, gateway_settings, running_gateway
from tests.integration.llm_fault_server import echo_text
from ting.asr.v1 import asr_service_pb2 as asr_pb
from ting.audio.v1 import audio_pb2
from ting.gateway.v1 import pipeline_service_pb2 as pb
from ting.gateway.v1 import pipeline_service_pb2_grpc as pb_grpc
from ting.separation.v1 import separation_service_pb2 as sep_pb
from ting.summarization.v1 import summarization_service_pb2 as sum_pb
from ting.translation.v1 import translation_service_pb2 as tr_pb

pytestmark = pytest.mark.integration

SPANISH = (SAMPLES / "es_weather.wav").read_bytes()
F = pb.TranscriptFormat


@pytest.fixture(scope="module")
async def gateway(services: Services, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    settings = gateway_settings(services, tmp_path_factory.mktemp("gw"), max_sync_audio_s=120)
    async with running_gateway(settings) as app:
        yield app


@pytest.fixture(scope="module")
async def stub(gateway: Any) -> AsyncIterator[pb_grpc.PipelineServiceStub]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as channel:
        yield pb_grpc.PipelineServiceStub(channel)


def full_config(*targets: str) -> pb.PipelineConfig:
    return pb.PipelineConfig(
        recognition=asr_pb.RecognitionConfig(),
        translation=tr_pb.TranslationConfig(target_language_codes=list(targets)),
        summary=sum_pb.SummaryConfig(),
        output=pb.OutputOptions(formats=[F.TRANSCRIPT_FORMAT_SRT, F.TRANSCRIPT_FORMAT_TXT, F.TRANSCRIPT_FORMAT_JSON]),
    )


async def test_process_spanish_translates_to_english_by_speech_and_german_by_text(
    stub: pb_grpc.PipelineServiceStub,
) -> None:
    request = pb.ProcessRequest(config=full_config("en", "de"), audio=audio_pb2.AudioSource(content=SPANISH))
    response = await stub.Process(request, metadata=(("x-request-id", "proc-1"),), timeout=240)
    assert response.state == pb.JOB_STATE_SUCCEEDED, [(s.stage, s.state, s.error.message) for s in response.steps]
    assert response.request_id == "proc-1"
    result = response.result
    assert result.transcript.language_code == "es"
    assert result.transcript.segments
    assert 8_000 < response.audio_duration_ms < 60_000
    en, de = result.translations
    assert en.language_code == "en" and en.method == pb.TRANSLATION_METHOD_SPEECH and en.cues
    assert de.language_code == "de" and de.method == pb.TRANSLATION_METHOD_TEXT
    # Text translation keeps the transcript's segments one to one (ids and times).
    assert [c.index for c in de.cues] == [s.id for s in result.transcript.segments if s.text.strip()]
    assert [c.start_ms for c in de.cues] == [s.start_ms for s in result.transcript.segments if s.text.strip()]
    assert de.cues[0].text == echo_text("de", result.transcript.segments[0].text.strip())
    assert result.summary.overview or result.summary.key_points
    stages = [(s.stage, s.language_code, s.state) for s in response.steps]
    assert (pb.PIPELINE_STAGE_TRANSCRIBING, "", pb.STEP_STATE_SUCCEEDED) in stages
    assert (pb.PIPELINE_STAGE_TRANSLATING, "de", pb.STEP_STATE_SUCCEEDED) in stages
    assert (pb.PIPELINE_STAGE_SUMMARIZING, "", pb.STEP_STATE_SUCCEEDED) in stages
    names = sorted(a.filename for a in result.artifacts)
    assert names == sorted(
        [
            "transcript.srt",
            "transcript.txt",
            "transcript.json",
            "translation.en.srt",
            "translation.en.txt",
            "translation.en.json",
            "translation.de.srt",
            "translation.de.txt",
            "translation.de.json",
            "summary.txt",
            "summary.json",
        ]
    )
    srt = next(a for a in result.artifacts if a.filename == "translation.de.srt")
    assert srt.content_type == "application/x-subrip" and b"-->" in srt.content and "«de»".encode() in srt.content
    transcript_json = json.loads(next(a for a in result.artifacts if a.filename == "transcript.json").content)
    assert transcript_json["languageCode"] == "es"


async def test_a_failed_translation_leaves_the_rest(stub: pb_grpc.PipelineServiceStub, services: Services) -> None:
    from tests.integration.llm_fault_server import Fault

    services.fault.script.extend([Fault(status=400, body={"error": {"message": "no such model"}})] * 4)
    request = pb.ProcessRequest(config=full_config("fr"), audio=audio_pb2.AudioSource(content=SPANISH))
    response = await stub.Process(request, timeout=240)
    services.fault.script.clear()
    assert response.state == pb.JOB_STATE_PARTIALLY_SUCCEEDED
    step = next(s for s in response.steps if s.stage == pb.PIPELINE_STAGE_TRANSLATING)
    assert step.state == pb.STEP_STATE_FAILED and step.error.code == grpc.StatusCode.FAILED_PRECONDITION.value[0]
    assert response.result.transcript.segments and (
        response.result.summary.overview or response.result.summary.key_points
    )
    assert not response.result.translations


async def test_target_equal_to_the_spoken_language_is_skipped(stub: pb_grpc.PipelineServiceStub) -> None:
    config = pb.PipelineConfig(translation=tr_pb.TranslationConfig(target_language_codes=["es"]))
    response = await stub.Process(pb.ProcessRequest(config=config, audio=audio_pb2.AudioSource(content=SPANISH)))
    step = next(s for s in response.steps if s.stage == pb.PIPELINE_STAGE_TRANSLATING)
    assert step.state == pb.STEP_STATE_SKIPPED and response.state == pb.JOB_STATE_SUCCEEDED


async def test_separation_returns_stems_inline(stub: pb_grpc.PipelineServiceStub) -> None:
    config = pb.PipelineConfig(
        skip_recognition=True,
        separation=sep_pb.SeparationConfig(stems=[sep_pb.STEM_VOCALS, sep_pb.STEM_ACCOMPANIMENT]),
    )
    response = await stub.Process(pb.ProcessRequest(config=config, audio=audio_pb2.AudioSource(content=SPANISH)))
    assert [s.stem for s in response.result.stems] == [sep_pb.STEM_VOCALS, sep_pb.STEM_ACCOMPANIMENT]
    assert all(s.content.startswith(b"RIFF") for s in response.result.stems)
    assert not response.result.HasField("transcript")


@pytest.mark.parametrize(
    ("config", "audio", "code", "words"),
    [
        (pb.PipelineConfig(), audio_pb2.AudioSource(), grpc.StatusCode.INVALID_ARGUMENT, "no audio"),
        (pb.PipelineConfig(), audio_pb2.AudioSource(content=b""), grpc.StatusCode.INVALID_ARGUMENT, "empty"),
        (
            pb.PipelineConfig(),
            audio_pb2.AudioSource(content=b"%PDF-1.4 not audio" * 50),
            grpc.StatusCode.INVALID_ARGUMENT,
            "",
        ),
        (
            pb.PipelineConfig(translation=tr_pb.TranslationConfig(target_language_codes=["english!"])),
            audio_pb2.AudioSource(content=SPANISH),
            grpc.StatusCode.INVALID_ARGUMENT,
            "not a language code",
        ),
        (
            pb.PipelineConfig(skip_recognition=True, summary=sum_pb.SummaryConfig()),
            audio_pb2.AudioSource(content=SPANISH),
            grpc.StatusCode.INVALID_ARGUMENT,
            "skip_recognition",
        ),
        (
            pb.PipelineConfig(output=pb.OutputOptions(max_line_length=5)),
            audio_pb2.AudioSource(content=SPANISH),
            grpc.StatusCode.OUT_OF_RANGE,
            "max_line_length",
        ),
        (
            pb.PipelineConfig(),
            audio_pb2.AudioSource(uri="file:///etc/passwd"),
            grpc.StatusCode.PERMISSION_DENIED,
            "",
        ),
    ],
)
async def test_bad_requests_get_clear_errors(
    stub: pb_grpc.PipelineServiceStub,
    config: pb.PipelineConfig,
    audio: audio_pb2.AudioSource,
    code: grpc.StatusCode,
    words: str,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Process(pb.ProcessRequest(config=config, audio=audio), timeout=60)
    assert caught.value.code() == code, caught.value.details()
    assert words in (caught.value.details() or "")
    assert "Traceback" not in (caught.value.details() or "")


async def test_audio_over_the_synchronous_limit_is_refused(services: Services, tmp_path: Path) -> None:
    settings = gateway_settings(services, tmp_path, max_sync_audio_s=5, workers=0)
    async with running_gateway(settings) as app, grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await pb_grpc.PipelineServiceStub(channel).Process(
                pb.ProcessRequest(config=pb.PipelineConfig(), audio=audio_pb2.AudioSource(content=SPANISH))
            )
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "create a job" in (caught.value.details() or "")


async def test_api_keys(services: Services, tmp_path: Path) -> None:
    settings = gateway_settings(services, tmp_path, api_keys="k1,k2", workers=0)
    async with running_gateway(settings) as app, grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        stub = pb_grpc.PipelineServiceStub(channel)
        for metadata in ((), (("authorization", "Bearer nope"),), (("authorization", "k1"),)):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.ListJobs(pb.ListJobsRequest(), metadata=metadata)
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        listed = await stub.ListJobs(pb.ListJobsRequest(), metadata=(("authorization", "Bearer k2"),))
        assert listed.total_size == 0
