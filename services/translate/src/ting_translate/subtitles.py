"""SRT and WebVTT: tolerant parsing into :class:`Cue` objects and canonical rendering.

Parsing accepts what real files contain: a UTF-8 (or UTF-16) byte-order mark, CRLF or CR line endings, several
blank or whitespace-only lines between cues, no final newline, multi-line cues, cue times past the hour, SRT
files without sequence numbers, and for WebVTT the header text, ``NOTE``/``STYLE``/``REGION`` blocks, cue
identifiers, cue settings and times without hours. Anything else that is malformed (a bad timestamp, a cue
ending before it starts, a block without a timing line, a document with no cue) raises
:class:`~ting_common.errors.InvalidArgumentError` naming the line.

A leading speaker tag is read into :attr:`Cue.speaker` and taken out of the text: ``[JOHN] Hi`` and
``JOHN: Hi`` in SRT, ``<v John>Hi`` in WebVTT. The tag's style is remembered so a document renders back the
way it came in (a ``[JOHN]`` cue stays ``[JOHN]`` in SRT and becomes ``<v JOHN>`` in WebVTT).

Rendering is canonical: UTF-8 without BOM, LF line endings, one blank line between cues, a final newline; SRT
cues are numbered 1..N. ``render(parse(doc))`` equals ``doc`` for any document already in that form.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from ting_common.errors import InvalidArgumentError
from ting_common.formats import format_timestamp

__all__ = [
    "Cue",
    "SubtitleFormat",
    "decode_document",
    "detect_format",
    "parse_document",
    "parse_srt",
    "parse_vtt",
    "render",
]


class SubtitleFormat(StrEnum):
    """A subtitle document format."""

    SRT = "srt"
    VTT = "vtt"


@dataclass(frozen=True)
class Cue:
    """One timed subtitle cue (times in integer milliseconds)."""

    index: int
    start_ms: int
    end_ms: int
    text: str
    speaker: str = ""
    identifier: str = ""
    settings: str = ""
    # How the speaker was written in the source: "bracket" ([NAME]), "colon" (NAME:), "voice" (<v NAME>).
    speaker_style: str = ""


_TIME: Final = r"(?:(\d+):)?([0-5]?\d):([0-5]\d)[,.](\d{1,3})"
_TIMING: Final = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}(?:\s+(.*?))?\s*$")
_ARROW: Final = re.compile(r"-->")
_BRACKET_SPEAKER: Final = re.compile(r"^\[([^\[\]\n]{1,40})\]\s+(?=\S)")
_COLON_SPEAKER: Final = re.compile(r"^([A-Z][A-Z0-9 .'\-]{0,30}[A-Z0-9.]):\s+(?=\S)")
_VOICE: Final = re.compile(r"^<v(?:\.[\w.\-]+)?\s+([^>]+)>")


def decode_document(content: bytes) -> str:
    """Bytes -> text: UTF-8 (BOM optional) or UTF-16 with BOM; INVALID_ARGUMENT otherwise."""
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return content.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InvalidArgumentError(f"the subtitle document is not valid UTF-16: {exc.reason}") from exc
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise InvalidArgumentError(f"line {line}: the subtitle document is not valid UTF-8") from exc


def _lines(text: str) -> list[str]:
    text = text.removeprefix("\ufeff")
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def detect_format(text: str) -> SubtitleFormat:
    """WebVTT when the first line starts with ``WEBVTT``, SRT otherwise."""
    first = _lines(text)[0].strip() if text else ""
    return SubtitleFormat.VTT if first.startswith("WEBVTT") else SubtitleFormat.SRT


def parse_document(text: str, fmt: SubtitleFormat | None = None) -> tuple[list[Cue], SubtitleFormat]:
    """Parse an SRT or WebVTT document (format detected when ``fmt`` is None)."""
    fmt = fmt or detect_format(text)
    return (parse_vtt(text) if fmt is SubtitleFormat.VTT else parse_srt(text)), fmt


def _blocks(lines: Sequence[str], start: int = 0) -> list[tuple[int, list[str]]]:
    """Group lines into blocks separated by blank (or whitespace-only) lines; each with its 1-based line number."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    first = 0
    for number, line in enumerate(lines[start:], start=start + 1):
        if line.strip():
            if not current:
                first = number
            current.append(line.rstrip())
        elif current:
            blocks.append((first, current))
            current = []
    if current:
        blocks.append((first, current))
    return blocks


