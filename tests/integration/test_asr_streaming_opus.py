"""StreamingRecognize with Ogg/Opus and WebM/Opus chunks, as a browser's MediaRecorder sends them, on a real ASR
server with real Whisper base.

The streams are the meeting sample encoded with libopus at 32 kb/s and cut into 100 ms ``timeslice`` blobs (WebM as a
live stream with unknown-size clusters, like Chrome's); see ``tests/unit/test_stream_audio.py``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable

import av
import grpc
import numpy as np
import pytest

from ting.asr.v1 import asr_service_pb2 as pb
from ting.asr.v1 import asr_service_pb2_grpc as pb_grpc
from ting.audio.v1 import audio_pb2
from ting_asr.stream_audio import THREAD_PREFIX
from ting_common.audio import AudioEncoding, decode_audio, encode_wav
from ting_common.scoring import error_rate

from ..conftest import SAMPLES
from ..unit.test_stream_audio import timeslice_blobs
from .test_asr_streaming import STREAM_WER_BOUND, check_meeting, config, stream

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif("libopus" not in av.codecs_available, reason="PyAV was built without libopus"),
]

OGG = audio_pb2.AUDIO_ENCODING_OGG_OPUS
WEBM = audio_pb2.AUDIO_ENCODING_WEBM_OPUS
ENCODINGS: dict[int, AudioEncoding] = {OGG: AudioEncoding.OGG_OPUS, WEBM: AudioEncoding.WEBM_OPUS}
NAMES: dict[int, str] = {OGG: "Ogg/Opus", WEBM: "WebM/Opus"}
# The decoded Opus audio is the same from both containers, but the VAD cuts utterances a little differently with the
# chunking of the audio it receives. Measured WER: LINEAR16 stream 0.032, Ogg/Opus 0.032, WebM/Opus 0.074.
OPUS_WER_MARGIN = 0.1


@pytest.fixture(scope="module")
def meeting() -> np.ndarray:
    return decode_audio(str(SAMPLES / "meeting_intro.wav")).samples


@pytest.fixture(scope="module")
def blobs(meeting: np.ndarray) -> dict[int, list[bytes]]:
    return {encoding: timeslice_blobs(meeting, ENCODINGS[encoding]) for encoding in (OGG, WEBM)}


def requests_of(encoding: int, chunks: list[bytes]) -> list[pb.StreamingRecognizeRequest]:
    # No sample rate or channel count: the containers describe themselves.
    return [config(0, encoding), *(pb.StreamingRecognizeRequest(audio_content=c) for c in chunks)]


def decoder_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)]


async def no_decoder_thread_left(timeout: float = 5.0) -> None:
    """The server runs in this process: its decoder threads must be gone once the streams ended."""
    deadline = time.monotonic() + timeout
    while decoder_threads() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not decoder_threads()


@pytest.fixture(scope="module")
async def pcm_wer(asr_address: str, meeting: np.ndarray) -> float:
    """The WER of the same audio streamed as LINEAR16, the baseline for the Opus streams."""
    pcm = (np.clip(meeting, -1, 1) * 32767).astype("<i2").tobytes()
    chunks = [pcm[i : i + 3200] for i in range(0, len(pcm), 3200)]
    received = await stream(asr_address, [config(), *(pb.StreamingRecognizeRequest(audio_content=c) for c in chunks)])
    assert received.code == grpc.StatusCode.OK, received.details
    return error_rate((SAMPLES / "meeting_intro.txt").read_text(), received.text)


@pytest.mark.parametrize("encoding", [OGG, WEBM], ids=["ogg", "webm"])
async def test_mediarecorder_stream_is_recognized(
    asr_address: str,
    meeting: np.ndarray,
    blobs: dict[int, list[bytes]],
    pcm_wer: float,
    encoding: int,
    record_property: Callable[[str, object], None],
) -> None:
    received = await stream(asr_address, requests_of(encoding, blobs[encoding]))
    check_meeting(received, round(meeting.size / 16))  # status, interims, WER <= STREAM_WER_BOUND, times, events
    wer = error_rate((SAMPLES / "meeting_intro.txt").read_text(), received.text)
    record_property("wer", round(wer, 4))
    record_property("linear16_wer", round(pcm_wer, 4))
    print(f"{NAMES[encoding]} stream WER {wer:.3f} (LINEAR16 stream {pcm_wer:.3f})")
    assert wer <= min(STREAM_WER_BOUND, pcm_wer + OPUS_WER_MARGIN), received.text
    await no_decoder_thread_left()


async def test_results_arrive_while_the_webm_stream_is_still_sent(
    asr_address: str, blobs: dict[int, list[bytes]]
) -> None:
    """Paced at 4x real time (25 ms per 100 ms blob), the first speech and results come before the last blob."""
    chunks = blobs[WEBM][:150]  # 15 s
    last_sent = 0.0

    async def gen() -> AsyncIterator[pb.StreamingRecognizeRequest]:
        nonlocal last_sent
        yield config(0, WEBM)
        for chunk in chunks:
            yield pb.StreamingRecognizeRequest(audio_content=chunk)
            last_sent = time.monotonic()
            await asyncio.sleep(0.025)

    arrivals: list[tuple[float, pb.StreamingRecognizeResponse]] = []
    async with grpc.aio.insecure_channel(asr_address) as ch:
        async for response in pb_grpc.AsrServiceStub(ch).StreamingRecognize(gen(), timeout=120):
            arrivals.append((time.monotonic(), response))
    begin = next(t for t, r in arrivals if r.speech_event.type == pb.SPEECH_EVENT_TYPE_SPEECH_ACTIVITY_BEGIN)
    first_result = next(t for t, r in arrivals if r.results)
    assert begin < last_sent - 2.0  # speech starts at ~0.2 s of audio: seen within the first blobs
    assert first_result < last_sent
    finals = [r for _, resp in arrivals for r in resp.results if r.is_final]
    assert finals and "good morning" in finals[0].text.lower()
    await no_decoder_thread_left()


def stream_sync(address: str, requests: list[pb.StreamingRecognizeRequest]) -> tuple[grpc.StatusCode, str]:
    """A stream with the blocking client: the server ends these streams while the client still writes, and the
    asyncio client then may report INTERNAL "Internal error from Core" instead of the server's status
    (grpc/grpc#36066); the blocking client reports the server's."""
    with grpc.insecure_channel(address) as channel:
        call = pb_grpc.AsrServiceStub(channel).StreamingRecognize(iter(requests), timeout=60)
        try:
            for _ in call:
                pass
        except grpc.RpcError as exc:
            return exc.code(), exc.details() or ""
    return grpc.StatusCode.OK, ""


def _garbage(meeting: np.ndarray, webm: bytes) -> dict[str, tuple[int, bytes]]:
    pcm = (meeting[:80_000] * 32767).astype("<i2").tobytes()
    return {
        "random-as-ogg": (OGG, np.random.default_rng(0).bytes(100_000)),
        "pcm-as-webm": (WEBM, pcm),
        "wav-as-ogg": (OGG, encode_wav(meeting[:80_000], 16000)),
        "webm-as-ogg": (OGG, webm),
        "webm-headers-then-zeros": (WEBM, webm[:500] + bytes(1_500_000)),
    }


@pytest.mark.parametrize(
    "kind", ["random-as-ogg", "pcm-as-webm", "wav-as-ogg", "webm-as-ogg", "webm-headers-then-zeros"]
)
async def test_not_the_declared_container_is_invalid_argument_and_the_server_keeps_serving(
    asr_address: str, meeting: np.ndarray, blobs: dict[int, list[bytes]], kind: str
) -> None:
    encoding, data = _garbage(meeting, b"".join(blobs[WEBM]))[kind]
    chunks = [data[i : i + 4000] for i in range(0, len(data), 4000)]
    code, details = await asyncio.to_thread(stream_sync, asr_address, requests_of(encoding, chunks))
    assert code == grpc.StatusCode.INVALID_ARGUMENT, details
    assert f"audio chunks are not {NAMES[encoding]}" in details
    # A good stream right after works.
    ok = await stream(asr_address, requests_of(OGG, blobs[OGG][:60]))
    assert ok.code == grpc.StatusCode.OK, ok.details
    assert ok.finals and "good morning" in ok.finals[0].text.lower()
    await no_decoder_thread_left()


async def test_cancel_mid_stream_leaves_no_decoder_thread(asr_address: str, blobs: dict[int, list[bytes]]) -> None:
    async def gen() -> AsyncIterator[pb.StreamingRecognizeRequest]:
        yield config(0, OGG)
        for chunk in blobs[OGG][:40]:
            yield pb.StreamingRecognizeRequest(audio_content=chunk)
            await asyncio.sleep(0.01)
        await asyncio.sleep(30)

    async with grpc.aio.insecure_channel(asr_address) as ch:
        call = pb_grpc.AsrServiceStub(ch).StreamingRecognize(gen(), timeout=60)
        async for response in call:
            if response.speech_event.type == pb.SPEECH_EVENT_TYPE_SPEECH_ACTIVITY_BEGIN:
                break
        assert decoder_threads()  # the stream's decoder runs while it is open
        call.cancel()
    await no_decoder_thread_left()
