"""The gateway's S3 storage against a real SeaweedFS S3 endpoint on loopback."""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ting_common.errors import (
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    UnavailableError,
)
from ting_common.probe import free_port
from ting_gateway.storage import Storage, StoredObject
from ting_gateway.storage.s3 import S3Settings, S3Storage

from .seaweed import SeaweedS3, require_weed, seaweed_s3

pytestmark = pytest.mark.integration

MIB = 1 << 20


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    with seaweed_s3(tmp_path_factory.mktemp("seaweed"), weed=require_weed()) as server:
        yield server


def settings(server: SeaweedS3, **overrides: object) -> S3Settings:
    values: dict[str, object] = {
        "bucket": "ting-test",
        "prefix": "gw/v1",
        "endpoint_url": server.endpoint_url,
        "region": server.region,
        "access_key_id": server.access_key_id,
        "secret_access_key": server.secret_access_key,
        "addressing_style": "path",
        "max_attempts": 1,
    }
    values.update(overrides)
    return S3Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def store(seaweed: SeaweedS3) -> S3Storage:
    storage = S3Storage(settings(seaweed))
    storage.ensure_bucket()
    storage.ensure_bucket()  # idempotent
    return storage


@pytest.fixture
def folder() -> str:
    """A key folder of its own per test, so tests never see each other's objects."""
    return f"t-{uuid.uuid4().hex[:12]}"


def test_s3_storage_satisfies_the_protocol(store: S3Storage) -> None:
    storage: Storage = store
    assert isinstance(storage, Storage)
    assert storage.scheme == "s3"


def test_put_stat_read_iter_chunks(store: S3Storage, folder: str) -> None:
    data = os.urandom(3 * MIB + 5)
    stored = store.put(f"{folder}/audio.ogg", data, content_type="audio/ogg")
    uri = f"s3://ting-test/gw/v1/{folder}/audio.ogg"
    assert stored == StoredObject(uri=uri, key=f"{folder}/audio.ogg", size_bytes=len(data), content_type="audio/ogg")
    assert store.stat(uri) == stored
    assert store.read(uri, max_bytes=len(data)) == data
    with pytest.raises(ResourceExhaustedError):
        store.read(uri, max_bytes=len(data) - 1)
    chunks = list(store.iter_chunks(uri, chunk_size=MIB))
    assert b"".join(chunks) == data
    assert max(len(c) for c in chunks) <= MIB and len(chunks) >= 4
    assert store.put(f"{folder}/empty", b"").size_bytes == 0
    assert store.read(store.uri(f"{folder}/empty"), max_bytes=0) == b""


def test_streaming_upload_from_a_generator_goes_multipart(store: S3Storage, folder: str) -> None:
    produced = 0

    def generate() -> Iterator[bytes]:
        nonlocal produced
        for i in range(20):
            produced += 1
            yield bytes([i]) * MIB

    stored = store.put(f"{folder}/big.bin", generate(), content_type="audio/wav", max_bytes=20 * MIB)
    assert produced == 20 and stored.size_bytes == 20 * MIB
    head = store._client.head_object(Bucket="ting-test", Key=f"gw/v1/{folder}/big.bin")
    assert head["ContentLength"] == 20 * MIB and head["ContentType"] == "audio/wav"
    assert head["ETag"].strip('"').endswith("-3"), f"expected a 3-part upload, ETag {head['ETag']}"
    received = 0
    for i, chunk in enumerate(store.iter_chunks(stored.uri, chunk_size=MIB)):
        assert chunk == bytes([i]) * MIB
        received += len(chunk)
    assert received == 20 * MIB


def test_over_max_bytes_leaves_no_object(store: S3Storage, folder: str) -> None:
    pulled = 0

    def generate() -> Iterator[bytes]:
        nonlocal pulled
        for _ in range(40):
            pulled += 1
            yield b"\0" * MIB

    key = f"{folder}/too-big.bin"
    with pytest.raises(ResourceExhaustedError, match="larger than the limit"):
        store.put(key, generate(), max_bytes=18 * MIB)  # two parts sent, the third over the limit
    assert pulled < 40
    with pytest.raises(NotFoundError):
        store.stat(store.uri(key))
    uploads = store._client.list_multipart_uploads(Bucket="ting-test", Prefix=f"gw/v1/{folder}/")
    assert not uploads.get("Uploads")
    with pytest.raises(ResourceExhaustedError):
        store.put(f"{folder}/small", [b"12345"], max_bytes=4)  # under one part: caught before any request
    with pytest.raises(NotFoundError):
        store.stat(store.uri(f"{folder}/small"))


def test_a_failed_overwrite_keeps_the_old_object(store: S3Storage, folder: str) -> None:
    key = f"{folder}/doc.txt"
    store.put(key, b"old", content_type="text/plain")
    with pytest.raises(ResourceExhaustedError):
        store.put(key, (b"x" * MIB for _ in range(12)), max_bytes=10 * MIB)
    assert store.read(store.uri(key), max_bytes=10) == b"old"


