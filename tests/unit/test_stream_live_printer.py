"""``ting stream`` through the gateway, without servers: how the live events print (text and JSON)."""

from __future__ import annotations

import io
import json

import pytest

from ting.audio.v1 import audio_pb2
from ting.gateway.v1 import pipeline_service_pb2 as pb
from ting_cli.stream import LivePrinter, live_event, translate_targets


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def final(utterance: int, text: str, start_ms: int, end_ms: int) -> pb.StreamProcessResponse:
    word = audio_pb2.Word(word=text.split()[0], start_ms=start_ms, end_ms=start_ms + 300, probability=0.98765)
    return pb.StreamProcessResponse(
        final=pb.LiveFinal(
            utterance=utterance, text=text, start_ms=start_ms, end_ms=end_ms, language_code="en", words=[word]
        )
    )


def translation(utterance: int, language: str, text: str, same: bool = False) -> pb.StreamProcessResponse:
    return pb.StreamProcessResponse(
        translation=pb.LiveTranslation(utterance=utterance, language_code=language, text=text, same_language=same)
    )


def partial(text: str) -> pb.StreamProcessResponse:
    return pb.StreamProcessResponse(partial=pb.LivePartial(utterance=1, text=text, start_ms=4200, end_ms=5000))


def failed(utterance: int, language: str) -> pb.StreamProcessResponse:
    error = pb.LiveError(
        code="UNAVAILABLE", http_status=503, message="down", utterance=utterance, language_code=language
    )
    return pb.StreamProcessResponse(error=error)


def done(job_id: str = "", state: int = pb.JOB_STATE_UNSPECIFIED) -> pb.StreamProcessResponse:
    return pb.StreamProcessResponse(
        done=pb.LiveDone(job_id=job_id, duration_ms=9000, utterances=2, reason="stop", job_state=state)  # type: ignore[arg-type]
    )


def test_a_final_waits_for_its_translations_so_they_print_under_it(capsys: pytest.CaptureFixture[str]) -> None:
    out = Terminal()
    printer = LivePrinter("text", True, out, ["de", "fr"])
    printer.response(final(0, "Hello there.", 0, 2000))
    printer.response(translation(0, "fr", "Bonjour."))
    assert out.getvalue() == ""  # German is still on its way
    printer.response(final(1, "Second one.", 2500, 4000))
    printer.response(partial("And a"))
    printer.response(translation(1, "de", "Zweiter."))  # out of order: the first final still waits
    printer.response(translation(1, "fr", "Deuxième."))
    assert "Hello" not in out.getvalue() and out.getvalue().endswith("00:04.2 … And a")
    printer.response(translation(0, "de", "Hallo."))
    printer.response(done("job-1", pb.JOB_STATE_SUCCEEDED))
    assert printer.saved() == 0
    assert out.getvalue().split("\r\x1b[K")[-1].splitlines() == [
        "[00:00.0 → 00:02.0] Hello there.",
        "  [de] Hallo.",
        "  [fr] Bonjour.",
        "[00:02.5 → 00:04.0] Second one.",
        "  [de] Zweiter.",
        "  [fr] Deuxième.",
        "saved as job job-1 (`ting jobs get job-1` shows it)",
    ]
    assert capsys.readouterr().err == ""


def test_a_failed_translation_is_a_warning_and_releases_its_final(capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    printer = LivePrinter("text", False, out, ["de"])
    printer.response(partial("Hel"))  # not shown: no --interim
    printer.response(final(0, "Hello.", 0, 1000))
    printer.response(failed(0, "de"))
    printer.response(final(1, "Bye.", 1500, 2000))  # its translation never comes: printed at the end
    assert out.getvalue() == "[00:00.0 → 00:01.0] Hello.\n"
    printer.response(done())
    assert printer.saved() == 0  # not saved: no line
    assert out.getvalue() == "[00:00.0 → 00:01.0] Hello.\n[00:01.5 → 00:02.0] Bye.\n"
    assert capsys.readouterr().err == (
        "ting: warning: the translation of utterance 0 into de failed: down [UNAVAILABLE]\n"
    )


def test_json_lines_are_the_websocket_events() -> None:
    out = io.StringIO()
    printer = LivePrinter("json", True, out, ["de", "en"])
    ready = pb.LiveReady(session_id="s", request_id="r", idle_timeout_ms=15000, max_duration_ms=10_800_000)
    printer.response(pb.StreamProcessResponse(ready=ready))
    printer.response(pb.StreamProcessResponse(speech_start=pb.LiveSpeechActivity(offset_ms=1230)))
    printer.response(partial("Hel"))
    printer.response(final(0, "Hello.", 1200, 4500))
    printer.response(translation(0, "en", "Hello.", same=True))
    printer.response(translation(0, "de", "Hallo."))
    printer.response(done("j", pb.JOB_STATE_QUEUED))
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert events == [
        {"type": "ready", "session_id": "s", "request_id": "r", "idle_timeout_s": 15.0, "max_duration_s": 10800.0},
        {"type": "speech_start", "offset_s": 1.23},
        {
            "type": "partial",
            "utterance": 1,
            "text": "Hel",
            "stable_text": "",
            "stability": 0.0,
            "start_s": 4.2,
            "end_s": 5.0,
        },
        {
            "type": "final",
            "utterance": 0,
            "text": "Hello.",
            "start_s": 1.2,
            "end_s": 4.5,
            "language": "en",
            "words": [{"word": "Hello.", "start_s": 1.2, "end_s": 1.5, "probability": 0.988}],
        },
        {"type": "translation", "utterance": 0, "language": "en", "text": "Hello.", "same_language": True},
        {"type": "translation", "utterance": 0, "language": "de", "text": "Hallo."},
        {
            "type": "done",
            "job_id": "j",
            "job_url": "/v1/jobs/j",
            "duration_s": 9.0,
            "utterances": 2,
            "reason": "stop",
            "job_state": "QUEUED",
        },
    ]
    assert live_event(done()) == {
        "type": "done",
        "job_id": None,
        "job_url": None,
        "duration_s": 9.0,
        "utterances": 2,
        "reason": "stop",
    }


@pytest.mark.parametrize(
    ("state", "code", "line"),
    [
        (pb.JOB_STATE_RUNNING, 0, "saved as job j (still running; `ting jobs watch j` follows it)"),
        (pb.JOB_STATE_PARTIALLY_SUCCEEDED, 3, "saved as job j (partially succeeded; `ting jobs get j` shows it)"),
    ],
)
def test_the_saved_line_and_exit_status_follow_the_jobs_state(state: int, code: int, line: str) -> None:
    out = io.StringIO()
    printer = LivePrinter("text", False, out, [])
    printer.response(done("j", state))
    assert printer.saved() == code
    assert out.getvalue() == line + "\n"


def test_a_failed_job_is_an_error() -> None:
    from ting_cli.main import CliError

    printer = LivePrinter("text", False, io.StringIO(), [])
    printer.response(done("j", pb.JOB_STATE_FAILED))
    with pytest.raises(CliError, match="the saved job j failed"):
        printer.saved()


def test_translate_targets_are_spelled_as_the_gateway_spells_them() -> None:
    assert translate_targets(["DE, pt-BR", "de", "fr,"]) == ["de", "pt-BR", "fr"]
    assert translate_targets([]) == []