def _ms(groups: Sequence[str | None]) -> int:
    hours, minutes, seconds, frac = groups
    millis = int((frac or "0").ljust(3, "0"))
    return ((int(hours or 0) * 60 + int(minutes or 0)) * 60 + int(seconds or 0)) * 1000 + millis


def _timing(line: str, number: int) -> tuple[int, int, str]:
    match = _TIMING.match(line)
    if match is None:
        raise InvalidArgumentError(
            f"line {number}: bad cue timing {line.strip()!r}; expected 'HH:MM:SS,mmm --> HH:MM:SS,mmm'"
        )
    g = match.groups()
    start, end = _ms(g[0:4]), _ms(g[4:8])
    if end < start:
        raise InvalidArgumentError(f"line {number}: the cue ends ({line.split('-->')[1].strip()}) before it starts")
    return start, end, (g[8] or "").strip()


def _split_speaker(text: str, *, vtt: bool) -> tuple[str, str, str]:
    """(speaker, style, text without the tag) for a cue's text."""
    if vtt:
        voice = _VOICE.match(text)
        if voice is not None:
            rest = text[voice.end() :]
            if rest.endswith("</v>"):
                rest = rest[: -len("</v>")]
            return voice.group(1).strip(), "voice", rest
    bracket = _BRACKET_SPEAKER.match(text)
    if bracket is not None:
        return bracket.group(1).strip(), "bracket", text[bracket.end() :]
    colon = _COLON_SPEAKER.match(text)
    if colon is not None:
        return colon.group(1).strip(), "colon", text[colon.end() :]
    return "", "", text


def parse_srt(text: str) -> list[Cue]:
    """Parse SubRip; raises INVALID_ARGUMENT with the line number on malformed input."""
    cues: list[Cue] = []
    for first, block in _blocks(_lines(text)):
        number_line: str | None = None
        if _ARROW.search(block[0]):
            timing_at = 0
        else:
            number_line = block[0].strip()
            timing_at = 1
            if len(block) < 2 or not _ARROW.search(block[1]):
                what = "no cue found" if not cues else "a cue without a timing line"
                raise InvalidArgumentError(
                    f"line {first}: {what} ({block[0].strip()[:40]!r}); this does not look like an SRT document"
                )
        start, end, _settings = _timing(block[timing_at], first + timing_at)
        if number_line is not None and not number_line.isdigit():
            raise InvalidArgumentError(f"line {first}: expected a cue number, got {number_line[:40]!r}")
        index = int(number_line) if number_line is not None else len(cues) + 1
        body = "\n".join(block[timing_at + 1 :])
        speaker, style, body = _split_speaker(body, vtt=False)
        cues.append(Cue(index, start, end, body, speaker=speaker, speaker_style=style))
    if not cues:
        raise InvalidArgumentError("line 1: the document holds no subtitle cue")
    return cues


