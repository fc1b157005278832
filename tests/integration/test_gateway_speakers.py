"""Speakers through the gateway: a three-voice clip made with espeak-ng, diarized by the real ASR server (Whisper +
the embedded GE2E diarizer) in a REST job; naming the speakers afterwards (``PUT /v1/jobs/{id}/speakers``), the
job's recording for the page's waveform (``GET /v1/jobs/{id}/audio``), and OpenAI's ``diarized_json`` through the
official SDK."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import subprocess
import tempfile
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

import httpx
import openai
import pytest

from tests.integration.gateway_stack import Services, gateway_settings, running_gateway

pytestmark = pytest.mark.integration

KEY: Final = "speakers-test-key"
AUTH: Final = {"Authorization": f"Bearer {KEY}"}
PAUSE_S: Final = 0.7
VOICES: Final = (
    (
        "en+m3",
        "Good morning, and welcome to the weekly planning meeting. "
        "Today we need to agree on the budget for the new studio.",
    ),
    (
        "en+f3",
        "Thanks for having me. I looked at the numbers last night, "
        "and I think we can afford two new microphones this quarter.",
    ),
    (
        "en-us+m7",
        "That sounds reasonable to me. Let us order them on Friday, and we can test the recordings next week.",
    ),
)
"""(espeak-ng voice, what it says): three clearly different voices, one turn each."""


def espeak_or_skip() -> str:
    """The espeak-ng binary; a skip with the reason without it (a failure in CI, which must install it)."""
    found = shutil.which("espeak-ng")
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("espeak-ng is missing; CI must install it (apt-get install espeak-ng)")
        pytest.skip("espeak-ng is missing (apt-get install espeak-ng); the speaker tests synthesize their clip")
    return found


def multi_voice_wav(espeak: str, voices: tuple[tuple[str, str], ...] = VOICES, pause_s: float = PAUSE_S) -> bytes:
    """One WAV of each voice's text in turn, ``pause_s`` of silence between turns (espeak-ng's 22.05 kHz mono)."""
    frames: list[bytes] = []
    rate = width = 0
    with tempfile.TemporaryDirectory() as tmp:
        for index, (voice, text) in enumerate(voices):
            path = Path(tmp) / f"{index}.wav"
            subprocess.run([espeak, "-v", voice, "-s", "160", "-w", str(path), text], check=True, capture_output=True)
            with wave.open(str(path), "rb") as part:
                if index:
                    frames.append(b"\0" * int(rate * pause_s) * width)
                rate, width = part.getframerate(), part.getsampwidth()
                assert part.getnchannels() == 1
                frames.append(part.readframes(part.getnframes()))
    out = io.BytesIO()
    with wave.open(out, "wb") as joined:
        joined.setnchannels(1)
        joined.setsampwidth(width)
        joined.setframerate(rate)
        joined.writeframes(b"".join(frames))
    return out.getvalue()


@pytest.fixture(scope="module")
def clip() -> bytes:
    return multi_voice_wav(espeak_or_skip())


@pytest.fixture(scope="module")
async def gateway(services: Services, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    settings = gateway_settings(services, tmp_path_factory.mktemp("gw-speakers"), api_keys=KEY, link_secret="k" * 32)
    async with running_gateway(settings) as app:
        yield app


@pytest.fixture(scope="module")
async def http(gateway: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.http_port}", headers=AUTH, timeout=60) as c:
        yield c


async def wait_final(http: httpx.AsyncClient, job_id: str, timeout_s: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job: dict[str, Any] = (await http.get(f"/v1/jobs/{job_id}")).json()
        if job["state"] in ("JOB_STATE_SUCCEEDED", "JOB_STATE_PARTIALLY_SUCCEEDED", "JOB_STATE_FAILED"):
            return job
        await asyncio.sleep(0.25)
    raise AssertionError(f"job {job_id} did not finish in {timeout_s:g} s")


def labels_in_order(segments: list[dict[str, Any]]) -> list[str]:
    seen: list[str] = []
    for segment in segments:
        if segment.get("speaker") and segment["speaker"] not in seen:
            seen.append(segment["speaker"])
    return seen


async def artifact_text(http: httpx.AsyncClient, job_id: str, filename: str) -> str:
    response = await http.get(f"/v1/jobs/{job_id}/artifacts/{filename}")
    assert response.status_code == 200, response.text
    return response.text


@pytest.fixture(scope="module")
async def diarized_job(http: httpx.AsyncClient, clip: bytes) -> dict[str, Any]:
    started = time.monotonic()
    response = await http.post(
        "/v1/jobs",
        files={"file": ("meeting.wav", clip, "audio/wav")},
        data={"diarize": "true", "formats": "srt,vtt,json", "language": "en"},
    )
    assert response.status_code == 201, response.text
    created = response.json()
    diarization = created["config"]["recognition"]["diarization"]
    assert diarization == {"enableSpeakerDiarization": True}
    assert created["config"]["recognition"]["enableWordTimeOffsets"] is True
    job = await wait_final(http, created["id"])
    assert job["state"] == "JOB_STATE_SUCCEEDED", job.get("error")
    print(f"\ndiarized job: {time.monotonic() - started:.1f} s for {len(clip) / 44_100:.1f} s of audio")
    return job


async def test_a_job_labels_its_speakers(http: httpx.AsyncClient, diarized_job: dict[str, Any]) -> None:
    result = diarized_job["result"]
    segments = result["transcript"]["segments"]
    assert segments and all(s.get("speaker") for s in segments), segments
    labels = labels_in_order(segments)
    assert 2 <= len(labels) <= 4, labels
    assert labels == [f"S{i}" for i in range(1, len(labels) + 1)], labels
    # The first voice opens the clip and the last one closes it: different speakers.
    assert segments[0]["speaker"] == "S1" and segments[-1]["speaker"] != "S1", segments
    speakers = result["speakers"]
    assert [s["label"] for s in speakers] == labels, speakers
    assert 2 <= len(speakers) <= 4
    for speaker in speakers:
        assert int(speaker["talkTimeMs"]) > 500 and speaker["turnCount"] >= 1, speaker
    # `diarize` turned word times on; a word's speaker shows through its segment (segments are cut where it changes).
    assert all(s.get("words") for s in segments), segments
    vtt = await artifact_text(http, diarized_job["id"], "transcript.vtt")
    assert vtt.startswith("WEBVTT") and "<v S1>" in vtt and "<v S2>" in vtt, vtt
    srt = await artifact_text(http, diarized_job["id"], "transcript.srt")
    assert " --> " in srt


async def test_naming_speakers_renders_again(http: httpx.AsyncClient, diarized_job: dict[str, Any]) -> None:
    job_id = diarized_job["id"]
    response = await http.put(f"/v1/jobs/{job_id}/speakers", json={"speaker_names": {"S1": "Alice"}})
    assert response.status_code == 200, response.text
    renamed = response.json()
    assert renamed["config"]["speakerNames"] == {"S1": "Alice"}
    assert {a["filename"] for a in renamed["result"]["artifacts"]} >= {"transcript.vtt", "transcript.srt"}
    vtt = await artifact_text(http, job_id, "transcript.vtt")
    assert "<v Alice>" in vtt and "<v S1>" not in vtt and "<v S2>" in vtt, vtt
    fetched = (await http.get(f"/v1/jobs/{job_id}")).json()
    assert fetched["config"]["speakerNames"] == {"S1": "Alice"}
    # The labels in the structured result stay labels; names live in the config.
    assert fetched["result"]["transcript"]["segments"][0]["speaker"] == "S1"

    both = await http.put(f"/v1/jobs/{job_id}/speakers", json={"speaker_names": {"S1": "", "S2": "Bob"}})
    assert both.status_code == 200 and both.json()["config"]["speakerNames"] == {"S2": "Bob"}
    vtt = await artifact_text(http, job_id, "transcript.vtt")
    assert "<v S1>" in vtt and "<v Bob>" in vtt and "Alice" not in vtt, vtt


async def test_naming_speakers_is_refused_when_it_cannot_apply(
    http: httpx.AsyncClient, diarized_job: dict[str, Any], clip: bytes
) -> None:
    empty = await http.put(f"/v1/jobs/{diarized_job['id']}/speakers", json={"speaker_names": {"": "Nobody"}})
    assert empty.status_code == 400 and empty.json()["error"]["code"] == "INVALID_ARGUMENT", empty.text
    missing = await http.put("/v1/jobs/no-such-job/speakers", json={"speaker_names": {"S1": "Alice"}})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND", missing.text
    not_a_map = await http.put(f"/v1/jobs/{diarized_job['id']}/speakers", json={"speaker_names": ["S1"]})
    assert not_a_map.status_code == 400, not_a_map.text
    unauthenticated = await http.put(
        f"/v1/jobs/{diarized_job['id']}/speakers", json={"speaker_names": {"S1": "Eve"}}, headers={"Authorization": ""}
    )
    assert unauthenticated.status_code == 401

    created = await http.post(
        "/v1/jobs", files={"file": ("again.wav", clip, "audio/wav")}, data={"speakers": "3", "formats": "vtt"}
    )
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["config"]["recognition"]["diarization"] == {"enableSpeakerDiarization": True, "speakerCount": 3}
    busy = await http.put(f"/v1/jobs/{job['id']}/speakers", json={"speaker_names": {"S1": "Alice"}})
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "FAILED_PRECONDITION", busy.text
    assert "once it has finished" in busy.json()["error"]["message"]
    await http.post(f"/v1/jobs/{job['id']}/cancel")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"speakers": "two"}, "speakers: 'two' is not a whole number"),
        ({"speakers": "21"}, "speakers: must be 1..20"),
        ({"min_speakers": "3", "max_speakers": "2"}, "min_speakers (3) is larger than max_speakers (2)"),
        ({"speakers": "5", "max_speakers": "4"}, "speakers (5) lies outside"),
        ({"diarize": "maybe"}, "diarize: 'maybe' is not a boolean"),
    ],
)
async def test_bad_speaker_fields_are_400(
    http: httpx.AsyncClient, clip: bytes, fields: dict[str, str], message: str
) -> None:
    for route in ("/v1/jobs", "/v1/process"):
        response = await http.post(route, files={"file": ("x.wav", clip[:4096], "audio/wav")}, data=fields)
        assert response.status_code == 400, response.text
        assert message in response.json()["error"]["message"], response.text


async def test_the_recording_streams_with_a_key_or_a_share_link(
    gateway: Any, http: httpx.AsyncClient, diarized_job: dict[str, Any], clip: bytes
) -> None:
    job_id = diarized_job["id"]
    audio = await http.get(f"/v1/jobs/{job_id}/audio")
    assert audio.status_code == 200 and audio.content == clip
    assert audio.headers["content-type"] == "audio/wav"
    assert audio.headers["content-disposition"].startswith('inline; filename="meeting.wav"')
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.http_port}") as anonymous:
        assert (await anonymous.get(f"/v1/jobs/{job_id}/audio")).status_code == 401
        query = (await http.get(f"/v1/jobs/{job_id}/share")).json()["query"]
        shared = await anonymous.get(f"/v1/jobs/{job_id}/audio", params=query)
        assert shared.status_code == 200 and shared.content == clip
        forged = await anonymous.get(f"/v1/jobs/{job_id}/audio", params={**query, "sig": "0" * 64})
        assert forged.status_code == 403
        other = await anonymous.get("/v1/jobs/another-job/audio", params=query)
        assert other.status_code == 403
    assert (await http.get("/v1/jobs/no-such-job/audio")).status_code == 404


async def test_process_with_an_exact_speaker_count(http: httpx.AsyncClient, clip: bytes) -> None:
    response = await http.post(
        "/v1/process",
        files={"file": ("meeting.wav", clip, "audio/wav")},
        data={"speakers": "3", "formats": "vtt", "language": "en"},
        timeout=240,
    )
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert [s["label"] for s in result["speakers"]] == ["S1", "S2", "S3"], result["speakers"]
    vtt = next(a["text"] for a in result["artifacts"] if a["filename"] == "transcript.vtt")
    assert all(f"<v S{i}>" in vtt for i in (1, 2, 3)), vtt


async def test_openai_diarized_json(gateway: Any, clip: bytes) -> None:
    async with openai.AsyncOpenAI(
        api_key=KEY, base_url=f"http://127.0.0.1:{gateway.http_port}/v1", max_retries=0, timeout=240
    ) as client:
        result = await client.audio.transcriptions.create(
            model="whisper-1", file=("meeting.wav", clip, "audio/wav"), language="en", response_format="diarized_json"
        )
    # openai 2.x knows the format and types the answer (TranscriptionDiarized).
    segments = result.segments
    assert segments and all(s.type == "transcript.text.segment" and s.speaker for s in segments), segments
    labels = labels_in_order([s.model_dump() for s in segments])
    assert 2 <= len(labels) <= 4 and labels[0] == "S1", labels
    assert all(s.end > s.start >= 0 and s.id.startswith("seg_") for s in segments)
    assert "budget" in result.text.lower() and result.duration > 10
    assert result.task == "transcribe"
