"""SRT/WebVTT parsing and rendering, placeholders, language codes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ting_common.errors import InvalidArgumentError
from ting_translate.languages import language_name, normalize_language
from ting_translate.protect import needs_translation, protect
from ting_translate.subtitles import (
    SubtitleFormat,
    decode_document,
    parse_document,
    parse_srt,
    parse_vtt,
    render,
    wrap_text,
)

from ..conftest import SHARED_EVAL

SUBTITLES = SHARED_EVAL / "subtitles"


def eval_file(name: str) -> Path:
    path = SUBTITLES / name
    if not path.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{path} is missing (the shared eval set is required in CI)")
        pytest.skip(f"{path} is missing: the shared eval set (../shared/eval) is not on this machine")
    return path


@pytest.mark.parametrize(
    "name", ["talk_en.srt", "talk_en.vtt", "talk_en.es.srt", "talk_en.zh.srt", "talk_en.fr.srt", "tricky_en.es.srt"]
)
def test_clean_files_round_trip_byte_exact(name: str) -> None:
    text = eval_file(name).read_text(encoding="utf-8")
    cues, fmt = parse_document(text)
    assert render(cues, fmt) == text
    assert len(cues) in (12, 40)


def test_tricky_srt() -> None:
    raw = eval_file("tricky_en.srt").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw and not raw.endswith(b"\n")
    cues, fmt = parse_document(decode_document(raw))
    assert fmt is SubtitleFormat.SRT and [c.index for c in cues] == list(range(1, 13))
    assert (cues[7].start_ms, cues[7].end_ms) == (3_598_600, 3_602_400)  # crosses the hour
    assert cues[1].speaker == "JOHN" and cues[1].speaker_style == "bracket"
    assert cues[1].text == "We can't stay here.\nThe tide comes in at midnight."
    assert cues[3].text == "♪" and cues[8].text == "What does that mean?"  # whitespace-only line dropped
    assert cues[9].text.count("\n") == 2 and cues[10].text == "[THUNDER RUMBLING]" and not cues[10].speaker
    assert cues[11].text == "<i>To be continued.</i>"  # no final newline
    rendered = render(cues, SubtitleFormat.SRT)
    # The canonical rendering has the reference translation's exact structure (numbers, timings, blank lines).
    reference = eval_file("tricky_en.es.srt").read_text()
    skeleton = [line for line in rendered.split("\n") if "-->" in line or line.isdigit() or not line]
    assert skeleton == [line for line in reference.split("\n") if "-->" in line or line.isdigit() or not line]
    assert "[JOHN] We can't" in rendered and parse_srt(rendered) == cues
    vtt = render(cues, SubtitleFormat.VTT)
    assert vtt.startswith("WEBVTT\n\n00:59:31.000 --> 00:59:33.400\n") and "<v JOHN>We can't" in vtt
    assert [(c.start_ms, c.end_ms, c.text, c.speaker) for c in parse_vtt(vtt)] == [
        (c.start_ms, c.end_ms, c.text, c.speaker) for c in cues
    ]


def test_vtt_headers_notes_styles_ids_settings() -> None:
    text = (
        "WEBVTT - a header\nKind: captions\n\nSTYLE\n::cue { color: red }\n\nNOTE a comment\nspanning lines\n\n"
        "intro\n00:01.000 --> 00:02.500 align:start position:10%\n<v Alice>Hello there</v>\n\n"
        "01:00:00.000 --> 01:00:01.000\nSecond\n"
    )
    cues = parse_vtt(text)
    assert len(cues) == 2
    assert (cues[0].identifier, cues[0].settings, cues[0].speaker, cues[0].text) == (
        "intro",
        "align:start position:10%",
        "Alice",
        "Hello there",
    )
    assert (cues[0].start_ms, cues[0].end_ms, cues[1].start_ms, cues[1].index) == (1000, 2500, 3_600_000, 2)
    out = render(cues, SubtitleFormat.VTT)
    assert "intro\n00:00:01.000 --> 00:00:02.500 align:start position:10%\n<v Alice>Hello there" in out
    srt = render(cues, SubtitleFormat.SRT)
    assert srt.startswith("1\n00:00:01,000 --> 00:00:02,500\n[Alice] Hello there\n\n2\n")


def test_srt_variants() -> None:
    # CR-only endings, no numbers, extra blank lines, dot separator, short milliseconds, colon speaker.
    text = "00:00:01.5 --> 00:00:02,000\rMARY: Hi\r\r\r\r00:00:03,000 --> 00:00:04,000\rBye"
    cues = parse_srt(text)
    assert [(c.index, c.start_ms, c.end_ms) for c in cues] == [(1, 1500, 2000), (2, 3000, 4000)]
    assert (cues[0].speaker, cues[0].speaker_style, cues[0].text) == ("MARY", "colon", "Hi")
    assert render(cues, SubtitleFormat.SRT).startswith("1\n00:00:01,500 --> 00:00:02,000\nMARY: Hi\n")
    assert decode_document("1\n00:00:01,000 --> 00:00:02,000\nHi\n".encode("utf-16")).startswith("1\n")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("1\n00:00:01,000 --> 00:00:02,000\nHi\n\n2\n00:00:xx,000 --> 00:00:03,000\nBye\n", "line 6: bad cue timing"),
        ("1\n00:00:05,000 --> 00:00:04,000\nHi\n", "line 2: the cue ends"),
        ("Hello world\nthis is prose\n", "line 1: no cue found"),
        ("1\n00:00:01,000 --> 00:00:02,000\nHi\n\n\nstray text\n", "line 6: a cue without a timing line"),
        ("", "no subtitle cue"),
    ],
)
def test_malformed_srt_names_the_line(text: str, needle: str) -> None:
    with pytest.raises(InvalidArgumentError, match=needle):
        parse_srt(text)


def test_malformed_vtt() -> None:
    with pytest.raises(InvalidArgumentError, match="line 1: a WebVTT document must start"):
        parse_vtt("1\n00:00:01.000 --> 00:00:02.000\nHi\n")
    with pytest.raises(InvalidArgumentError, match="line 3: a WebVTT block without a cue timing"):
        parse_vtt("WEBVTT\n\nid-only\nno timing\n")
    with pytest.raises(InvalidArgumentError, match="UTF-8"):
        decode_document(b"1\n\xff\xfe\xfd")


def test_wrap_text() -> None:
    assert wrap_text("a b c d e f g h i j k l m n o p q r s t u v w x y z", 20) == (
        "a b c d e f g h i j\nk l m n o p q r s t\nu v w x y z"
    )
    zh = wrap_text("今晚我想谈谈你每天经过却从未注意到的东西。", 20)
    assert zh.split("\n") == [
        "今晚我想谈谈你每天经",
        "过却从未注意到的东西。",
    ]  # CJK = 2 columns; 。 never starts a line
    assert wrap_text("<i>Hello</i> there", 11) == "<i>Hello</i> there"  # tags take no width


def test_protect_and_restore() -> None:
    p = protect("<i>♪ Oh, the lights,\nburning ♪</i>")
    assert p.text == "⟦0⟧⟦1⟧ Oh, the lights,\nburning ⟦2⟧⟦3⟧" and p.spans == ("<i>", "♪", "♪", "</i>")
    assert p.restore("⟦0⟧⟦1⟧ Oh, las luces,\nardiendo ⟦2⟧⟦3⟧") == "<i>♪ Oh, las luces,\nardiendo ♪</i>"
    assert p.restore("⟦0⟧⟦1⟧ Oh, las luces ⟦2⟧") is None  # one lost
    assert p.restore("⟦0⟧⟦1⟧ ⟦1⟧ x ⟦2⟧⟦3⟧") is None  # one duplicated
    assert p.restore("⟦0⟧⟦1⟧ x ⟦2⟧⟦3⟧⟦4⟧") is None  # one invented
    assert p.restore("⟦ 0 ⟧⟦1⟧ x ⟦2⟧⟦3⟧") == "<i>♪ x ♪</i>"  # spacing inside a placeholder is tolerated
    dialogue = protect("- [JOHN] Run!\n- [MARY] Where?")
    assert dialogue.text == "- ⟦0⟧ Run!\n- ⟦1⟧ Where?"
    assert protect("[THUNDER RUMBLING]").spans == ()  # a sound description is translated
    assert protect("{\\an8}Hello").text == "⟦0⟧Hello"
    glossary = protect("Ting and TING ring", [("ting", False)])
    assert glossary.spans == ("Ting", "TING") and glossary.text == "⟦0⟧ and ⟦1⟧ ring"
    assert protect("Ting ring", [("ting", True)]).spans == ()
    assert not needs_translation(protect("♪ ♪").text) and not needs_translation("") and not needs_translation("12")
    assert needs_translation(protect("<i>Hi</i>").text)


def test_language_codes() -> None:
    assert normalize_language("pt_br") == "pt-BR" and normalize_language("zh-hant") == "zh-Hant"
    assert normalize_language(" EN ") == "en"
    for bad in ("english", "qq", "", "e", "en--US"):
        with pytest.raises(InvalidArgumentError):
            normalize_language(bad)
    assert language_name("es") == "Spanish" and language_name("pt-BR") == "Portuguese (pt-BR)"
    assert language_name("yo") == "yo"
