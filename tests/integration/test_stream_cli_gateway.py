"""``ting stream`` through the gateway: the CLI (in a worker thread) -> a real gateway's ``StreamProcess`` -> the
session's real ASR server (Whisper base), each final translated live by the real translate service (its LLM engine
on the scripted fault server, which answers ``«de» <text>``), and the session saved as a job."""

from __future__ import annotations

import asyncio
import json
import re
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import numpy as np
import pytest

from tests.conftest import SAMPLES
from tests.integration.gateway_stack import Services, gateway_settings, running_gateway
from tests.integration.llm_fault_server import Fault, echo_text
from ting.gateway.v1 import pipeline_service_pb2 as pb
from ting.gateway.v1 import pipeline_service_pb2_grpc as pb_grpc
from ting_cli.main import main
from ting_common.audio import decode_audio
from ting_common.probe import free_port
from ting_common.scoring import error_rate

pytestmark = pytest.mark.integration

RATE = 16_000
# Whisper base decodes the English clip at a few % WER; VAD utterances cost a little context.
WER_BOUND = 0.25
# Its Spanish is weaker: the live finals of es_weather.wav measure 0.36 ("mañar", "paladro").
SPANISH_WER_BOUND = 0.5
FINAL_LINE = re.compile(r"^\[(\d\d:\d\d\.\d) → (\d\d:\d\d\.\d)\] (\S.*)$")
TRANSLATION_LINE = re.compile(r"^  \[([a-z]{2})\] (.*)$")
SAVED_LINE = re.compile(r"^saved as job (\S+)(.*)$")
FAILED_TRANSLATION = re.compile(
    r"^ting: warning: the translation of utterance (\d+) into fr failed: .+ \[FAILED_PRECONDITION\]$"
)
SPANISH = SAMPLES / "es_weather.wav"
# The first two sentences of meeting_intro.wav (the second ends at 6.7 s).
ENGLISH_S = 7.0
ENGLISH_REFERENCE = (
    "Good morning everyone, and welcome to the weekly product meeting. Today we have three topics on the agenda."
)
LIVE_EVENTS = {"ready", "speech_start", "speech_end", "partial", "final", "translation", "error", "done"}