def parse_vtt(text: str) -> list[Cue]:
    """Parse WebVTT; raises INVALID_ARGUMENT with the line number on malformed input."""
    lines = _lines(text)
    if not lines[0].startswith("WEBVTT"):
        raise InvalidArgumentError("line 1: a WebVTT document must start with 'WEBVTT'")
    cues: list[Cue] = []
    for first, block in _blocks(lines, 1):
        head = block[0].strip()
        if first == 2 and not cues and not any(_ARROW.search(x) for x in block):
            continue  # header continuation lines ("Kind: captions", "Language: en")
        if head.startswith(("NOTE", "STYLE", "REGION")) and not _ARROW.search(head):
            continue
        identifier = ""
        timing_at = 0
        if not _ARROW.search(block[0]):
            identifier = head
            timing_at = 1
            if len(block) < 2 or not _ARROW.search(block[1]):
                raise InvalidArgumentError(f"line {first}: a WebVTT block without a cue timing ({head[:40]!r})")
        start, end, settings = _timing(block[timing_at], first + timing_at)
        body = "\n".join(block[timing_at + 1 :])
        speaker, style, body = _split_speaker(body, vtt=True)
        cues.append(Cue(len(cues) + 1, start, end, body, speaker, identifier, settings, style))
    if not cues:
        raise InvalidArgumentError("line 1: the WebVTT document holds no cue")
    return cues


def _time(ms: int, fmt: SubtitleFormat) -> str:
    return format_timestamp(ms / 1000, decimal_marker="." if fmt is SubtitleFormat.VTT else ",")


def _with_speaker(cue: Cue, fmt: SubtitleFormat) -> str:
    text = cue.text.replace("-->", "->")
    if not cue.speaker:
        return text
    if fmt is SubtitleFormat.VTT:
        return f"<v {cue.speaker}>{text}"
    if cue.speaker_style == "colon":
        return f"{cue.speaker}: {text}"
    return f"[{cue.speaker}] {text}"


def render(cues: Sequence[Cue], fmt: SubtitleFormat) -> str:
    """Canonical SRT or WebVTT text for ``cues`` (LF, one blank line between cues, final newline)."""
    blocks: list[str] = []
    for number, cue in enumerate(cues, start=1):
        timing = f"{_time(cue.start_ms, fmt)} --> {_time(cue.end_ms, fmt)}"
        body = "\n".join(line for line in _with_speaker(cue, fmt).split("\n") if line.strip())
        if fmt is SubtitleFormat.VTT:
            ident = [cue.identifier] if cue.identifier else []
            if cue.settings:
                timing = f"{timing} {cue.settings}"
            blocks.append("\n".join([*ident, timing, body]) if body else "\n".join([*ident, timing]))
        else:
            blocks.append(f"{number}\n{timing}\n{body}" if body else f"{number}\n{timing}")
    head = "WEBVTT\n\n" if fmt is SubtitleFormat.VTT else ""
    return head + "\n\n".join(blocks) + "\n"


_TAG: Final = re.compile(r"<[^<>\n]*>|\{\\[^{}\n]*\}")
_NO_BREAK_BEFORE: Final = frozenset("，。、．！？；：）」』》〉】,.!?;:)]}%…")


def _display_width(text: str) -> int:
    from ting_translate.tokens import is_cjk

    return sum(2 if is_cjk(ch) else 1 for ch in _TAG.sub("", text))


def wrap_text(text: str, width: int) -> str:
    """Re-wrap ``text`` into lines of at most ``width`` display columns (CJK counts two; tags count zero).

    Words are never cut; text without spaces (Chinese, Japanese) breaks between characters.
    """
    from ting_translate.tokens import is_cjk

    flat = " ".join(part.strip() for part in text.split("\n") if part.strip())
    tokens: list[str] = []
    for word in flat.split(" "):
        if _display_width(word) > width and any(is_cjk(ch) for ch in word):
            tokens.extend(word)
        else:
            tokens.append(word)
    lines: list[str] = []
    current = ""
    for token in tokens:
        glue = "" if (current and (is_cjk(current[-1]) or is_cjk(token[0]))) else " "
        candidate = f"{current}{glue}{token}" if current else token
        if current and _display_width(candidate) > width and token[0] not in _NO_BREAK_BEFORE:
            lines.append(current)
            current = token
        else:
            current = candidate
    if current:
        lines.append(current)
    return "\n".join(lines)
