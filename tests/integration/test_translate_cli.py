"""``ting translate`` end to end: the CLI (in a worker thread) -> the real gRPC server -> the fault-server LLM."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ting_cli.main import main
from ting_common.probe import free_port
from ting_translate.server import create_server
from ting_translate.subtitles import parse_document

from .llm_fault_server import FaultServer, echo_text
from .test_translate_service import eval_file, settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def address() -> AsyncIterator[str]:
    fault = FaultServer()
    await fault.start()
    app, port = create_server(settings(llm_base_url=fault.base_url))
    await app.start()
    yield f"127.0.0.1:{port}"
    await app.drain(0)
    await fault.stop()


async def ting(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def test_srt_to_two_languages_in_files(address: str, tmp_path: Path) -> None:
    source = eval_file("tricky_en.srt")
    assert await ting("translate", str(source), "--to", "es,fr", "-o", str(tmp_path), "--server", address) == 0
    for lang in ("es", "fr"):
        cues, _ = parse_document((tmp_path / f"tricky_en.{lang}.srt").read_text(encoding="utf-8"))
        assert len(cues) == 12 and cues[1].speaker == "JOHN"
        assert cues[1].text.startswith(echo_text(lang, "We can't"))


async def test_single_target_to_stdout_as_vtt(address: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = await ting("translate", str(eval_file("talk_en.srt")), "--to", "de", "--format", "vtt", "--server", address)
    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith("WEBVTT\n") and out.count(" --> ") == 40 and echo_text("de", "Good evening") in out


async def test_text_file_keeps_paragraphs(address: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "note.txt"
    path.write_text("First paragraph.\n\nSecond one.\n", encoding="utf-8")
    assert await ting("translate", str(path), "--to", "es", "--from", "en", "--server", address) == 0
    assert capsys.readouterr().out == f"{echo_text('es', 'First paragraph.')}\n\n{echo_text('es', 'Second one.')}\n"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["missing.srt", "--to", "es"], "cannot read missing.srt"),
        (["notes.docx", "--to", "es"], "unsupported file type .docx"),
        (["SRC", "--to", "klingon"], "is not an ISO 639-1 code"),
        (["SRC", "--to", " , "], "--to needs at least one language"),
    ],
)
async def test_errors_are_one_line(
    address: str, args: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [str(eval_file("tricky_en.srt")) if a == "SRC" else a for a in args]
    assert await ting("translate", *args, "--server", address) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("ting: error: ") and needle in err and "\n" not in err


async def test_unreachable_server(capsys: pytest.CaptureFixture[str]) -> None:
    server = f"127.0.0.1:{free_port()}"
    code = await ting("translate", str(eval_file("tricky_en.srt")), "--to", "es", "--server", server, "--timeout", "5")
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("ting: error: ") and "\n" not in err
    assert "cannot reach the translation server" in err or "UNAVAILABLE" in err