def test_missing_objects_are_not_found(store: S3Storage, seaweed: SeaweedS3, folder: str) -> None:
    uri = store.uri(f"{folder}/nope")
    with pytest.raises(NotFoundError, match="no such object"):
        store.stat(uri)
    with pytest.raises(NotFoundError):
        store.read(uri, max_bytes=10)
    with pytest.raises(NotFoundError):
        store.iter_chunks(uri)
    other = S3Storage(settings(seaweed, bucket="no-such-bucket-here"))
    with pytest.raises(NotFoundError, match="no such bucket"):
        other.read(other.uri("x"), max_bytes=10)


def test_key_of_rejects_other_buckets_and_prefixes(store: S3Storage) -> None:
    assert store.key_of("s3://ting-test/gw/v1/jobs/1/x.srt") == "jobs/1/x.srt"
    for outside in (
        "s3://other-bucket/gw/v1/jobs/1/x.srt",
        "s3://ting-test/gw/v2/jobs/1/x.srt",
        "s3://ting-test/gw/v1-evil/x",
        "s3://ting-test/jobs/1/x.srt",
        "s3://ting-test/gw/v1/../v2/x",
        "file:///tmp/x",
    ):
        with pytest.raises(PermissionDeniedError):
            store.key_of(outside)
        with pytest.raises(PermissionDeniedError):
            store.stat(outside)
    for malformed in ("no-scheme", "s3://", "s3://ting-test/gw/v1/", "s3://ting-test/gw/v1/a//b"):
        with pytest.raises(InvalidArgumentError):
            store.key_of(malformed)
    with pytest.raises(InvalidArgumentError):
        store.put("../escape", b"x")


def test_delete_prefix(store: S3Storage, folder: str) -> None:
    keys = [f"{folder}/job-1/{n}" for n in ("a", "b", "sub/c")] + [f"{folder}/job-10/d", f"{folder}/job-2/e"]
    for key in keys:
        store.put(key, b"x")
    assert store.delete_prefix(f"{folder}/job-1/") == 3
    assert store.delete_prefix(f"{folder}/job-404/") == 0
    for key in keys[:3]:
        with pytest.raises(NotFoundError):
            store.stat(store.uri(key))
    assert store.stat(store.uri(f"{folder}/job-10/d")).size_bytes == 1
    assert store.delete_prefix(f"{folder}/job-") == 2
    listing = store._client.list_objects_v2(Bucket="ting-test", Prefix=f"gw/v1/{folder}/")
    assert listing.get("KeyCount", 0) == 0


def test_delete_prefix_stays_inside_the_storage_prefix(store: S3Storage, seaweed: SeaweedS3, folder: str) -> None:
    sibling = S3Storage(settings(seaweed, prefix="gw/v1-sibling"))
    sibling.put(f"{folder}/keep", b"k")
    store.put(f"{folder}/go", b"g")
    assert store.delete_prefix(f"{folder}/") == 1
    assert sibling.read(sibling.uri(f"{folder}/keep"), max_bytes=1) == b"k"
    assert sibling.delete_prefix(f"{folder}/") == 1


def test_presigned_urls(store: S3Storage, folder: str) -> None:
    stored = store.put(f"{folder}/song one.mp3", b"ID3 fake mp3", content_type="audio/mpeg")
    url = store.presign(stored.uri, 60)
    assert url is not None and url.startswith(store.endpoint)
    with urllib.request.urlopen(url, timeout=5) as reply:  # noqa: S310 -- a loopback URL we signed
        assert reply.read() == b"ID3 fake mp3"
        assert reply.headers["Content-Type"] == "audio/mpeg"
    signature = url.rsplit("X-Amz-Signature=", 1)[1][:64]
    tampered = url.replace(signature, signature[:-1] + ("0" if signature[-1] != "0" else "1"))
    other_key = url.replace("song%20one.mp3", "song%20two.mp3")
    for bad in (tampered, other_key):
        with pytest.raises(urllib.error.HTTPError) as failure:
            urllib.request.urlopen(bad, timeout=5)  # noqa: S310
        assert failure.value.code == 403
    with pytest.raises(InvalidArgumentError):
        store.presign(stored.uri, 0)


def test_wrong_credentials_are_permission_denied(seaweed: SeaweedS3, folder: str) -> None:
    wrong = S3Storage(settings(seaweed, secret_access_key="not-the-secret"))
    with pytest.raises(PermissionDeniedError, match="refused access"):
        wrong.put(f"{folder}/x", b"x")
    with pytest.raises(PermissionDeniedError):
        wrong.read(wrong.uri(f"{folder}/x"), max_bytes=1)


def test_unreachable_endpoint_is_unavailable_quickly(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    storage = S3Storage(
        S3Settings(
            bucket="ting-test",
            endpoint_url=endpoint,
            region="us-east-1",
            access_key_id="k",
            secret_access_key="s",
            addressing_style="path",
            connect_timeout_s=1.0,
            max_attempts=1,
        )
    )
    start = time.monotonic()
    with pytest.raises(UnavailableError, match=endpoint):
        storage.stat(storage.uri("x"))
    with pytest.raises(UnavailableError, match=endpoint):
        storage.put("x", b"x")
    with pytest.raises(UnavailableError, match=endpoint):
        storage.ensure_bucket()
    assert time.monotonic() - start < 10
