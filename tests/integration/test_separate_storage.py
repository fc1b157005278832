"""Stems written to storage: ``file://`` prefixes under ``TING_SEPARATE_STORAGE_ROOT``, through the real server
(``s3://`` against a real SeaweedFS: test_separate_s3.py)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import unquote, urlparse

import grpc
import numpy as np
import pytest

from ting.separation.v1 import separation_service_pb2 as pb
from ting_common.audio import decode_audio_multichannel, encode_wav
from ting_common.errors import InternalError, InvalidArgumentError
from ting_separate.engines.dsp import DspEngine
from ting_separate.server import create_server
from ting_separate.storage import check_prefix, write_stem

from .test_separate_service import RATE, expect_error, separate, settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("storage")


@pytest.fixture(scope="module")
async def address(root: Path) -> AsyncIterator[str]:
    app, port = create_server(settings(storage_root=root), DspEngine())
    await app.start()
    yield f"127.0.0.1:{port}"
    await app.drain(0)


def stereo(seconds: float) -> np.ndarray:
    rng = np.random.default_rng(11)
    return np.clip(0.1 * rng.standard_normal((2, round(seconds * RATE))), -0.5, 0.5).astype(np.float32)


def leftovers(folder: Path) -> list[str]:
    return [name for _, _, files in os.walk(folder) for name in files if name.endswith(".part")]


def read_stem(uri: str) -> tuple[int, np.ndarray]:
    """Size and samples of the file a ``file://`` URI names."""
    data = Path(unquote(urlparse(uri).path)).read_bytes()
    return len(data), decode_audio_multichannel(data).samples


async def test_stems_are_written_under_the_prefix_and_returned_as_uris(address: str, root: Path) -> None:
    audio = stereo(20.0)  # 2 stems x 1.7 MiB: over the 3 MiB inline limit, fine for storage
    reply = await separate(
        address,
        encode_wav(audio.T, RATE),
        output=pb.StemOutputConfig(uri_prefix=f"file://{root}/job 1/song-", format=pb.OUTPUT_AUDIO_FORMAT_FLAC),
    )
    assert sorted(p.name for p in (root / "job 1").iterdir()) == ["song-accompaniment.flac", "song-vocals.flac"]
    total = np.zeros_like(audio)
    for stem in reply.stems:
        assert stem.WhichOneof("audio") == "uri"
        assert stem.uri.startswith(f"file://{root}/job%201/song-")
        size, samples = read_stem(stem.uri)
        assert stem.size_bytes == size
        assert samples.shape == audio.shape
        total += samples
    np.testing.assert_allclose(total, audio, atol=3 / 32768)
    assert leftovers(root) == []


async def test_a_folder_prefix_overwrites_atomically(address: str, root: Path) -> None:
    data = encode_wav(stereo(1.0).T, RATE)
    for _ in range(2):
        reply = await separate(
            address, data, stems=[pb.STEM_VOCALS], output=pb.StemOutputConfig(uri_prefix=f"file://{root}/x/")
        )
    assert reply.stems[0].uri == f"file://{root}/x/vocals.wav"
    assert sorted(p.name for p in (root / "x").iterdir()) == ["vocals.wav"]


async def test_bad_prefixes_get_clear_statuses(address: str, root: Path) -> None:
    data = encode_wav(stereo(1.0).T, RATE)
    code = grpc.StatusCode
    outside = pb.StemOutputConfig(uri_prefix=f"file://{root}/../elsewhere/")
    assert "outside the storage root" in await expect_error(address, code.INVALID_ARGUMENT, data, output=outside)
    s3 = pb.StemOutputConfig(uri_prefix="s3://bucket/prefix/")
    assert "object storage is not configured" in await expect_error(address, code.FAILED_PRECONDITION, data, output=s3)
    http = pb.StemOutputConfig(uri_prefix="http://example.com/x/")
    assert "unsupported" in await expect_error(address, code.INVALID_ARGUMENT, data, output=http)
    assert not (root.parent / "elsewhere").exists()


def test_without_a_storage_root_file_output_is_refused(tmp_path: Path) -> None:
    from ting_common.errors import FailedPreconditionError

    with pytest.raises(FailedPreconditionError, match="TING_SEPARATE_STORAGE_ROOT"):
        check_prefix(f"file://{tmp_path}/", None)


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    (tmp_path / "vocals.wav").mkdir()  # a directory where the stem should go: the rename fails
    with pytest.raises(InternalError, match="could not write the stem"):
        write_stem(tmp_path, "vocals.wav", b"RIFF....", tmp_path)
    assert leftovers(tmp_path) == []
    link = tmp_path / "link"
    link.symlink_to(tmp_path.parent)
    with pytest.raises(InvalidArgumentError, match="outside the storage root"):
        check_prefix(f"file://{link}/escape/", tmp_path)


async def test_cli_output_uri_has_the_server_write_the_stems(address: str, root: Path, tmp_path: Path) -> None:
    import argparse
    import asyncio

    from ting_cli.separate import run_separate

    source = tmp_path / "song.wav"
    source.write_bytes(encode_wav(stereo(2.0).T, RATE))
    args = argparse.Namespace(
        file=str(source),
        stems="vocals",
        engine="",
        format="wav",
        bits=24,
        output_uri=f"file://{root}/cli/song-",
        output_dir=str(tmp_path / "local"),
        server=address,
        timeout=60.0,
        progress="never",
    )
    assert await asyncio.to_thread(run_separate, args) == 0
    assert list((tmp_path / "local").iterdir()) == []  # nothing written locally
    written = root / "cli" / "song-vocals.wav"
    assert decode_audio_multichannel(written.read_bytes()).samples.shape == (2, 2 * RATE)
    assert written.stat().st_size == 44 + 2 * 2 * RATE * 3  # 24-bit
