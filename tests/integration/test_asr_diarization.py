"""Diarized recognition on the real ASR server: a clip of three espeak-ng voices, speakers on segments and words,
the per-speaker list, boundaries near the true turn changes; and the bad-input answers."""

from __future__ import annotations

import io
import itertools
import wave
from collections.abc import AsyncIterator

import grpc
import pytest

from tests.integration.test_gateway_speakers import PAUSE_S, VOICES, espeak_or_skip, multi_voice_wav
from ting.asr.v1 import asr_service_pb2 as pb
from ting.asr.v1 import asr_service_pb2_grpc as pb_grpc
from ting.audio.v1 import audio_pb2

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def clip() -> bytes:
    return multi_voice_wav(espeak_or_skip())


def true_changes(clip: bytes) -> list[float]:
    """Times (s) where the next voice starts: after each voice's speech and the pause."""
    import subprocess
    import tempfile
    from pathlib import Path

    changes: list[float] = []
    at = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for index, (voice, text) in enumerate(VOICES[:-1]):
            path = Path(tmp) / f"{index}.wav"
            subprocess.run(["espeak-ng", "-v", voice, "-s", "160", "-w", str(path), text], check=True)
            with wave.open(str(path), "rb") as part:
                at += part.getnframes() / part.getframerate() + PAUSE_S
            changes.append(at)
    return changes


@pytest.fixture(scope="module")
async def stub(asr_address: str) -> AsyncIterator[pb_grpc.AsrServiceStub]:
    async with grpc.aio.insecure_channel(asr_address) as channel:
        yield pb_grpc.AsrServiceStub(channel)


def diarized(**counts: int) -> pb.RecognitionConfig:
    return pb.RecognitionConfig(
        language_code="en",
        enable_word_time_offsets=True,
        diarization=pb.DiarizationConfig(enable_speaker_diarization=True, **counts),
    )


async def test_three_voices_get_three_speakers_with_boundaries_near_the_truth(
    stub: pb_grpc.AsrServiceStub, clip: bytes
) -> None:
    response = await stub.Recognize(
        pb.RecognizeRequest(config=diarized(), audio=audio_pb2.AudioSource(content=clip)), timeout=180
    )
    segments = response.transcript.segments
    assert [s.label for s in response.speakers] == ["S1", "S2", "S3"]
    assert all(s.talk_time_ms > 3000 and s.turn_count >= 1 for s in response.speakers)
    assert all(s.speaker for s in segments) and all(w.speaker for s in segments for w in s.words)
    # Where the speaker changes in the transcript, compared with where the next voice really starts.
    found = [b.start_ms / 1000 for a, b in itertools.pairwise(segments) if a.speaker != b.speaker]
    truth = true_changes(clip)
    assert len(found) == len(truth), (found, truth)
    for seen, real in zip(found, truth, strict=True):
        assert abs(seen - real) < 1.0, (found, truth)


async def test_an_exact_count_and_a_single_voice(stub: pb_grpc.AsrServiceStub, clip: bytes) -> None:
    two = await stub.Recognize(
        pb.RecognizeRequest(config=diarized(speaker_count=2), audio=audio_pb2.AudioSource(content=clip)), timeout=180
    )
    assert [s.label for s in two.speakers] == ["S1", "S2"]
    one_voice = multi_voice_wav(espeak_or_skip(), voices=VOICES[:1])
    single = await stub.Recognize(
        pb.RecognizeRequest(config=diarized(), audio=audio_pb2.AudioSource(content=one_voice)), timeout=180
    )
    assert [s.label for s in single.speakers] == ["S1"]


def silence_wav(seconds: float) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\0" * int(16000 * seconds))
    return out.getvalue()


@pytest.mark.parametrize("seconds", [3.0, 0.2])
async def test_silence_and_very_short_audio_have_no_speakers(stub: pb_grpc.AsrServiceStub, seconds: float) -> None:
    response = await stub.Recognize(
        pb.RecognizeRequest(config=diarized(), audio=audio_pb2.AudioSource(content=silence_wav(seconds))),
        timeout=60,
    )
    assert list(response.speakers) == []


@pytest.mark.parametrize(
    "counts",
    [
        {"min_speaker_count": 4, "max_speaker_count": 2},
        {"speaker_count": 50},
        {"speaker_count": 5, "min_speaker_count": 1, "max_speaker_count": 3},
    ],
)
async def test_bad_counts_are_invalid_argument(stub: pb_grpc.AsrServiceStub, counts: dict[str, int]) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Recognize(
            pb.RecognizeRequest(config=diarized(**counts), audio=audio_pb2.AudioSource(content=silence_wav(1))),
            timeout=60,
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "speaker" in (caught.value.details() or "")


async def test_list_models_says_diarization_is_served(stub: pb_grpc.AsrServiceStub) -> None:
    models = await stub.ListModels(pb.ListModelsRequest())
    assert all(m.supports_diarization for m in models.models)
