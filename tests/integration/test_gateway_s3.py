"""A gateway whose storage is S3 (a real SeaweedFS on loopback): the job's input copy, artifacts and stems live in
the bucket, download URLs are presigned by S3, and the queue depth reaches /metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.conftest import SAMPLES
from tests.integration.gateway_stack import Services, fetch, gateway_settings
from ting.audio.v1 import audio_pb2
from ting.gateway.v1 import pipeline_service_pb2 as pb
from ting.gateway.v1 import pipeline_service_pb2_grpc as pb_grpc
from ting.separation.v1 import separation_service_pb2 as sep_pb
from ting_gateway.storage.s3 import S3Settings, S3Storage

from .seaweed import SeaweedS3, require_weed, seaweed_s3

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    with seaweed_s3(tmp_path_factory.mktemp("seaweed"), weed=require_weed()) as server:
        yield server


@pytest.fixture(scope="module")
def storage(seaweed: SeaweedS3) -> S3Storage:
    store = S3Storage(
        S3Settings(
            bucket="ting-gw",
            prefix="prod",
            endpoint_url=seaweed.endpoint_url,
            region=seaweed.region,
            access_key_id=seaweed.access_key_id,
            secret_access_key=seaweed.secret_access_key,
            addressing_style="path",
        )
    )
    store.ensure_bucket()
    return store


async def test_job_with_s3_storage(services: Services, storage: S3Storage, tmp_path: Path) -> None:
    from ting_gateway.server import create_gateway

    settings = gateway_settings(services, tmp_path)
    app: Any = create_gateway(settings, storage=storage)
    await app.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
            stub = pb_grpc.PipelineServiceStub(channel)
            config = pb.PipelineConfig(
                separation=sep_pb.SeparationConfig(stems=[sep_pb.STEM_VOCALS]),
                output=pb.OutputOptions(formats=[pb.TRANSCRIPT_FORMAT_SRT]),
            )
            content = (SAMPLES / "es_weather.wav").read_bytes()
            created = (
                await stub.CreateJob(pb.CreateJobRequest(config=config, audio=audio_pb2.AudioSource(content=content)))
            ).job
            assert created.input_uri.startswith("s3://ting-gw/prod/jobs/")
            assert created.output_uri_prefix == f"s3://ting-gw/prod/jobs/{created.id}/"
            for _ in range(1200):
                job = (await stub.GetJob(pb.GetJobRequest(job_id=created.id))).job
                if job.state not in (pb.JOB_STATE_QUEUED, pb.JOB_STATE_RUNNING):
                    break
                await asyncio.sleep(0.2)
            assert job.state == pb.JOB_STATE_SUCCEEDED, job.error.message
            srt = next(a for a in job.result.artifacts if a.filename == "transcript.srt")
            assert srt.uri == f"s3://ting-gw/prod/jobs/{created.id}/transcript.srt"
            assert srt.url.startswith(storage.endpoint) and "X-Amz-Signature" in srt.url
            status, body = await asyncio.to_thread(fetch, srt.url)
            assert status == 200 and b"-->" in body
            (stem,) = job.result.stems
            assert stem.uri == f"s3://ting-gw/prod/jobs/{created.id}/stems/vocals.wav"
            assert (await asyncio.to_thread(storage.stat, stem.uri)).size_bytes > 10_000
            # A URI input that is already in the bucket is read from there; one outside it is refused.
            again = (
                await stub.CreateJob(
                    pb.CreateJobRequest(config=pb.PipelineConfig(), audio=audio_pb2.AudioSource(uri=created.input_uri))
                )
            ).job
            assert again.input_uri == created.input_uri
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.CreateJob(
                    pb.CreateJobRequest(audio=audio_pb2.AudioSource(uri="s3://other-bucket/secret.wav"))
                )
            assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        status, metrics = await asyncio.to_thread(fetch, f"http://127.0.0.1:{app.http_port}/metrics")
        assert status == 200 and b"ting_gateway_jobs_queued" in metrics
    finally:
        await app.drain()
