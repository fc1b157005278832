"""The ``learned`` engine behind the real separation server: it is the default once set-up has trained its
weights, and it separates a song it never saw (44.1 kHz, so the mask is carried to another STFT grid)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import grpc
import mir_eval
import numpy as np
import pytest
from scipy import signal

from ting.audio.v1 import audio_pb2
from ting.separation.v1 import separation_service_pb2 as pb
from ting.separation.v1 import separation_service_pb2_grpc as pb_grpc
from ting_common.audio import decode_audio_multichannel, encode_wav
from ting_separate.config import SeparateSettings
from ting_separate.learned.synth import SongMaker
from ting_separate.learned.train import default_weights_path
from ting_separate.server import create_engines, create_server

RATE = 44100
SEED = 6_000_000  # the trainer never uses this seed


@pytest.fixture(scope="module")
def weights() -> None:
    if not default_weights_path().is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"no set-up weights at {default_weights_path()}; `make setup` trains them")
        pytest.skip("no learned separator weights; run `make setup`")


@pytest.fixture(scope="module")
async def address(weights: None) -> AsyncIterator[str]:
    settings = SeparateSettings(host="127.0.0.1", port=0, grace_period_s=1.0, shutdown_delay_s=0.0)
    app, port = create_server(settings, create_engines(settings))
    await app.start()
    yield f"127.0.0.1:{port}"
    await app.drain(0)


def song() -> tuple[np.ndarray, np.ndarray]:
    made = SongMaker(seed=SEED).song(4.0)
    up = [signal.resample_poly(x, 2, 1, axis=-1).astype(np.float32) for x in (made.vocals, made.accompaniment)]
    return up[0], up[1]


async def test_learned_is_the_default_engine(address: str) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        reply = await pb_grpc.SeparationServiceStub(channel).ListEngines(pb.ListEnginesRequest(), timeout=10)
    first = reply.engines[0]
    assert first.name == "learned" and first.default and first.loaded
    assert [e.name for e in reply.engines] == ["learned", "dsp"]


@pytest.mark.filterwarnings("ignore::FutureWarning")
async def test_learned_engine_separates_an_unseen_song(address: str) -> None:
    vocals, accompaniment = song()
    mixture = vocals + accompaniment
    request = pb.SeparateRequest(
        config=pb.SeparationConfig(
            stems=[pb.STEM_VOCALS, pb.STEM_ACCOMPANIMENT], output=pb.StemOutputConfig(bits_per_sample=32)
        ),
        audio=audio_pb2.AudioSource(content=encode_wav(mixture.T, RATE)),
    )
    async with grpc.aio.insecure_channel(address) as channel:
        reply = await pb_grpc.SeparationServiceStub(channel).Separate(request, timeout=120)
    assert reply.metadata.engine == "learned"
    stems = [decode_audio_multichannel(stem.content).samples for stem in reply.stems]
    assert all(s.shape == mixture.shape for s in stems)
    np.testing.assert_allclose(stems[0] + stems[1], mixture, atol=1e-4)  # 32-bit float stems
    ref = np.stack([vocals.mean(axis=0), accompaniment.mean(axis=0)]).astype(np.float64)
    est = np.stack([s.mean(axis=0) for s in stems]).astype(np.float64)
    separated, _, _, _ = mir_eval.separation.bss_eval_sources(ref, est, compute_permutation=False)
    floor, _, _, _ = mir_eval.separation.bss_eval_sources(
        ref, np.stack([mixture.mean(axis=0)] * 2).astype(np.float64), compute_permutation=False
    )
    assert separated[0] >= floor[0] + 6.0, (separated, floor)
    assert separated[1] >= floor[1] + 3.0, (separated, floor)
