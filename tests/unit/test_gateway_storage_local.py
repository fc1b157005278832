"""The gateway's local object storage, its storage factory and its signed links."""

from __future__ import annotations

import io
import os
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from ting_common.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
)
from ting_gateway.storage import Storage, StoredObject
from ting_gateway.storage.factory import open_storage
from ting_gateway.storage.links import link_query, sign, verify
from ting_gateway.storage.local import LocalStorage, check_key
from ting_gateway.storage.s3 import S3Storage

MIB = 1 << 20
SECRET = b"0123456789abcdef-test-secret"


@pytest.fixture
def store(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "store")


def all_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


# -- keys and URIs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "../x",
        "a/../../x",
        "a/./b",
        "a//b",
        "a/",
        ".hidden",
        "a/.meta",
        ".meta/a",
        "a\\b",
        "a\x00b",
        "a\nb",
        "x" * 256,
        "a/" * 600 + "b",
    ],
)
def test_bad_keys_are_rejected(store: LocalStorage, key: str) -> None:
    with pytest.raises(InvalidArgumentError):
        store.uri(key)
    with pytest.raises(InvalidArgumentError):
        store.put(key, b"x")


@pytest.mark.parametrize("key", ["a", "jobs/7/transcript.srt", "uploads/my song (1).mp3", "日本/歌.flac", "a..b/c."])
def test_good_keys_round_trip_through_their_uri(store: LocalStorage, key: str) -> None:
    assert check_key(key) == key
    uri = store.uri(key)
    assert uri.startswith("file:///")
    assert uri == store.path(key).as_uri()
    assert store.key_of(uri) == key


def test_key_of_rejects_uris_outside_the_root(store: LocalStorage, tmp_path: Path) -> None:
    with pytest.raises(PermissionDeniedError):
        store.key_of((tmp_path / "elsewhere" / "x").as_uri())
    with pytest.raises(PermissionDeniedError):
        store.key_of((tmp_path / "store-other" / "x").as_uri())  # a sibling sharing the root's name as a prefix
    with pytest.raises(PermissionDeniedError):
        store.key_of(store.root.as_uri() + "/../store-other/x")
    with pytest.raises(PermissionDeniedError):
        store.key_of("s3://bucket/x")
    for malformed in ("not a uri", "file://host/x", "file:relative/x", store.root.as_uri(), store.uri("a") + "?x=1"):
        with pytest.raises(InvalidArgumentError):
            store.key_of(malformed)
    with pytest.raises(InvalidArgumentError):
        store.key_of(store.root.as_uri() + "/.meta/a")  # the sidecar tree is never an object


def test_local_storage_satisfies_the_protocol(store: LocalStorage) -> None:
    storage: Storage = store
    assert isinstance(storage, Storage)
    assert storage.scheme == "file"


# -- writes and reads -------------------------------------------------------------------------------------


def test_put_stat_read_iter_chunks(store: LocalStorage) -> None:
    data = os.urandom(3 * MIB + 5)
    stored = store.put("jobs/1/audio.bin", data, content_type="audio/ogg")
    assert stored == StoredObject(uri=store.uri("jobs/1/audio.bin"), key="jobs/1/audio.bin", size_bytes=len(data),
                                  content_type="audio/ogg")  # fmt: skip
    assert store.stat(stored.uri) == stored
    assert store.read(stored.uri, max_bytes=len(data)) == data
    chunks = list(store.iter_chunks(stored.uri, chunk_size=MIB))
    assert [len(c) for c in chunks] == [MIB, MIB, MIB, 5]
    assert b"".join(chunks) == data
    with pytest.raises(ResourceExhaustedError):
        store.read(stored.uri, max_bytes=len(data) - 1)
    with pytest.raises(InvalidArgumentError):
        store.read(stored.uri, max_bytes=-1)


def test_content_type_lives_in_a_hidden_sidecar_and_falls_back_to_the_extension(store: LocalStorage) -> None:
    store.put("a/no-extension", b"x", content_type="audio/x-custom; rate=16000")
    assert store.stat(store.uri("a/no-extension")).content_type == "audio/x-custom; rate=16000"
    # An object written by hand has no sidecar: its extension decides.
    (store.root / "a" / "by-hand.wav").write_bytes(b"RIFF")
    (store.root / "a" / "by-hand.unknownext").write_bytes(b"?")
    assert store.stat(store.uri("a/by-hand.wav")).content_type in ("audio/wav", "audio/x-wav")
    assert store.stat(store.uri("a/by-hand.unknownext")).content_type == "application/octet-stream"
    assert all_files(store.root) == [".meta/a/no-extension", "a/by-hand.unknownext", "a/by-hand.wav", "a/no-extension"]
    with pytest.raises(InvalidArgumentError):
        store.put("a/b", b"x", content_type="text/plain\r\nX-Evil: 1")


