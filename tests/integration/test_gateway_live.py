"""The gateway's live stream (WebSocket ``/v1/stream``) over real services on loopback: real speech streamed to the
session's Whisper base ASR server, finals translated live by the translate service (its LLM engine on the scripted
fault server, which answers ``«de» <text>``), the session saved as a job that REST serves like any other, and the
errors, limits and timeouts a client can run into."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import numpy as np
import pytest
from prometheus_client import REGISTRY
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import SAMPLES
from tests.integration.gateway_stack import Services, gateway_settings, running_gateway
from tests.integration.llm_fault_server import echo_text
from ting.audio.v1 import audio_pb2
from ting.gateway.v1 import pipeline_service_pb2 as pb
from ting.gateway.v1 import pipeline_service_pb2_grpc as pb_grpc
from ting_common.audio import decode_audio
from ting_common.scoring import error_rate

pytestmark = pytest.mark.integration

RATE = 16_000
CHUNK = RATE * 2 // 10  # 100 ms of LINEAR16 mono
CLIP_S = 14.9  # the first three sentences of meeting_intro.wav (the fourth starts at 15.0 s)
REFERENCE = (
    "Good morning everyone, and welcome to the weekly product meeting. Today we have three topics on the agenda. "
    "First, the release of version two point four is planned for next Friday, and the team has finished most of "
    "the testing."
)
# Whisper base decodes the whole file offline at ~2 % WER; VAD utterances cost a little context.
WER_BOUND = 0.25
ES_WEATHER_EN = (
    "Good morning everyone. Today we are going to talk about the weather in Madrid. Tomorrow it will be sunny in "
    "the morning and it will rain in the afternoon. Please bring an umbrella."
)
IDLE_S = 2.0


def pcm16(seconds: float) -> bytes:
    samples = decode_audio(str(SAMPLES / "meeting_intro.wav"), target_sample_rate=RATE).samples
    return (np.clip(samples[: int(seconds * RATE)], -1, 1) * 32767).astype("<i2").tobytes()


CLIP = pcm16(CLIP_S)


def start(**fields: Any) -> str:
    return json.dumps({"type": "start", "encoding": "linear16", "sample_rate": RATE, "channels": 1, **fields})


@dataclass
class Session:
    """What a client saw: the events in order and how the server closed the socket."""

    events: list[dict[str, Any]] = field(default_factory=list)
    close_code: int | None = None

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    @property
    def error(self) -> dict[str, Any]:
        errors = [e for e in self.events if e["type"] == "error" and e["fatal"]]
        assert len(errors) == 1, self.events
        assert self.events[-1] is errors[0], self.events
        return errors[0]


async def collect(ws: ClientConnection, session: Session) -> Session:
    """Every event until the server closes the socket."""
    with contextlib.suppress(ConnectionClosed):
        async for message in ws:
            assert isinstance(message, str)
            session.events.append(json.loads(message))
    session.close_code = ws.close_code
    return session


async def send_audio(ws: ClientConnection, pcm: bytes, *, stop: bool = True) -> None:
    with contextlib.suppress(ConnectionClosed):
        for pos in range(0, len(pcm), CHUNK):
            await ws.send(pcm[pos : pos + CHUNK])
        if stop:
            await ws.send(json.dumps({"type": "stop"}))


async def stream(url: str, first: str | bytes, pcm: bytes = b"", **kwargs: Any) -> Session:
    """Connect, send ``first``, then ``pcm`` in 100 ms frames and ``stop`` (as fast as the socket takes them)."""
    async with connect(url, max_size=None, **kwargs) as ws:
        with contextlib.suppress(ConnectionClosed):  # the server may refuse (key, limit) before reading it
            await ws.send(first)
        sender = asyncio.create_task(send_audio(ws, pcm)) if pcm else None
        session = await asyncio.wait_for(collect(ws, Session()), 240)
        if sender is not None:
            await sender
    return session


def live_gauge() -> float:
    return REGISTRY.get_sample_value("ting_gateway_live_streams") or 0.0


def asr_streams() -> float:
    return REGISTRY.get_sample_value("ting_asr_streams_active") or 0.0


async def until(condition: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
async def gateway(services: Services, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    """One live stream at a time, a short idle timeout."""
    settings = gateway_settings(
        services, tmp_path_factory.mktemp("gw-live"), live={"max_streams": 1, "idle_timeout_s": IDLE_S}
    )
    async with running_gateway(settings) as app:
        yield app


@pytest.fixture
def url(gateway: Any) -> str:
    return f"ws://127.0.0.1:{gateway.http_port}/v1/stream"


async def test_english_from_other_speech_comes_from_whisper_translate(gateway: Any, url: str) -> None:
    """Live English from Spanish speech goes through the ASR service's translate task on each utterance's audio, as
    the offline pipeline does (no text-translation engine needed); the saved job keeps it as a speech translation."""
    samples = decode_audio(str(SAMPLES / "es_weather.wav"), target_sample_rate=RATE).samples
    spanish = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
    session = await stream(url, start(language="es", translate=["en"]), spanish)
    assert session.close_code == 1000, session.events
    assert not session.of("error"), session.events
    spoken = [f for f in session.of("final") if f["text"]]
    translations = {t["utterance"]: t for t in session.of("translation")}
    assert spoken and sorted(translations) == [f["utterance"] for f in spoken]
    english = " ".join(translations[f["utterance"]]["text"] for f in spoken)
    assert "«en»" not in english  # not the translation service's (scripted) answer
    # English, not the Spanish transcript; Whisper base renders espeak's Spanish loosely, so the bound is loose.
    assert "today" in english.lower() and "Madrid" in english and "hoy" not in english.lower(), english
    assert error_rate(ES_WEATHER_EN, english) <= 0.8, english
    done = session.events[-1]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.http_port}", timeout=60) as http:
        job = (await http.get(done["job_url"])).json()
    (saved,) = job["result"]["translations"]
    assert saved["languageCode"] == "en" and saved["method"] == "TRANSLATION_METHOD_SPEECH"
    assert [c["text"] for c in saved["cues"]] == [translations[f["utterance"]]["text"] for f in spoken]


async def test_live_stream_is_transcribed_translated_and_saved_as_a_job(gateway: Any, url: str) -> None:
    session = await stream(url, start(language="en", translate=["de"], summarize=True, title="Weekly"), CLIP)
    assert session.close_code == 1000, session.events
    kinds = [e["type"] for e in session.events]
    assert kinds[0] == "ready" and session.events[0]["session_id"] and session.events[0]["request_id"]
    assert kinds[-1] == "done"
    assert "error" not in kinds, session.events
    assert "speech_start" in kinds and "speech_end" in kinds
    assert kinds.index("speech_start") < kinds.index("partial") < kinds.index("final")
    for partial in session.of("partial"):
        assert partial["text"].startswith(partial["stable_text"]) and 0 <= partial["stability"] <= 1
        assert partial["start_s"] <= partial["end_s"]

    finals = session.of("final")
    assert [f["utterance"] for f in finals] == list(range(len(finals)))
    text = " ".join(f["text"] for f in finals)
    assert error_rate(REFERENCE, text) <= WER_BOUND, text
    for final in finals:
        assert final["language"] == "en" and final["words"]
        assert 0 <= final["start_s"] < final["end_s"] <= CLIP_S + 0.1
        for word in final["words"]:
            assert final["start_s"] - 0.05 <= word["start_s"] <= word["end_s"] <= final["end_s"] + 0.5
            assert word["word"] == word["word"].strip() and 0 <= word["probability"] <= 1

    # Every final with text is translated (the fault server's deterministic "translation"), after the final.
    translations = {t["utterance"]: t for t in session.of("translation")}
    spoken = [f for f in finals if f["text"]]
    assert sorted(translations) == [f["utterance"] for f in spoken]
    for final in spoken:
        translation = translations[final["utterance"]]
        assert translation["language"] == "de"
        assert translation["text"] == echo_text("de", final["text"])
        assert session.events.index(final) < session.events.index(translation)

    done = session.events[-1]
    assert done["utterances"] == len(finals)
    assert done["duration_s"] == pytest.approx(CLIP_S, abs=0.01)
    assert done["job_url"] == f"/v1/jobs/{done['job_id']}" and done["job_state"] == "SUCCEEDED"
    assert live_gauge() == 0 and gateway.live.active == 0

    # The job: readable like any other, with the live transcript and translations, a summary, files and the audio.
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.http_port}", timeout=60) as http:
        job = (await http.get(done["job_url"])).json()
        assert job["state"] == "JOB_STATE_SUCCEEDED", job
        assert job["displayName"] == "Weekly" and job["labels"] == {"source": "live"}
        transcript = job["result"]["transcript"]
        assert [s["text"].strip() for s in transcript["segments"]] == [f["text"] for f in finals]
        assert transcript["languageCode"] == "en"
        assert all(s.get("words") for s in transcript["segments"] if s["text"].strip())
        (german,) = job["result"]["translations"]
        assert german["languageCode"] == "de"
        assert [c["text"] for c in german["cues"]] == [translations[f["utterance"]]["text"] for f in spoken]
        assert job["result"]["summary"]
        steps = {(s["stage"], s.get("languageCode", "")): s["state"] for s in job["steps"]}
        assert set(steps.values()) == {"STEP_STATE_SUCCEEDED"}, steps
        assert ("PIPELINE_STAGE_SUMMARIZING", "") in steps

        names = {a["filename"] for a in job["result"]["artifacts"]}
        assert {"transcript.srt", "transcript.vtt", "transcript.txt", "transcript.json", "translation.de.srt"} <= names
        assert "summary.txt" in names
        srt = await http.get(f"/v1/jobs/{done['job_id']}/artifacts/transcript.srt")
        assert srt.status_code == 200 and srt.text.count("-->") == len(spoken)
        txt = await http.get(f"/v1/jobs/{done['job_id']}/artifacts/transcript.txt")
        assert txt.status_code == 200 and error_rate(REFERENCE, txt.text) <= WER_BOUND
        german_srt = await http.get(f"/v1/jobs/{done['job_id']}/artifacts/translation.de.srt")
        assert german_srt.status_code == 200 and german_srt.text.count("«de»") == len(spoken)

        audio = await http.get(f"/v1/jobs/{done['job_id']}/audio")
        assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
        with wave.open(io.BytesIO(audio.content)) as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (RATE, 1, 2)
            assert wav.readframes(wav.getnframes()) == CLIP


async def test_binary_before_start_is_refused(url: str) -> None:
    session = await stream(url, CLIP[:CHUNK])
    assert session.error["code"] == "INVALID_ARGUMENT" and session.error["http_status"] == 400
    assert "start" in session.error["message"]
    assert session.close_code == 1008 and len(session.events) == 1


@pytest.mark.parametrize("first", ["{not json", '["start"]', json.dumps({"type": "hello"})])
async def test_a_first_message_that_is_not_a_start_is_refused(url: str, first: str) -> None:
    session = await stream(url, first)
    assert session.error["code"] == "INVALID_ARGUMENT" and session.close_code == 1008
    assert len(session.events) == 1


async def test_unknown_message_type_after_start_is_refused(url: str) -> None:
    async with connect(url) as ws:
        await ws.send(start())
        await ws.send(CLIP[:CHUNK])
        await ws.send(json.dumps({"type": "pause"}))
        session = await collect(ws, Session())
    assert session.events[0]["type"] == "ready"
    assert session.error["code"] == "INVALID_ARGUMENT" and "'pause'" in session.error["message"]
    assert session.close_code == 1008


async def test_a_second_start_is_refused(url: str) -> None:
    async with connect(url) as ws:
        await ws.send(start())
        await ws.send(start())
        session = await collect(ws, Session())
    assert session.events[0]["type"] == "ready"
    assert session.error["code"] == "INVALID_ARGUMENT" and "once" in session.error["message"]
    assert session.close_code == 1008


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"encoding": "mp3"}, "encoding"),
        ({"task": "dance"}, "task"),
        ({"language": "english!"}, "language"),
        ({"translate": "de"}, "translate"),
        ({"translate": ["de", "DE"]}, "twice"),
        ({"interim_results": "yes"}, "interim_results"),
    ],
)
async def test_bad_start_fields_are_refused(url: str, fields: dict[str, Any], words: str) -> None:
    session = await stream(url, start(**fields))
    assert session.error["code"] == "INVALID_ARGUMENT" and words in session.error["message"], session.error
    assert session.close_code == 1008 and len(session.events) == 1


async def test_a_sample_rate_out_of_range_is_the_asr_services_invalid_argument(url: str) -> None:
    session = await stream(url, start(sample_rate=4000), CLIP[: CHUNK * 5])
    assert session.events[0]["type"] == "ready"
    error = session.error
    assert error["code"] == "INVALID_ARGUMENT" and error["http_status"] == 400
    assert "sample_rate" in error["message"] and error["message"].startswith("asr:")
    assert session.close_code == 1008


async def test_too_many_streams_is_resource_exhausted(gateway: Any, url: str) -> None:
    async with connect(url) as first:
        await first.send(start(save=False))
        assert json.loads(await first.recv())["type"] == "ready"
        assert gateway.live.active == 1 and live_gauge() == 1
        session = await stream(url, start())
        assert session.error["code"] == "RESOURCE_EXHAUSTED" and session.error["http_status"] == 429
        assert session.close_code == 1013
        await first.send(json.dumps({"type": "stop"}))
        rest = await collect(first, Session())
    assert rest.events[-1] == {
        "type": "done",
        "job_id": None,
        "job_url": None,
        "duration_s": 0.0,
        "utterances": 0,
        "reason": "stop",
    }
    assert rest.close_code == 1000


async def test_an_idle_stream_times_out(url: str) -> None:
    async with connect(url) as ws:
        await ws.send(start())
        await ws.send(CLIP[:CHUNK])
        began = asyncio.get_running_loop().time()
        session = await collect(ws, Session())
    assert session.error["code"] == "DEADLINE_EXCEEDED" and "no audio" in session.error["message"]
    assert session.close_code == 1008
    assert IDLE_S - 0.5 <= asyncio.get_running_loop().time() - began <= IDLE_S + 5


async def test_a_client_that_leaves_mid_utterance_frees_its_slot_and_the_asr_stream(gateway: Any, url: str) -> None:
    async with connect(url) as ws:
        await ws.send(start())
        await send_audio(ws, CLIP[: RATE * 2 * 2], stop=False)  # 2 s: mid-way through the first sentence
        while json.loads(await ws.recv())["type"] != "speech_start":
            pass
        assert gateway.live.active == 1 and asr_streams() == 1
    # The client is gone without `stop`: the slot and the ASR's stream are released at once, no job is saved.
    await until(lambda: gateway.live.active == 0 and live_gauge() == 0 and asr_streams() == 0)
    jobs_before = (await gateway.gateway.list_jobs(pb.ListJobsRequest())).total_size
    session = await stream(url, start(save=False), CLIP[: CHUNK * 10])
    assert session.events[0]["type"] == "ready" and session.events[-1]["type"] == "done"
    assert session.events[-1]["job_id"] is None and session.close_code == 1000
    assert (await gateway.gateway.list_jobs(pb.ListJobsRequest())).total_size == jobs_before
    await until(lambda: gateway.live.active == 0 and asr_streams() == 0)


async def test_keys_are_required_when_configured(services: Services, tmp_path_factory: pytest.TempPathFactory) -> None:
    settings = gateway_settings(services, tmp_path_factory.mktemp("gw-live-keys"), api_keys="k1", workers=0)
    async with running_gateway(settings) as app:
        url = f"ws://127.0.0.1:{app.http_port}/v1/stream"
        wrong: dict[str, Any] = {"additional_headers": {"Authorization": "Bearer nope"}}
        for kwargs in ({}, wrong):
            session = await stream(url, start(), **kwargs)
            assert session.error["code"] == "UNAUTHENTICATED" and session.error["http_status"] == 401
            assert session.close_code == 1008 and len(session.events) == 1
        session = await stream(f"{url}?api_key=nope", start())
        assert session.error["code"] == "UNAUTHENTICATED" and session.close_code == 1008
        bearer: dict[str, Any] = {"additional_headers": {"Authorization": "Bearer k1"}}
        for target, kwargs in ((f"{url}?api_key=k1", {}), (url, bearer)):
            session = await stream(target, start(save=False), CLIP[:CHUNK], **kwargs)
            assert session.events[0]["type"] == "ready" and session.events[-1]["type"] == "done", session.events
            assert session.close_code == 1000


# -- the same session over gRPC (PipelineService.StreamProcess) ----------------------------------------------


def process_config(**fields: Any) -> pb.StreamProcessRequest:
    fmt = audio_pb2.AudioFormat(encoding=audio_pb2.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=RATE, channel_count=1)
    return pb.StreamProcessRequest(config=pb.StreamProcessConfig(audio_format=fmt, **fields))


async def process_requests(first: pb.StreamProcessRequest, pcm: bytes) -> AsyncIterator[pb.StreamProcessRequest]:
    yield first
    for pos in range(0, len(pcm), CHUNK):
        yield pb.StreamProcessRequest(audio_content=pcm[pos : pos + CHUNK])


@pytest.fixture
async def stub(gateway: Any) -> AsyncIterator[pb_grpc.PipelineServiceStub]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway.port}") as channel:
        yield pb_grpc.PipelineServiceStub(channel)


async def test_stream_process_over_grpc_gives_the_same_events_and_job(
    gateway: Any, stub: pb_grpc.PipelineServiceStub
) -> None:
    seconds = 7.0  # "Good morning ... agenda." (the second sentence ends at 6.7 s)
    config = process_config(language_code="en", interim_results=True, translate_language_codes=["de", "en"])
    responses = [r async for r in stub.StreamProcess(process_requests(config, CLIP[: int(seconds * RATE) * 2]))]
    kinds = [r.WhichOneof("event") for r in responses]
    assert kinds[0] == "ready" and kinds[-1] == "done" and "error" not in kinds, kinds
    assert "speech_start" in kinds and "partial" in kinds
    finals = [r.final for r in responses if r.HasField("final")]
    text = " ".join(f.text for f in finals)
    assert error_rate(" ".join(REFERENCE.split(". ")[:2]), text) <= WER_BOUND, text
    assert all(f.words and f.language_code == "en" and f.start_ms < f.end_ms for f in finals)
    translations = [r.translation for r in responses if r.HasField("translation")]
    german = {t.utterance: t.text for t in translations if t.language_code == "de"}
    english = {t.utterance: t for t in translations if t.language_code == "en"}
    assert german == {f.utterance: echo_text("de", f.text) for f in finals if f.text}
    assert all(english[f.utterance].same_language and english[f.utterance].text == f.text for f in finals if f.text)
    done = responses[-1].done
    assert done.job_id and done.job_state == pb.JOB_STATE_SUCCEEDED and done.reason == "stop"
    assert done.utterances == len(finals) and done.duration_ms == int(seconds * 1000)
    job = (await stub.GetJob(pb.GetJobRequest(job_id=done.job_id))).job
    assert job.state == pb.JOB_STATE_SUCCEEDED
    assert [s.text.strip() for s in job.result.transcript.segments] == [f.text for f in finals]
    assert [t.language_code for t in job.result.translations] == ["de"]  # "en" is the spoken language: skipped
    assert gateway.live.active == 0


async def test_stream_process_errors_are_statuses(gateway: Any, stub: pb_grpc.PipelineServiceStub, url: str) -> None:
    async def call(first: pb.StreamProcessRequest, pcm: bytes = b"") -> grpc.aio.AioRpcError:
        async def requests() -> AsyncIterator[pb.StreamProcessRequest]:
            async for request in process_requests(first, pcm):
                yield request
            # Stay open until the server's status: a half-close racing with it makes grpc's asyncio client report
            # INTERNAL "Internal error from Core" instead of the server's code (grpc/grpc#36066).
            await asyncio.sleep(30)

        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in stub.StreamProcess(requests()):
                pass
        return caught.value

    error = await call(pb.StreamProcessRequest(audio_content=CLIP[:CHUNK]))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "config" in (error.details() or "")
    fmt = audio_pb2.AudioFormat(encoding=audio_pb2.AUDIO_ENCODING_MP3)
    error = await call(pb.StreamProcessRequest(config=pb.StreamProcessConfig(audio_format=fmt)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "encoding" in (error.details() or "")
    # The ASR service's refusal, passed on.
    fmt = audio_pb2.AudioFormat(encoding=audio_pb2.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=4000)
    error = await call(pb.StreamProcessRequest(config=pb.StreamProcessConfig(audio_format=fmt)), CLIP[:CHUNK] * 3)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "sample_rate" in (error.details() or "")
    # One limit for both transports: a WebSocket stream holds the only slot.
    async with connect(url) as ws:
        await ws.send(start(save=False))
        assert json.loads(await ws.recv())["type"] == "ready"
        error = await call(process_config())
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        await ws.send(json.dumps({"type": "stop"}))
        await collect(ws, Session())
    await until(lambda: gateway.live.active == 0)


async def test_a_cancelled_stream_process_frees_its_slot(gateway: Any, stub: pb_grpc.PipelineServiceStub) -> None:
    async def slow() -> AsyncIterator[pb.StreamProcessRequest]:
        yield process_config()
        for pos in range(0, RATE * 2 * 3, CHUNK):
            yield pb.StreamProcessRequest(audio_content=CLIP[pos : pos + CHUNK])
        await asyncio.sleep(60)  # mid-utterance, the client stays silent (and then cancels)

    call = stub.StreamProcess(slow())
    async for response in call:
        if response.HasField("speech_start"):
            break
    assert gateway.live.active == 1 and asr_streams() == 1
    call.cancel()
    await until(lambda: gateway.live.active == 0 and live_gauge() == 0 and asr_streams() == 0)


async def test_an_ogg_opus_stream_is_saved_as_received(gateway: Any, url: str) -> None:
    """A container stream (as a browser's MediaRecorder sends it) goes to the ASR service as it is, and the job
    keeps the very bytes: its duration comes from the stream, its files from the usual pipeline."""
    ogg = (SAMPLES / "meeting_intro.ogg").read_bytes()
    session = await stream(url, json.dumps({"type": "start", "encoding": "ogg_opus", "language": "en"}), ogg)
    assert session.close_code == 1000 and "error" not in [e["type"] for e in session.events], session.events[-3:]
    text = " ".join(f["text"] for f in session.of("final"))
    assert error_rate((SAMPLES / "meeting_intro.txt").read_text(), text) <= WER_BOUND, text
    done = session.events[-1]
    assert done["job_state"] == "SUCCEEDED" and done["duration_s"] == pytest.approx(37.3, abs=0.5)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.http_port}", timeout=60) as http:
        audio = await http.get(f"/v1/jobs/{done['job_id']}/audio")
        assert audio.status_code == 200 and audio.headers["content-type"] == "audio/ogg"
        assert audio.content == ogg
        job = (await http.get(done["job_url"])).json()
        assert int(job["audioDurationMs"]) == pytest.approx(37_300, abs=500)
        vtt = await http.get(f"/v1/jobs/{done['job_id']}/artifacts/transcript.vtt")
        assert vtt.status_code == 200 and vtt.text.startswith("WEBVTT")


async def test_float32_stereo_at_48_khz_is_recorded_as_16_bit_wav(gateway: Any, url: str) -> None:
    mono = decode_audio(str(SAMPLES / "meeting_intro.wav"), target_sample_rate=48_000).samples[: 48_000 * 4]
    stereo = np.stack([mono, mono * 0.5], axis=1).astype("<f4")
    first = json.dumps({"type": "start", "encoding": "float32", "sample_rate": 48_000, "channels": 2})
    session = await stream(url, first, stereo.tobytes())
    assert session.close_code == 1000, session.events[-3:]
    assert "good morning" in " ".join(f["text"] for f in session.of("final")).lower()
    done = session.events[-1]
    assert done["duration_s"] == pytest.approx(4.0) and done["job_state"] == "SUCCEEDED"
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.http_port}", timeout=60) as http:
        audio = await http.get(f"/v1/jobs/{done['job_id']}/audio")
    with wave.open(io.BytesIO(audio.content)) as wav:
        shape = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth(), wav.getnframes())
        assert shape == (48_000, 2, 2, len(mono))
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2) / 32767
    assert np.abs(pcm - stereo).max() < 1e-3


async def test_the_recording_stops_at_its_duration_limit(
    services: Services, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """At ``live.max_duration_s`` the stream stops as if the client had said ``stop`` and is saved; on an
    API-only replica (no workers) ``done`` does not wait for the job."""
    settings = gateway_settings(services, tmp_path_factory.mktemp("gw-live-cap"), workers=0, live={"max_duration_s": 3})
    async with running_gateway(settings) as app:
        session = await stream(f"ws://127.0.0.1:{app.http_port}/v1/stream", start(), CLIP[: RATE * 2 * 6])
        done = session.events[-1]
        assert session.close_code == 1000 and done["type"] == "done", session.events[-3:]
        assert done["reason"] == "max_duration" and done["duration_s"] == 3.0 and done["job_state"] == "QUEUED"
        assert all(f["end_s"] <= 3.0 for f in session.of("final"))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.http_port}", timeout=60) as http:
            audio = await http.get(f"/v1/jobs/{done['job_id']}/audio")
        with wave.open(io.BytesIO(audio.content)) as wav:
            assert wav.readframes(wav.getnframes()) == CLIP[: RATE * 2 * 3]


async def test_a_failed_live_translation_is_not_fatal_and_the_job_translates_again(
    gateway: Any, url: str, services: Services
) -> None:
    from tests.integration.llm_fault_server import Fault

    services.fault.reset()
    services.fault.script.append(Fault(status=400, body={"error": {"message": "no such model"}}))
    try:
        session = await stream(url, start(language="en", translate=["fr"], max_utterance_s=3), CLIP[: RATE * 2 * 7])
    finally:
        services.fault.reset()
    assert session.close_code == 1000 and session.events[-1]["type"] == "done", session.events[-3:]
    (error,) = session.of("error")
    assert error["fatal"] is False and error["code"] == "FAILED_PRECONDITION" and error["http_status"] == 409
    assert error["language"] == "fr" and error["utterance"] == 0
    finals = [f for f in session.of("final") if f["text"]]
    assert len(finals) >= 2  # the stream went on after the failure
    assert {t["utterance"] for t in session.of("translation")} == {f["utterance"] for f in finals[1:]}
    # The job translates the whole transcript again (the target failed live), through the usual pipeline.
    done = session.events[-1]
    assert done["job_state"] == "SUCCEEDED"
    job = await gateway.gateway.get_job(done["job_id"])
    (french,) = job.result.translations
    assert [c.text for c in french.cues] == [echo_text("fr", f["text"]) for f in finals]
