"""The streaming session's building blocks: Silero scores that do not depend on chunking, and the decode gate
(finals wait first come first served, interims only take a free slot, a cancelled waiter loses no slot)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from ting_asr.streaming import FRAME, DecodeGate, SileroStream, silero_model
from ting_common.audio import decode_audio

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "meeting_intro.wav"


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    audio = decode_audio(SAMPLE.read_bytes())
    samples = np.asarray(audio.samples, dtype=np.float32)
    return samples[: FRAME * 400]  # ~12.8 s


def test_silero_stream_scores_do_not_depend_on_chunking(speech: np.ndarray) -> None:
    model = silero_model()
    whole = SileroStream(model)(speech)
    assert whole.shape == (speech.size // FRAME,)
    assert 0.2 < float((whole > 0.5).mean()) < 0.95  # the clip has speech and pauses

    rng = np.random.default_rng(7)
    stream = SileroStream(model)
    parts: list[np.ndarray] = []
    at = 0
    while at < speech.size:
        n = int(rng.integers(1, 25)) * FRAME
        parts.append(stream(speech[at : at + n]))
        at += n
    chunked = np.concatenate(parts)
    np.testing.assert_allclose(chunked, whole, atol=1e-5)

    # faster-whisper's own call restarts the model on each call: its per-chunk scores differ (the bug avoided here)
    restarted = np.concatenate(
        [np.asarray(model(speech[i : i + 4 * FRAME])).reshape(-1) for i in range(0, speech.size, 4 * FRAME)]
    )  # type: ignore[operator]
    assert float(np.abs(restarted - whole).max()) > 0.05


def test_two_streams_keep_their_own_state(speech: np.ndarray) -> None:
    model = silero_model()
    a, b = SileroStream(model), SileroStream(model)
    half = (speech.size // FRAME // 2) * FRAME
    first = a(speech[:half])
    b(np.zeros(half, dtype=np.float32))  # another stream in between must not disturb a
    rest = a(speech[half:])
    np.testing.assert_allclose(np.concatenate([first, rest]), SileroStream(model)(speech), atol=1e-5)


async def test_gate_interims_take_only_free_slots_and_finals_go_first() -> None:
    gate = DecodeGate(1)
    assert gate.try_interim()
    assert not gate.try_interim()  # no slot left
    order: list[str] = []

    async def final(name: str) -> None:
        async with gate.final():
            order.append(name)
            await asyncio.sleep(0.01)

    first = asyncio.create_task(final("a"))
    second = asyncio.create_task(final("b"))
    await asyncio.sleep(0)
    gate.release()  # the interim ends: its slot goes to the first waiting final
    assert not gate.try_interim()  # finals wait: no interim may jump the queue
    await asyncio.gather(first, second)
    assert order == ["a", "b"]
    assert gate.free == 1
    assert gate.try_interim()
    gate.release()


async def test_gate_cancelled_waiter_loses_no_slot() -> None:
    gate = DecodeGate(1)
    assert gate.try_interim()

    async def final() -> None:
        async with gate.final():
            await asyncio.sleep(0)

    waiting = asyncio.create_task(final())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    gate.release()
    assert gate.free == 1

    # Cancelled just as the slot is handed over: the slot passes on instead of leaking.
    assert gate.try_interim()
    handed = asyncio.create_task(final())
    await asyncio.sleep(0)
    gate.release()  # hands the slot to `handed` ...
    handed.cancel()  # ... which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await handed
    assert gate.free == 1