def test_put_streams_a_generator_without_holding_it_whole(store: LocalStorage) -> None:
    produced = 0

    def generate() -> Iterator[bytes]:
        nonlocal produced
        block = b"\xab" * MIB
        for _ in range(64):
            produced += 1
            yield block

    tracemalloc.start()
    try:
        stored = store.put("big/blob", generate(), max_bytes=64 * MIB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert produced == 64
    assert stored.size_bytes == 64 * MIB == store.path("big/blob").stat().st_size
    assert peak < 8 * MIB, f"put held {peak / MIB:.1f} MiB at once"


def test_put_over_max_bytes_stops_early_and_removes_the_partial_file(store: LocalStorage) -> None:
    pulled = 0

    def generate() -> Iterator[bytes]:
        nonlocal pulled
        for _ in range(64):
            pulled += 1
            yield b"\0" * MIB

    with pytest.raises(ResourceExhaustedError, match="larger than the limit"):
        store.put("big/blob", generate(), max_bytes=10 * MIB)
    assert pulled == 11  # stopped at the first chunk over the limit
    assert all_files(store.root) == []
    with pytest.raises(NotFoundError):
        store.stat(store.uri("big/blob"))
    with pytest.raises(ResourceExhaustedError):
        store.put("small", b"12345", max_bytes=4)
    assert store.put("small", b"1234", max_bytes=4).size_bytes == 4


def test_a_failed_overwrite_keeps_the_old_object(store: LocalStorage) -> None:
    store.put("doc.txt", b"old", content_type="text/plain")

    def failing() -> Iterator[bytes]:
        yield b"new"
        raise OSError("the client went away")

    with pytest.raises(OSError, match="went away"):
        store.put("doc.txt", failing())
    with pytest.raises(ResourceExhaustedError):
        store.put("doc.txt", [b"new and much too long"], max_bytes=4)
    assert store.read(store.uri("doc.txt"), max_bytes=100) == b"old"
    assert store.stat(store.uri("doc.txt")).content_type == "text/plain"
    assert all_files(store.root) == [".meta/doc.txt", "doc.txt"]


def test_put_is_atomic_for_concurrent_readers(store: LocalStorage) -> None:
    old, new = b"a" * (4 * MIB), b"b" * (4 * MIB)
    store.put("x", old)
    seen: set[bytes] = set()
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            data = store.read(store.uri("x"), max_bytes=8 * MIB)
            seen.add(data[:1] + data[-1:] + len(data).to_bytes(4, "big"))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(20):
            store.put("x", new if i % 2 else old)
    finally:
        stop.set()
        thread.join()
    assert seen <= {b"aa" + (4 * MIB).to_bytes(4, "big"), b"bb" + (4 * MIB).to_bytes(4, "big")}


def test_put_accepts_file_objects_and_chunk_lists(store: LocalStorage, tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(os.urandom(2 * MIB + 1))
    with open(source, "rb") as f:
        assert store.put("from/file", f).size_bytes == 2 * MIB + 1
    assert store.read(store.uri("from/file"), max_bytes=3 * MIB) == source.read_bytes()
    assert store.put("from/bytesio", io.BytesIO(b"hello")).size_bytes == 5
    assert store.put("from/list", [b"he", b"", b"llo"]).size_bytes == 5
    assert store.read(store.uri("from/list"), max_bytes=5) == b"hello"
    assert store.put("empty", b"").size_bytes == 0
    assert store.read(store.uri("empty"), max_bytes=0) == b""
    with pytest.raises(TypeError):
        store.put("text", "not bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        store.put("text", io.StringIO("not bytes"))  # type: ignore[arg-type]


def test_missing_objects_are_not_found(store: LocalStorage) -> None:
    store.put("dir/file", b"x")
    for key in ("nope", "dir", "dir/file/below"):
        uri = store.uri(key)
        with pytest.raises(NotFoundError):
            store.stat(uri)
        with pytest.raises(NotFoundError):
            store.read(uri, max_bytes=10)
        with pytest.raises(NotFoundError):
            store.iter_chunks(uri)


def test_keys_that_clash_with_folders_fail_cleanly(store: LocalStorage) -> None:
    store.put("a/b", b"x")
    with pytest.raises(FailedPreconditionError):
        store.put("a", b"y")  # "a" is a folder here
    with pytest.raises(FailedPreconditionError):
        store.put("a/b/c", b"y")  # "a/b" is an object
    assert store.read(store.uri("a/b"), max_bytes=1) == b"x"
    # A sidecar left by an object removed by hand does not block a new key.
    store.path("a/b").unlink()
    store.put("a/b/c", b"z", content_type="text/plain")
    assert store.stat(store.uri("a/b/c")).content_type == "text/plain"


def test_delete_prefix(store: LocalStorage) -> None:
    for key in ("jobs/1/a", "jobs/1/sub/b", "jobs/10/c", "jobs/2/stem-bass", "jobs/2/stem-drums", "jobs/2/mix"):
        store.put(key, b"x", content_type="text/plain")
    assert store.delete_prefix("jobs/1/") == 2
    assert store.delete_prefix("jobs/2/stem-") == 2
    assert store.delete_prefix("jobs/404/") == 0
    assert store.delete_prefix("nothing-here") == 0
    assert all_files(store.root) == [".meta/jobs/10/c", ".meta/jobs/2/mix", "jobs/10/c", "jobs/2/mix"]
    assert not (store.root / "jobs" / "1").exists()
    assert not (store.root / ".meta" / "jobs" / "1").exists()
    assert store.delete_prefix("jobs") == 2
    assert all_files(store.root) == []
    assert LocalStorage(store.root / "never-created").delete_prefix("x/") == 0
    for bad in ("", "/", "../", "a//"):
        with pytest.raises(InvalidArgumentError):
            store.delete_prefix(bad)


def test_presign_is_none_locally(store: LocalStorage) -> None:
    assert store.presign(store.uri("x"), 60) is None


# -- factory --------------------------------------------------------------------------------------------


def test_open_storage_picks_the_backend(tmp_path: Path) -> None:
    local = open_storage(str(tmp_path / "a"))
    assert isinstance(local, LocalStorage) and local.root == tmp_path / "a" and local.root.is_dir()
    by_uri = open_storage((tmp_path / "b c").as_uri())
    assert isinstance(by_uri, LocalStorage) and by_uri.root == tmp_path / "b c" and by_uri.root.is_dir()
    s3 = open_storage("s3://ting-bucket/some/prefix/", endpoint_url="http://127.0.0.1:1", access_key_id="k",
                      secret_access_key="s", region="eu-west-3")  # fmt: skip
    assert isinstance(s3, S3Storage) and isinstance(s3, Storage)
    assert s3.settings.prefix == "some/prefix"
    assert s3.uri("jobs/1/x") == "s3://ting-bucket/some/prefix/jobs/1/x"
    assert s3.endpoint == "http://127.0.0.1:1"
    for bad in ("", "http://example.com/x", "file://host/x", "s3://", "s3://UPPER/x", "s3://ok-bucket/../x"):
        with pytest.raises(InvalidArgumentError):
            open_storage(bad)


# -- signed links ---------------------------------------------------------------------------------------


def test_links_sign_and_verify() -> None:
    query = link_query("jobs/1/out.srt", 60, SECRET, now=1_000_000.5)
    assert query == {"expires": "1000060", "sig": sign("jobs/1/out.srt", 1_000_060, SECRET)}
    sig = query["sig"]
    assert "=" not in sig and "+" not in sig and "/" not in sig and len(sig) == 43
    verify("jobs/1/out.srt", 1_000_060, sig, SECRET, now=1_000_059.9)
    with pytest.raises(PermissionDeniedError, match="link expired"):
        verify("jobs/1/out.srt", 1_000_060, sig, SECRET, now=1_000_060)
    for key, expires, signature, secret in [
        ("jobs/1/out.txt", 1_000_060, sig, SECRET),  # another object
        ("jobs/1/out.srt", 1_000_061, sig, SECRET),  # a later expiry
        ("jobs/1/out.srt", 1_000_060, sig[:-1] + ("A" if sig[-1] != "A" else "B"), SECRET),
        ("jobs/1/out.srt", 1_000_060, "", SECRET),
        ("jobs/1/out.srt", 1_000_060, "é" * 43, SECRET),
        ("jobs/1/out.srt", 1_000_060, sig, SECRET + b"!"),  # another server's secret
    ]:
        with pytest.raises(PermissionDeniedError, match="bad signature"):
            verify(key, expires, signature, secret, now=1_000_000)
    with pytest.raises(ValueError, match="at least 16 bytes"):
        sign("k", 1, b"short")
    with pytest.raises(InvalidArgumentError):
        link_query("k", 0, SECRET)
