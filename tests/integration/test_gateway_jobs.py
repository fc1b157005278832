"""Gateway jobs over real services: create → watch → get, list, cancel, idempotency, restarts, S3 storage."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.conftest import SAMPLES
from tests.integration.gateway_stack import Services, fetch, gateway_settings, running_gateway, wait_final
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
    async with running_gateway(gateway_settings(services, tmp_path_factory.mktemp("gw"))) as app:
        yield app


@pytest.fixture(scope="module")
async def stub(gateway: Any) -> AsyncIterator[pb_grpc.PipelineServiceStub]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as channel:
        yield pb_grpc.PipelineServiceStub(channel)


def job_request(**kwargs: Any) -> pb.CreateJobRequest:
    config = pb.PipelineConfig(
        translation=tr_pb.TranslationConfig(target_language_codes=["en", "de"]),
        summary=sum_pb.SummaryConfig(),
        output=pb.OutputOptions(formats=[F.TRANSCRIPT_FORMAT_SRT, F.TRANSCRIPT_FORMAT_JSON]),
    )
    return pb.CreateJobRequest(config=config, audio=audio_pb2.AudioSource(content=SPANISH), **kwargs)


async def watch(stub: pb_grpc.PipelineServiceStub, job_id: str, timeout: float = 240) -> list[pb.JobEvent]:
    events: list[pb.JobEvent] = []
    async for response in stub.WatchJob(pb.WatchJobRequest(job_id=job_id), timeout=timeout):
        events.append(response.event)
    return events


async def test_job_runs_to_completion_with_progress_events_and_stored_artifacts(
    stub: pb_grpc.PipelineServiceStub,
) -> None:
    created = (await stub.CreateJob(job_request(display_name="weather", labels={"team": "news"}))).job
    assert created.state == pb.JOB_STATE_QUEUED and created.id and created.input_uri.startswith("file://")
    assert [s.stage for s in created.steps][:2] == [pb.PIPELINE_STAGE_FETCHING, pb.PIPELINE_STAGE_DECODING]
    events = await watch(stub, created.id)
    assert events[-1].state == pb.JOB_STATE_SUCCEEDED and events[-1].HasField("job")
    progress = [e.progress for e in events]
    assert progress == sorted(progress) and progress[-1] == 1.0
    stages = {e.stage for e in events}
    assert pb.PIPELINE_STAGE_TRANSCRIBING in stages
    job = events[-1].job
    assert job.result.transcript.language_code == "es"
    assert [t.language_code for t in job.result.translations] == ["en", "de"]
    assert job.result.summary.overview or job.result.summary.key_points
    assert job.audio_duration_ms > 5000 and job.HasField("finish_time") and job.HasField("expire_time")
    names = {a.filename for a in job.result.artifacts}
    assert {"transcript.srt", "translation.de.srt", "summary.json"} <= names
    srt = next(a for a in job.result.artifacts if a.filename == "transcript.srt")
    assert srt.uri.startswith("file://") and srt.url.startswith("http://127.0.0.1:")
    text = await asyncio.to_thread(Path(srt.uri.removeprefix("file://")).read_text)
    assert text.count("-->") >= 1

    got = (await stub.GetJob(pb.GetJobRequest(job_id=created.id, view=pb.JOB_VIEW_BASIC))).job
    assert got.state == pb.JOB_STATE_SUCCEEDED and not got.HasField("result") and not got.HasField("config")
    # Watching a finished job gives its one final event.
    again = await watch(stub, created.id)
    assert len(again) == 1 and again[0].job.id == created.id


async def test_signed_download_link(stub: pb_grpc.PipelineServiceStub, gateway: Any) -> None:
    job = await wait_final(stub, (await stub.CreateJob(job_request())).job.id)
    srt = next(a for a in job.result.artifacts if a.filename == "transcript.srt")

    status, body = await asyncio.to_thread(fetch, srt.url)
    assert status == 200 and b"-->" in body
    tampered = srt.url.replace("sig=", "sig=x")
    assert (await asyncio.to_thread(fetch, tampered))[0] == 403


async def test_idempotent_create(stub: pb_grpc.PipelineServiceStub) -> None:
    first, second = await asyncio.gather(
        stub.CreateJob(job_request(request_id="same-key-1")), stub.CreateJob(job_request(request_id="same-key-1"))
    )
    assert first.job.id == second.job.id
    listed = await stub.ListJobs(pb.ListJobsRequest(page_size=1000))
    assert sum(1 for j in listed.jobs if j.request_id == "same-key-1") == 1


async def test_list_filters_and_pages(stub: pb_grpc.PipelineServiceStub) -> None:
    ids = [(await stub.CreateJob(job_request(labels={"batch": "b7", "n": f"x{i}"}))).job.id for i in range(3)]
    page1 = await stub.ListJobs(pb.ListJobsRequest(page_size=2, filter=pb.JobFilter(labels={"batch": "b7"})))
    assert page1.total_size == 3 and len(page1.jobs) == 2 and page1.next_page_token
    page2 = await stub.ListJobs(
        pb.ListJobsRequest(page_size=2, page_token=page1.next_page_token, filter=pb.JobFilter(labels={"batch": "b7"}))
    )
    got = [j.id for j in page1.jobs] + [j.id for j in page2.jobs]
    assert sorted(got) == sorted(ids) and not page2.next_page_token
    assert got == list(reversed(ids))  # newest first
    assert all(not j.HasField("config") for j in page1.jobs)  # BASIC view
    for job_id in ids:
        await wait_final(stub, job_id)
    done = await stub.ListJobs(
        pb.ListJobsRequest(filter=pb.JobFilter(labels={"batch": "b7"}, states=[pb.JOB_STATE_SUCCEEDED]))
    )
    assert done.total_size == 3


async def test_cancel_a_running_job(stub: pb_grpc.PipelineServiceStub) -> None:
    request = job_request()
    request.config.separation.CopyFrom(sep_pb.SeparationConfig())
    request.config.recognize_vocals = True
    created = (await stub.CreateJob(request)).job
    for _ in range(300):
        job = (await stub.GetJob(pb.GetJobRequest(job_id=created.id))).job
        if job.state == pb.JOB_STATE_RUNNING:
            break
        await asyncio.sleep(0.05)
    cancelled = (await stub.CancelJob(pb.CancelJobRequest(job_id=created.id))).job
    assert cancelled.state in {pb.JOB_STATE_CANCELLING, pb.JOB_STATE_CANCELLED}
    final = await wait_final(stub, created.id, timeout=60)
    assert final.state == pb.JOB_STATE_CANCELLED
    assert any(s.state == pb.STEP_STATE_CANCELLED for s in final.steps)
    # Cancelling a finished job changes nothing.
    assert (await stub.CancelJob(pb.CancelJobRequest(job_id=created.id))).job.state == pb.JOB_STATE_CANCELLED


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (pb.CreateJobRequest(audio=audio_pb2.AudioSource(content=b"")), grpc.StatusCode.INVALID_ARGUMENT),
        (pb.CreateJobRequest(), grpc.StatusCode.INVALID_ARGUMENT),
        (
            pb.CreateJobRequest(audio=audio_pb2.AudioSource(content=SPANISH), labels={"Bad Key": "v"}),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (pb.CreateJobRequest(audio=audio_pb2.AudioSource(uri="file:///etc/passwd")), grpc.StatusCode.PERMISSION_DENIED),
        (
            pb.CreateJobRequest(
                audio=audio_pb2.AudioSource(content=SPANISH),
                config=pb.PipelineConfig(translation=tr_pb.TranslationConfig(target_language_codes=["xx_yy"])),
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
    ],
)
async def test_bad_job_requests(
    stub: pb_grpc.PipelineServiceStub, request_: pb.CreateJobRequest, code: grpc.StatusCode
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CreateJob(request_)
    assert caught.value.code() == code


async def test_unknown_job(stub: pb_grpc.PipelineServiceStub) -> None:
    for call in (
        stub.GetJob(pb.GetJobRequest(job_id="nope")),
        stub.CancelJob(pb.CancelJobRequest(job_id="nope")),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await watch(stub, "nope")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_failed_primary_step_fails_the_job(stub: pb_grpc.PipelineServiceStub) -> None:
    created = (
        await stub.CreateJob(pb.CreateJobRequest(audio=audio_pb2.AudioSource(content=b"not audio at all" * 64)))
    ).job
    job = await wait_final(stub, created.id)
    assert job.state == pb.JOB_STATE_FAILED and job.error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert job.error.message and "Traceback" not in job.error.message


async def test_jobs_queued_before_a_restart_are_not_lost(services: Services, tmp_path: Path) -> None:
    """A gateway stops with jobs queued; a new one on the same store runs every one of them, once."""
    api_only = gateway_settings(services, tmp_path, workers=0)
    async with running_gateway(api_only) as app, grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        stub = pb_grpc.PipelineServiceStub(channel)
        ids = [(await stub.CreateJob(job_request())).job.id for _ in range(3)]
    async with (
        running_gateway(gateway_settings(services, tmp_path, workers=2)) as app,
        grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel,
    ):
        stub = pb_grpc.PipelineServiceStub(channel)
        jobs = [await wait_final(stub, job_id) for job_id in ids]
        assert [j.state for j in jobs] == [pb.JOB_STATE_SUCCEEDED] * 3
        listed = await stub.ListJobs(pb.ListJobsRequest())
        assert listed.total_size == 3


async def test_a_gateway_stopped_mid_job_requeues_it_and_the_next_one_finishes_it(
    services: Services, tmp_path: Path
) -> None:
    settings = gateway_settings(services, tmp_path, workers=1)
    async with running_gateway(settings) as app, grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        stub = pb_grpc.PipelineServiceStub(channel)
        job_id = (await stub.CreateJob(job_request())).job.id
        for _ in range(400):
            job = (await stub.GetJob(pb.GetJobRequest(job_id=job_id))).job
            if job.state == pb.JOB_STATE_RUNNING:
                break
            await asyncio.sleep(0.05)
        assert job.state == pb.JOB_STATE_RUNNING
    async with (
        running_gateway(gateway_settings(services, tmp_path, workers=1)) as app,
        grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel,
    ):
        job = await wait_final(pb_grpc.PipelineServiceStub(channel), job_id)
    assert job.state == pb.JOB_STATE_SUCCEEDED
    assert [t.language_code for t in job.result.translations] == ["en", "de"]