async def ting(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ting: error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def english(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first ENGLISH_S seconds of meeting_intro.wav as a 16 kHz mono WAV file."""
    samples = decode_audio(str(SAMPLES / "meeting_intro.wav"), target_sample_rate=RATE).samples
    path = tmp_path_factory.mktemp("clips") / "meeting_start.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes((np.clip(samples[: int(ENGLISH_S * RATE)], -1, 1) * 32767).astype("<i2").tobytes())
    return path


@pytest.fixture(scope="module")
async def gateway(services: Services, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A gateway with two workers; its gRPC address."""
    async with running_gateway(gateway_settings(services, tmp_path_factory.mktemp("gw-stream-cli"))) as app:
        yield f"127.0.0.1:{app.port}"


@pytest.fixture
async def stub(gateway: str) -> AsyncIterator[pb_grpc.PipelineServiceStub]:
    async with grpc.aio.insecure_channel(gateway) as channel:
        yield pb_grpc.PipelineServiceStub(channel)


async def test_text_finals_with_translations_under_them_and_the_saved_job(
    gateway: str, stub: pb_grpc.PipelineServiceStub, english: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    code = await ting("stream", str(english), "--translate", "de", "--speed", "4", "--server", gateway)
    elapsed = time.monotonic() - started
    out, err = capsys.readouterr()
    assert code == 0, err
    assert elapsed >= ENGLISH_S / 4 - 0.3  # paced
    assert "\r" not in out and "~ " not in out  # piped: no interims unless --interim

    # Every final, then its translation (the fault server's) right under it, then the saved line last.
    *body, last = out.splitlines()
    finals: list[str] = []
    translations: list[str] = []
    for i, line in enumerate(body):
        final = FINAL_LINE.match(line)
        if final:
            finals.append(final.group(3))
            assert i + 1 < len(body) and TRANSLATION_LINE.match(body[i + 1]), out
            continue
        translation = TRANSLATION_LINE.match(line)
        assert translation and translation.group(1) == "de", out
        assert FINAL_LINE.match(body[i - 1]), out
        translations.append(translation.group(2))
    assert finals and translations == [echo_text("de", text) for text in finals], out
    assert error_rate(ENGLISH_REFERENCE, " ".join(finals)) <= WER_BOUND, finals

    saved = SAVED_LINE.match(last)
    assert saved, out
    job_id = saved.group(1)
    assert saved.group(2) == f" (`ting jobs get {job_id}` shows it)"
    job = (await stub.GetJob(pb.GetJobRequest(job_id=job_id))).job
    assert job.state == pb.JOB_STATE_SUCCEEDED and dict(job.labels) == {"source": "live"}
    assert job.audio_duration_ms == ENGLISH_S * 1000
    assert [s.text.strip() for s in job.result.transcript.segments] == finals
    (german,) = job.result.translations
    assert german.language_code == "de" and [c.text for c in german.cues] == translations


async def test_json_lines_are_the_websocket_events(
    gateway: str, stub: pb_grpc.PipelineServiceStub, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ("--format", "json", "-l", "es", "-t", "en,es", "--title", "El tiempo", "--server", gateway)
    code = await ting("stream", str(SPANISH), *argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "ready" and kinds[-1] == "done" and set(kinds) <= LIVE_EVENTS - {"error"}, kinds
    assert events[0]["session_id"] and events[0]["request_id"]
    assert "partial" in kinds and kinds.index("partial") < kinds.index("final")  # json shows partials by default
    for partial in (e for e in events if e["type"] == "partial"):
        assert partial["text"].startswith(partial["stable_text"]) and 0 <= partial["stability"] <= 1
        assert 0 <= partial["start_s"] <= partial["end_s"]
    duration = decode_audio(str(SPANISH)).duration_s
    for speech in (e for e in events if e["type"] in ("speech_start", "speech_end")):
        assert 0 <= speech["offset_s"] <= duration

    finals = [e for e in events if e["type"] == "final"]
    assert [f["utterance"] for f in finals] == list(range(len(finals)))
    reference = (SAMPLES / "es_weather.txt").read_text()
    assert error_rate(reference, " ".join(f["text"] for f in finals), "es") <= SPANISH_WER_BOUND, finals
    for final in finals:
        assert final["language"] == "es" and final["words"]
        assert 0 <= final["start_s"] < final["end_s"] <= duration + 0.1
        assert set(final["words"][0]) == {"word", "start_s", "end_s", "probability"}

    translations = [e for e in events if e["type"] == "translation"]
    english = {t["utterance"]: t["text"] for t in translations if t["language"] == "en"}
    # English from Spanish speech comes from Whisper's translate task on each utterance, not the translation service.
    assert sorted(english) == [f["utterance"] for f in finals]
    assert all(english[f["utterance"]] not in ("", echo_text("en", f["text"])) for f in finals), english
    same = {t["utterance"]: t for t in translations if t["language"] == "es"}
    for final in finals:  # a translation into the spoken language carries the final's text
        assert same[final["utterance"]]["text"] == final["text"] and same[final["utterance"]]["same_language"] is True
        assert events.index(final) < events.index(same[final["utterance"]])

    done = events[-1]
    assert done["job_url"] == f"/v1/jobs/{done['job_id']}" and done["job_state"] == "SUCCEEDED"
    assert done["utterances"] == len(finals) and done["reason"] == "stop"
    assert done["duration_s"] == pytest.approx(duration, abs=0.01)
    job = (await stub.GetJob(pb.GetJobRequest(job_id=done["job_id"]))).job
    assert job.state == pb.JOB_STATE_SUCCEEDED and job.display_name == "El tiempo"
    assert [t.language_code for t in job.result.translations] == ["en"]  # "es" is the spoken language
    assert job.result.translations[0].method == pb.TRANSLATION_METHOD_SPEECH


async def test_gateway_without_saving(
    gateway: str, stub: pb_grpc.PipelineServiceStub, english: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs_before = (await stub.ListJobs(pb.ListJobsRequest())).total_size
    code = await ting("stream", str(english), "--gateway", "--no-save", "--interim", "--server", gateway)
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.splitlines()
    finals = [line for line in lines if not line.startswith("~ ")]
    assert finals and all(FINAL_LINE.match(line) for line in finals), out  # no translations, no saved line
    assert lines.index(finals[0]) > 0  # an interim came first
    assert (await stub.ListJobs(pb.ListJobsRequest())).total_size == jobs_before


async def test_failed_translations_are_warnings_and_a_partial_job_exits_3(
    gateway: str, services: Services, english: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every translation fails (live, and again in the saved job's worker): the LLM says the model is unknown.
    services.fault.script.extend([Fault(status=400, body={"error": {"message": "no such model"}})] * 50)
    try:
        code = await ting("stream", str(english), "-t", "fr", "--server", gateway)
    finally:
        services.fault.script.clear()
    out, err = capsys.readouterr()
    assert code == 3, err
    *body, last = out.splitlines()
    assert body and all(FINAL_LINE.match(line) for line in body), out  # the finals, without translations
    saved = SAVED_LINE.match(last)
    assert saved and saved.group(2) == f" (partially succeeded; `ting jobs get {saved.group(1)}` shows it)", out
    warnings = err.strip().splitlines()
    assert len(warnings) == len(body) + 1, err
    failed = [FAILED_TRANSLATION.match(line) for line in warnings[:-1]]
    assert sorted(int(m.group(1)) for m in failed if m) == list(range(len(body))), err  # in any order
    assert "partially succeeded" in warnings[-1] and saved.group(1) in warnings[-1]


async def test_the_gateways_refusal_is_one_line(gateway: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert await ting("stream", str(SPANISH), "-t", "de", "--language", "english!", "--server", gateway) == 1
    line = one_error_line(capsys.readouterr().err)
    assert "language" in line and line.endswith("[INVALID_ARGUMENT]"), line


async def test_api_key(
    services: Services,
    english: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = gateway_settings(services, tmp_path_factory.mktemp("gw-stream-keys"), api_keys="k1", workers=0)
    async with running_gateway(settings) as app:
        monkeypatch.setenv("TING_GATEWAY_ADDRESS", f"127.0.0.1:{app.port}")  # the default --server of the gateway
        assert await ting("stream", str(english), "--gateway", "--api-key", "nope") == 1
        assert "UNAUTHENTICATED" in one_error_line(capsys.readouterr().err)
        monkeypatch.setenv("TING_API_KEY", "k1")
        code = await ting("stream", str(english), "--gateway")
        out, err = capsys.readouterr()
        assert code == 0, err
        # No worker runs the saved job: `done` comes at once with it QUEUED.
        saved = SAVED_LINE.match(out.splitlines()[-1])
        assert saved, out
        assert saved.group(2) == f" (still queued; `ting jobs watch {saved.group(1)}` follows it)"
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
            request = pb.GetJobRequest(job_id=saved.group(1), view=pb.JOB_VIEW_FULL)
            response = await pb_grpc.PipelineServiceStub(channel).GetJob(
                request, metadata=(("authorization", "Bearer k1"),)
            )
        job = response.job
        assert job.state == pb.JOB_STATE_QUEUED and job.result.transcript.segments


@pytest.mark.parametrize("how", ["--server", "$TING_GATEWAY_ADDRESS"])
async def test_unreachable_gateway(
    how: str, asr_address: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("TING_SERVER", asr_address)  # the ASR server is not where the gateway stream goes
    if how == "--server":
        argv = ["--translate", "de", "--server", server]
    else:
        monkeypatch.setenv("TING_GATEWAY_ADDRESS", server)
        argv = ["--gateway"]
    assert await ting("stream", str(SPANISH), *argv) == 1
    line = one_error_line(capsys.readouterr().err)
    assert f"cannot reach the gateway server at {server}" in line and "ting serve gateway" in line, line


@pytest.mark.parametrize("value", [",", " "])
async def test_translate_needs_a_language(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert await ting("stream", str(SAMPLES / "no_such.wav"), "--translate", value) == 1
    assert "--translate needs a language code" in one_error_line(capsys.readouterr().err)


def test_which_options_go_through_the_gateway() -> None:
    from ting_cli.main import build_parser
    from ting_cli.stream import uses_gateway

    parser = build_parser()
    for argv, gateway in (
        ([], False),
        (["--api-key", "k"], False),
        (["--gateway"], True),
        (["-t", "de"], True),
        (["--summarize"], True),
        (["--no-save"], True),
        (["--save"], True),
        (["--title", "x"], True),
    ):
        assert uses_gateway(parser.parse_args(["stream", "f.wav", *argv])) is gateway, argv
