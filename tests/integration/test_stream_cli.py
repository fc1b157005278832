"""``ting stream`` end to end: the CLI (in a worker thread) -> a real ASR server's StreamingRecognize."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import pytest

from ting_cli.main import main
from ting_cli.stream import format_clock
from ting_common.audio import decode_audio
from ting_common.probe import free_port
from ting_common.scoring import error_rate

from ..conftest import SAMPLES

pytestmark = pytest.mark.integration

STREAM_WER_BOUND = 0.25
FINAL_LINE = re.compile(r"^\[(\d\d:\d\d\.\d) → (\d\d:\d\d\.\d)\] \S")


async def ting(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


def records(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_format_clock() -> None:
    assert format_clock(0) == "00:00.0"
    assert format_clock(3.26) == "00:03.3"
    assert format_clock(59.96) == "01:00.0"
    assert format_clock(4503.2) == "75:03.2"


async def test_json_partials_then_finals(asr_address: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = await ting("stream", str(SAMPLES / "meeting_intro.wav"), "--format", "json", "--server", asr_address)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    recs = records(captured.out)
    kinds = [r["type"] for r in recs]
    assert "partial" in kinds and "final" in kinds
    assert kinds.index("partial") < kinds.index("final")
    assert set(kinds) <= {"partial", "final", "speech_start", "speech_end", "end_of_utterance"}
    finals = [r for r in recs if r["type"] == "final"]
    assert [f["utterance"] for f in finals] == list(range(len(finals)))
    for rec in recs:
        if rec["type"] in ("partial", "final"):
            assert set(rec) >= {"text", "start", "end", "stability", "utterance", "language"}
            assert 0 <= rec["start"] <= rec["end"] and 0 <= rec["stability"] <= 1
        else:
            assert rec["offset"] >= 0
    assert all(f["stability"] == 1 for f in finals)
    reference = (SAMPLES / "meeting_intro.txt").read_text()
    text = " ".join(f["text"] for f in finals)
    assert error_rate(reference, text) <= STREAM_WER_BOUND, text


async def test_text_finals_without_interims_when_piped(asr_address: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = await ting("stream", str(SAMPLES / "meeting_intro.wav"), "--language", "en", "--server", asr_address)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = captured.out.splitlines()
    assert lines and all(FINAL_LINE.match(line) for line in lines), captured.out
    assert lines[0].startswith("[00:") and "\r" not in captured.out
    reference = (SAMPLES / "meeting_intro.txt").read_text()
    text = " ".join(line.split("] ", 1)[1] for line in lines)
    assert error_rate(reference, text) <= STREAM_WER_BOUND, text


async def test_text_interim_lines_and_speed_pacing(asr_address: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = SAMPLES / "es_weather.wav"
    duration = decode_audio(str(path)).duration_s
    started = time.monotonic()
    code = await ting("stream", str(path), "--speed", "4", "--interim", "--chunk-ms", "200", "--server", asr_address)
    elapsed = time.monotonic() - started
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert elapsed >= duration / 4 - 0.3
    lines = captured.out.splitlines()
    assert any(line.startswith("~ ") for line in lines), captured.out
    finals = [line for line in lines if not line.startswith("~ ")]
    assert finals and all(FINAL_LINE.match(line) for line in finals), captured.out
    assert lines.index(finals[0]) > 0  # an interim came before the first final


async def test_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert await ting("stream", str(SAMPLES / "no_such.wav"), "--server", "127.0.0.1:1") == 1
    err = capsys.readouterr().err
    assert err.startswith("ting: error: ") and "no such file" in err and err.count("\n") == 1


async def test_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(SAMPLES / "es_weather.wav")
    assert await ting("stream", path, "--chunk-ms", "5") == 1
    assert "--chunk-ms" in capsys.readouterr().err
    assert await ting("stream", path, "--speed", "0") == 1
    assert "--speed" in capsys.readouterr().err


async def test_unreachable_server(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    assert await ting("stream", str(SAMPLES / "es_weather.wav"), "--server", f"127.0.0.1:{port}") == 1
    err = capsys.readouterr().err
    assert "cannot reach the ASR server" in err and err.count("\n") == 1 and "Traceback" not in err


def test_serve_does_not_offer_stream() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["serve", "stream"])
    assert exc.value.code == 2
