"""``ting process`` and ``ting jobs ...`` end to end: the CLI (in a worker thread) -> a real gateway -> real ASR,
translation (on the scripted fault-server LLM), summarization and separation servers on loopback."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import SAMPLES
from tests.integration.gateway_stack import Services, gateway_settings, running_gateway
from tests.integration.llm_fault_server import Fault, echo_text
from ting_cli.main import main
from ting_common.probe import free_port

pytestmark = pytest.mark.integration

SPANISH = str(SAMPLES / "es_weather.wav")


@pytest.fixture(scope="module")
async def server(services: Services, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A working gateway (two workers)."""
    settings = gateway_settings(services, tmp_path_factory.mktemp("gw"), max_sync_audio_s=120)
    async with running_gateway(settings) as app:
        yield f"127.0.0.1:{app.port}"


@pytest.fixture(scope="module")
async def idle_server(services: Services, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A gateway without workers (jobs stay QUEUED) that wants the API key ``k1``."""
    settings = gateway_settings(services, tmp_path_factory.mktemp("idle"), workers=0, api_keys="k1")
    async with running_gateway(settings) as app:
        yield f"127.0.0.1:{app.port}"


async def ting(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ting: error: "), err
    return lines[0]


async def test_process_json_with_translation_and_summary(server: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = await ting("process", SPANISH, "--translate", "en", "--summarize", "--format", "json", "--server", server)
    out, err = capsys.readouterr()
    assert code == 0, err
    response = json.loads(out)
    assert response["state"] == "JOB_STATE_SUCCEEDED"
    result = response["result"]
    assert result["transcript"]["languageCode"] == "es" and result["transcript"]["segments"]
    (english,) = result["translations"]
    assert english["languageCode"] == "en" and english["text"].strip()
    assert result["summary"].get("overview") or result["summary"].get("keyPoints")
    assert {step["stage"] for step in response["steps"]} >= {
        "PIPELINE_STAGE_TRANSCRIBING",
        "PIPELINE_STAGE_TRANSLATING",
        "PIPELINE_STAGE_SUMMARIZING",
    }
    assert "artifacts" not in result  # json asks for the structured result only


async def test_process_txt_prints_transcript_translations_and_summary(
    server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await ting("process", SPANISH, "-t", "de", "--summarize", "--server", server)
    out, err = capsys.readouterr()
    assert code == 0, err
    transcript, rest = out.split("\n== translation (de) ==\n")
    translation, summary = rest.split("\n== summary ==\n")
    assert transcript.strip() and summary.strip()
    assert translation.strip().startswith(echo_text("de", ""))


async def test_process_srt(server: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = await ting("process", SPANISH, "--format", "srt", "--language", "es", "--server", server)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith("1\n") and " --> " in out


async def test_process_output_dir_writes_every_file_and_the_stems(
    server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "out"
    code = await ting(
        "process", SPANISH, "--separate", "-t", "de", "--format", "vtt", "-o", str(out_dir), "--server", server
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith("WEBVTT")
    names = {path.name for path in out_dir.iterdir()}
    for ext in ("txt", "json", "srt", "vtt", "tsv"):
        assert f"transcript.{ext}" in names and f"translation.de.{ext}" in names
    assert {"vocals.wav", "accompaniment.wav"} <= names
    assert (out_dir / "vocals.wav").read_bytes().startswith(b"RIFF")
    assert (out_dir / "transcript.vtt").read_text(encoding="utf-8") == out
    assert json.loads((out_dir / "transcript.json").read_text(encoding="utf-8"))["languageCode"] == "es"


async def test_process_partial_success_warns_and_exits_zero(
    server: str, services: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    services.fault.script.extend([Fault(status=400, body={"error": {"message": "no such model"}})] * 4)
    try:
        code = await ting("process", SPANISH, "-t", "fr", "--summarize", "--server", server)
    finally:
        services.fault.script.clear()
    out, err = capsys.readouterr()
    assert code == 0
    assert "== summary ==" in out and "== translation" not in out
    assert "step translating (fr) failed" in err and "[FAILED_PRECONDITION]" in err
    assert "partially succeeded" in err.strip().splitlines()[-1]


async def test_job_create_watch_get_list_cancel(server: str, capsys: pytest.CaptureFixture[str]) -> None:
    run = f"r{uuid.uuid4().hex[:8]}"
    code = await ting(
        "jobs", "create", SPANISH, "-t", "de", "--summarize", "--name", "weather report",
        "--label", "team=qa", "--label", f"run={run}", "--server", server,
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    job_id = out.strip()
    assert job_id and "\n" not in job_id

    assert await ting("jobs", "watch", job_id, "--progress", "never", "--server", server) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0].startswith(f"{job_id} SUCCEEDED")
    assert "transcript.srt" in out and "summary.txt" in out and "http" in out
    assert f"ting: {job_id}: " in err  # one line per change of stage without a terminal

    assert await ting("jobs", "get", job_id, "--server", server) == 0
    out = capsys.readouterr().out
    assert "state     SUCCEEDED" in out and "weather report" in out and f"run={run}" in out
    assert "transcribing" in out and "translating (de)" in out and "summarizing" in out
    assert "artifacts" in out and "translation.de.vtt" in out

    assert await ting("jobs", "get", job_id, "--format", "json", "--server", server) == 0
    job = json.loads(capsys.readouterr().out)
    assert job["id"] == job_id and job["state"] == "JOB_STATE_SUCCEEDED"
    assert job["result"]["transcript"]["languageCode"] == "es"
    assert all("uri" in artifact for artifact in job["result"]["artifacts"])

    assert await ting("jobs", "list", "--label", f"run={run}", "--server", server) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split() == ["ID", "STATE", "PROGRESS", "CREATED", "NAME"]
    assert len(rows) == 1 and rows[0].startswith(job_id) and "SUCCEEDED" in rows[0] and "100%" in rows[0]
    assert rows[0].endswith("weather report")
    assert await ting("jobs", "list", "--label", f"run={run}", "--state", "failed", "--server", server) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1

    assert await ting("jobs", "cancel", job_id, "--server", server) == 0
    assert capsys.readouterr().out.strip() == f"{job_id} SUCCEEDED (already finished; nothing to cancel)"
    assert await ting("jobs", "get", job_id, "--format", "json", "--server", server) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "JOB_STATE_SUCCEEDED"


async def test_create_and_watch_a_partially_succeeded_job_exits_3(
    server: str, services: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    services.fault.script.extend([Fault(status=400, body={"error": {"message": "no such model"}})] * 4)
    try:
        code = await ting(
            "jobs", "create", SPANISH, "-t", "fr", "--formats", "srt", "--watch", "--progress", "always",
            "--server", server,
        )  # fmt: skip
    finally:
        services.fault.script.clear()
    out, err = capsys.readouterr()
    assert code == 3
    assert "PARTIALLY_SUCCEEDED" in out.splitlines()[0] and "transcript.srt" in out
    assert err.startswith("ting: created job ") and "%|" in err  # the tqdm bar
    assert "step translating (fr) failed" in err


async def test_cancel_a_queued_job_with_an_api_key(
    idle_server: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = ("--api-key", "k1", "--server", idle_server)
    assert await ting("jobs", "create", SPANISH, "--request-id", "same-1", *key) == 0
    job_id = capsys.readouterr().out.strip()
    assert await ting("jobs", "create", SPANISH, "--request-id", "same-1", *key) == 0
    assert capsys.readouterr().out.strip() == job_id  # idempotent

    assert await ting("jobs", "list", "--state", "queued", *key) == 0
    assert any(row.startswith(job_id) and "QUEUED" in row for row in capsys.readouterr().out.splitlines())

    assert await ting("jobs", "cancel", job_id, *key) == 0
    assert capsys.readouterr().out.strip() == f"{job_id} CANCELLED"
    assert await ting("jobs", "watch", job_id, "--progress", "never", *key) == 1
    assert capsys.readouterr().out.splitlines()[0] == f"{job_id} CANCELLED"

    monkeypatch.setenv("TING_API_KEY", "k1")
    assert await ting("jobs", "get", job_id, "--server", idle_server) == 0
    assert "state     CANCELLED" in capsys.readouterr().out
    monkeypatch.delenv("TING_API_KEY")
    assert await ting("jobs", "get", job_id, "--server", idle_server) == 1
    assert "UNAUTHENTICATED" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("action", ["get", "watch", "cancel"])
async def test_unknown_job_is_one_clear_error(server: str, action: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert await ting("jobs", action, "no-such-job", "--server", server) == 1
    line = one_error_line(capsys.readouterr().err)
    assert "no-such-job" in line and "[NOT_FOUND]" in line


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["process", "missing.wav"], "missing.wav: no such file"),
        (["jobs", "create", SPANISH, "--label", "team"], "--label wants KEY=VALUE"),
        (["jobs", "create", SPANISH, "--label", "Team=qa"], "[INVALID_ARGUMENT]"),
        (["jobs", "create", SPANISH, "--formats", "docx"], "unknown format 'docx'"),
        (["jobs", "list", "--limit", "0"], "--limit must be at least 1"),
        (["process", SPANISH, "-t", "english!"], "[INVALID_ARGUMENT]"),
    ],
)
async def test_bad_input_is_one_clear_error(
    server: str, argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await ting(*argv, "--server", server) == 1
    assert needle in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("argv", [["process", SPANISH], ["jobs", "list"], ["jobs", "watch", "some-id"]])
async def test_unreachable_gateway(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    server = f"127.0.0.1:{free_port()}"
    assert await ting(*argv, "--server", server, "--timeout", "10") == 1
    line = one_error_line(capsys.readouterr().err)
    assert f"cannot reach the gateway server at {server}" in line and "ting serve gateway" in line
