"""Stems written to a real S3 endpoint (SeaweedFS on loopback) through the real separation server."""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from ting.audio.v1 import audio_pb2
from ting.separation.v1 import separation_service_pb2 as pb
from ting.separation.v1 import separation_service_pb2_grpc as pb_grpc
from ting_common.audio import decode_audio_multichannel, encode_wav
from ting_separate.engines.dsp import DspEngine
from ting_separate.server import create_server

from .seaweed import SeaweedS3, require_weed, seaweed_s3
from .test_separate_service import RATE, expect_error, separate, settings
from .test_separate_storage import stereo

pytestmark = pytest.mark.integration

BUCKET = "ting-stems"
OTHER = "ting-other"  # a second bucket the server may write to


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    with seaweed_s3(tmp_path_factory.mktemp("seaweed"), weed=require_weed()) as server:
        yield server


@pytest.fixture(scope="module")
def s3(seaweed: SeaweedS3) -> Any:
    """A boto3 client of the test's own, to create the bucket and read back what the server wrote."""
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=seaweed.endpoint_url,
        aws_access_key_id=seaweed.access_key_id,
        aws_secret_access_key=seaweed.secret_access_key,
        region_name=seaweed.region,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture(scope="module")
def spool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("spool")


async def start(seaweed: SeaweedS3, spool: Path, secret: str) -> tuple[Any, str]:
    """The server, with the credentials in the standard AWS variables (read when its client is made)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", seaweed.access_key_id)
        env.setenv("AWS_SECRET_ACCESS_KEY", secret)
        env.delenv("AWS_PROFILE", raising=False)
        app, port = create_server(
            settings(
                s3_buckets=f"{BUCKET},{OTHER}",
                s3_endpoint_url=seaweed.endpoint_url,
                s3_region=seaweed.region,
                s3_addressing_style="path",
                spool_dir=spool,
            ),
            DspEngine(),
        )
    await app.start()
    return app, f"127.0.0.1:{port}"


@pytest.fixture(scope="module")
async def address(seaweed: SeaweedS3, spool: Path, s3: Any) -> AsyncIterator[str]:
    app, address = await start(seaweed, spool, seaweed.secret_access_key)
    yield address
    await app.drain(0)


def fetch(s3: Any, uri: str) -> tuple[dict[str, Any], bytes]:
    assert uri.startswith(f"s3://{BUCKET}/")
    key = uri.removeprefix(f"s3://{BUCKET}/")
    head = s3.head_object(Bucket=BUCKET, Key=key)
    return head, s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


async def test_long_audio_goes_to_s3_and_the_response_carries_uris(address: str, s3: Any, spool: Path) -> None:
    audio = stereo(20.0)  # 2 stems x 2.5 MiB at 24 bit: over the 3 MiB inline limit
    data = encode_wav(audio.T, RATE)
    details = await expect_error(address, grpc.StatusCode.RESOURCE_EXHAUSTED, data)
    assert "uri_prefix" in details and f"s3://<bucket>/<prefix>/ in {OTHER}, {BUCKET}" in details

    output = pb.StemOutputConfig(uri_prefix=f"s3://{BUCKET}/jobs/7/song-", bits_per_sample=24)
    reply = await separate(address, data, output=output)
    assert [s.uri for s in reply.stems] == [
        f"s3://{BUCKET}/jobs/7/song-vocals.wav",
        f"s3://{BUCKET}/jobs/7/song-accompaniment.wav",
    ]
    sent = decode_audio_multichannel(data).samples  # the 16-bit input the stems must sum back to
    total = np.zeros_like(sent)
    for stem in reply.stems:
        assert stem.WhichOneof("audio") == "uri" and not stem.content
        head, body = fetch(s3, stem.uri)
        assert head["ContentType"] == "audio/wav"
        assert head["ContentLength"] == len(body) == stem.size_bytes == 44 + audio.size * 3
        assert stem.bits_per_sample == 24 and stem.sample_rate_hertz == RATE and stem.channel_count == 2
        total += decode_audio_multichannel(body).samples
    np.testing.assert_allclose(total, sent, atol=3 / 2**23)  # 24-bit: 256x finer than 16-bit stems
    assert os.listdir(spool) == []  # spool files are anonymous and gone


async def test_stream_reports_the_upload_then_flac_uris(address: str, s3: Any) -> None:
    data = encode_wav(stereo(3.0).T, RATE)
    async with grpc.aio.insecure_channel(address) as channel:
        request = pb.SeparateStreamRequest(
            config=pb.SeparationConfig(
                stems=[pb.STEM_VOCALS],
                output=pb.StemOutputConfig(uri_prefix=f"s3://{BUCKET}/flac/", format=pb.OUTPUT_AUDIO_FORMAT_FLAC),
            ),
            audio=audio_pb2.AudioSource(content=data),
        )
        messages = [m async for m in pb_grpc.SeparationServiceStub(channel).SeparateStream(request, timeout=60)]
    stages = [m.progress.stage for m in messages[:-1]]
    assert stages.index(pb.SEPARATION_STAGE_ENCODING) < stages.index(pb.SEPARATION_STAGE_UPLOADING)
    (stem,) = messages[-1].result.stems
    head, body = fetch(s3, stem.uri)
    assert stem.uri == f"s3://{BUCKET}/flac/vocals.flac" and head["ContentType"] == "audio/flac"
    assert body[:4] == b"fLaC" and decode_audio_multichannel(body).samples.shape == (2, 3 * RATE)


async def test_s3_failures_get_clear_statuses(address: str, seaweed: SeaweedS3, spool: Path, s3: Any) -> None:
    data = encode_wav(stereo(1.0).T, RATE)
    code = grpc.StatusCode

    def out(prefix: str) -> pb.StemOutputConfig:
        return pb.StemOutputConfig(uri_prefix=prefix)

    details = await expect_error(address, code.PERMISSION_DENIED, data, output=out("s3://elsewhere/x/"))
    assert "does not write to bucket 'elsewhere'" in details and "TING_SEPARATE_S3_BUCKETS" in details
    assert "'..'" in await expect_error(address, code.INVALID_ARGUMENT, data, output=out(f"s3://{BUCKET}/a/../b/"))
    app, wrong = await start(seaweed, spool, "not-the-secret")
    try:
        details = await expect_error(wrong, code.PERMISSION_DENIED, data, output=out(f"s3://{BUCKET}/denied/"))
        assert "refused" in details and "credentials" in details
    finally:
        await app.drain(0)
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="denied/").get("KeyCount", 0) == 0
    assert os.listdir(spool) == []


def test_a_cancelled_upload_leaves_no_object(s3: Any) -> None:
    """Nothing is published before the whole stem is staged: a discarded stage never reaches the bucket."""
    from ting_separate.storage import S3Destination, S3Output

    destination = S3Destination(S3Output(s3, frozenset({BUCKET})), BUCKET, "discarded/")
    staged = destination.stage("vocals.wav")
    staged.file.write(io.BytesIO(b"RIFF" + b"\0" * 1000).getvalue())
    staged.discard()
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="discarded/").get("KeyCount", 0) == 0
