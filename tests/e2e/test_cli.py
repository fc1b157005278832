"""The `ting` command and `make run`'s demo as a user runs them: real processes, real server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ting_common.probe import free_port, wait_until_serving

from ..conftest import ROOT

pytestmark = pytest.mark.e2e

TING = str(Path(sys.executable).parent / "ting")


def run_ting(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TING, *args], capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`ting serve asr --host 127.0.0.1 --port N` in its own process; its log is shown if it dies."""
    port = free_port()
    env = dict(os.environ, TING_ASR_SHUTDOWN_DELAY_S="0", TING_ASR_LOG_LEVEL="WARNING")
    log_path = tmp_path_factory.mktemp("served") / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [TING, "serve", "asr", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    address = f"127.0.0.1:{port}"
    try:
        wait_until_serving(address, process=proc)
        yield address, proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        elif proc.returncode not in (0, -signal.SIGTERM):
            print(f"ting serve asr exited with {proc.returncode}; its log:\n{log_path.read_text()}")


def test_transcribe_json(served: tuple[str, subprocess.Popen[str]]) -> None:
    address, _ = served
    result = run_ting(
        "transcribe",
        str(ROOT / "samples" / "es_weather.wav"),
        "--server",
        address,
        "--format",
        "json",
        "--word-timestamps",
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert {"language", "duration", "text", "segments"} <= set(doc)
    assert doc["language"] == "es"
    assert 11.0 < doc["duration"] < 11.3
    assert "madrid" in doc["text"].lower()
    seg = doc["segments"][0]
    assert {"start", "end", "text", "words"} <= set(seg)
    assert {"start", "end", "word", "probability"} <= set(seg["words"][0])


def test_transcribe_translate_to_srt_files(served: tuple[str, subprocess.Popen[str]], tmp_path: Path) -> None:
    address, _ = served
    result = run_ting(
        "transcribe",
        str(ROOT / "samples" / "es_weather.wav"),
        "--server",
        address,
        "--task",
        "translate",
        "--format",
        "srt",
        "--output-dir",
        str(tmp_path),
        "--language",
        "es",
    )
    assert result.returncode == 0, result.stderr
    srt = (tmp_path / "es_weather.srt").read_text()
    assert srt.startswith("1\n00:00:00,")
    assert " --> " in srt and "Madrid" in srt


def test_models_listing(served: tuple[str, subprocess.Popen[str]]) -> None:
    result = run_ting("models", "--server", served[0])
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("base")
    assert "tiny.en" in result.stdout


def test_errors_are_one_line_without_traceback(served: tuple[str, subprocess.Popen[str]], tmp_path: Path) -> None:
    address, _ = served
    missing = run_ting("transcribe", str(tmp_path / "nope.wav"), "--server", address)
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"ting: error: {tmp_path / 'nope.wav'}: no such file"

    garbage = tmp_path / "garbage.mp3"
    garbage.write_bytes(os.urandom(4000))
    bad = run_ting("transcribe", str(garbage), "--server", address)
    assert bad.returncode == 1
    assert "could not read the audio" in bad.stderr and "[INVALID_ARGUMENT]" in bad.stderr
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1

    lang = run_ting("transcribe", str(ROOT / "samples" / "es_weather.wav"), "--server", address, "--language", "xx")
    assert lang.returncode == 1 and "unknown language code 'xx'" in lang.stderr

    down = run_ting("transcribe", str(ROOT / "samples" / "es_weather.wav"), "--server", f"127.0.0.1:{free_port()}")
    assert down.returncode == 1
    assert "cannot reach the ASR server" in down.stderr and "Traceback" not in down.stderr

    usage = run_ting("transcribe", "x.wav", "--format", "docx")
    assert usage.returncode == 2 and "invalid choice" in usage.stderr


def test_reflection_lists_the_service_to_buf_curl(served: tuple[str, subprocess.Popen[str]]) -> None:
    buf = ROOT / "node_modules" / ".bin" / "buf"
    if not buf.exists():
        pytest.skip("buf CLI not installed; run `make setup`")
    result = subprocess.run(
        [str(buf), "curl", "--protocol", "grpc", "--http2-prior-knowledge", "--list-methods", f"http://{served[0]}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    methods = result.stdout.split()
    assert "ting.asr.v1.AsrService/Recognize" in methods
    assert "ting.asr.v1.AsrService/ListModels" in methods


def test_sigterm_drains_and_exits_zero(served: tuple[str, subprocess.Popen[str]]) -> None:
    _, proc = served
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
