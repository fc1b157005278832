"""The one place that writes a :class:`~ting_common.transcript.Transcript` as text: txt, json, srt, vtt, tsv.

Every service, the gateway and the CLI call :func:`format_transcript`, so a subtitle file looks the same
whichever door it came out of.

Subtitle cues (srt, vtt) are wrapped at ``max_line_width`` display columns (CJK characters count two) into
at most ``max_lines`` lines. A segment with word timestamps is split into several cues, each timed by its
words; a segment without words becomes one cue holding all of its wrapped lines. Text without spaces
(Chinese, Japanese) is broken between characters, never before closing punctuation. Cue times never go
backwards and a cue never ends before it starts.
"""

from __future__ import annotations

import json
import logging
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from ting_common.errors import InvalidArgumentError, OutOfRangeError
from ting_common.transcript import Segment, Transcript, Word

__all__ = ["FORMATS", "format_timestamp", "format_transcript", "transcript_to_dict"]

logger = logging.getLogger(__name__)

FORMATS: Final = ("txt", "json", "srt", "vtt", "tsv")

# A line may not start with these (they stick to what precedes them) ...
_NO_BREAK_BEFORE: Final = frozenset(
    "，。、．！？；：）」』》〉】〕〗〙〛｝］’”…‥・ー々ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ,.!?;:)]}%"
)
# ... nor end with these (they stick to what follows them).
_NO_BREAK_AFTER: Final = frozenset("（「『《〈【〔〖〘〚｛［‘“([{")


def format_transcript(t: Transcript, fmt: str, *, max_line_width: int = 42, max_lines: int = 2) -> str:
    """Render ``t`` as ``fmt`` (one of :data:`FORMATS`, case-insensitive); the text ends with a newline.

    ``max_line_width`` and ``max_lines`` shape subtitle cues (srt, vtt) and are ignored otherwise.
    """
    name = fmt.strip().lower().lstrip(".")
    if name not in FORMATS:
        raise InvalidArgumentError(f"unknown transcript format {fmt!r}; use one of: {', '.join(FORMATS)}")
    if max_line_width < 1:
        raise OutOfRangeError(f"max_line_width must be at least 1, got {max_line_width}")
    if max_lines < 1:
        raise OutOfRangeError(f"max_lines must be at least 1, got {max_lines}")
    if name == "txt":
        return _write_txt(t)
    if name == "json":
        return json.dumps(transcript_to_dict(t), ensure_ascii=False, indent=2) + "\n"
    if name == "tsv":
        return _write_tsv(t)
    cues = _cues(t, max_line_width, max_lines, vtt=name == "vtt")
    if name == "srt":
        return _write_srt(cues)
    return _write_vtt(cues)


def transcript_to_dict(t: Transcript, *, words: bool = True) -> dict[str, Any]:
    """The json format as a dict: times rounded to milliseconds, ``speaker`` only where known.

    With ``words=False`` every segment's ``words`` list is empty (the key stays, so the shape is fixed).
    Non-finite numbers become ``None`` so the result is always valid JSON.
    """
    return {
        "language": t.language,
        "language_probability": _number(t.language_probability),
        "duration": _time(t.duration),
        "text": t.text,
        "segments": [_segment_dict(s, words=words) for s in t.segments],
    }


def format_timestamp(seconds: float, *, always_hours: bool = True, decimal_marker: str = ",") -> str:
    """``HH:MM:SS,mmm`` (srt style by default); ``always_hours=False`` drops a zero hour field.

    Negative times are clamped to zero; hours grow past 99 rather than wrap.
    """
    if not math.isfinite(seconds):
        raise InvalidArgumentError(f"a timestamp must be a finite number of seconds, got {seconds}")
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    head = f"{hours:02d}:" if always_hours or hours else ""
    return f"{head}{minutes:02d}:{secs:02d}{decimal_marker}{millis:03d}"


# --------------------------------------------------------------------------------------------------
# txt, tsv, json
# --------------------------------------------------------------------------------------------------


def _write_txt(t: Transcript) -> str:
    lines = [_with_speaker(s.speaker, _clean(s.text)) for s in t.segments if _clean(s.text)]
    return "".join(f"{line}\n" for line in lines)


def _write_tsv(t: Transcript) -> str:
    rows = ["start\tend\ttext"]
    for segment in t.segments:
        text = _clean(segment.text)
        if not text:
            continue
        start = max(0, round(segment.start * 1000))
        end = max(start, round(segment.end * 1000))
        rows.append(f"{start}\t{end}\t{_with_speaker(segment.speaker, text)}")
    return "\n".join(rows) + "\n"


def _segment_dict(segment: Segment, *, words: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": segment.id,
        "start": _time(segment.start),
        "end": _time(segment.end),
        "text": segment.text,
        "avg_logprob": _number(segment.avg_logprob),
        "no_speech_prob": _number(segment.no_speech_prob),
        "words": [_word_dict(w) for w in segment.words] if words else [],
    }
    if segment.speaker:
        out["speaker"] = segment.speaker
    return out


def _word_dict(word: Word) -> dict[str, Any]:
    out: dict[str, Any] = {
        "start": _time(word.start),
        "end": _time(word.end),
        "word": word.word,
        "probability": _number(word.probability),
    }
    if word.speaker:
        out["speaker"] = word.speaker
    return out


def _time(seconds: float) -> float | None:
    return round(seconds, 3) if math.isfinite(seconds) else None


def _number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _clean(text: str) -> str:
    """Collapse all whitespace (tabs and newlines included) to single spaces."""
    return " ".join(text.split())


def _with_speaker(speaker: str, text: str) -> str:
    return f"[{speaker}] {text}" if speaker else text


# --------------------------------------------------------------------------------------------------
# Subtitle cues (srt, vtt)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    """An unbreakable piece of a line: a word, or one CJK character with its punctuation."""

    text: str
    space: bool  # a space separates it from the previous token on the same line
    start: float | None = None
    end: float | None = None


@dataclass(frozen=True, slots=True)
class _Cue:
    start: float
    end: float
    lines: tuple[str, ...]
    speaker: str


def _cues(t: Transcript, width: int, max_lines: int, *, vtt: bool) -> list[_Cue]:
    cues: list[_Cue] = []
    previous_end = 0.0
    for segment in t.segments:
        if not _clean(segment.text):
            continue
        timed = _word_tokens(segment.words)
        tokens = timed or _text_tokens(segment.text)
        if segment.speaker and not vtt:  # srt shows the speaker in the text; vtt has a voice tag
            label = _Token(f"[{segment.speaker}]", space=False)
            tokens = [label, replace(tokens[0], space=True), *tokens[1:]]
        lines = _wrap(tokens, width)
        # Word times let a long segment become several cues; without them it stays one cue.
        groups = [lines[i : i + max_lines] for i in range(0, len(lines), max_lines)] if timed else [lines]
        for group in groups:
            start, end = _span(group, segment)
            start = max(start, previous_end)
            end = max(end, start)
            previous_end = end
            cues.append(_Cue(start, end, tuple(_join(line) for line in group), segment.speaker))
    return cues


def _span(lines: Sequence[Sequence[_Token]], segment: Segment) -> tuple[float, float]:
    """A cue's time span: from its first timed token to its last, else the segment's."""
    starts = [tok.start for line in lines for tok in line if tok.start is not None]
    ends = [tok.end for line in lines for tok in line if tok.end is not None]
    start = min(starts) if starts else segment.start
    end = max(ends) if ends else segment.end
    return _finite(start), _finite(end)


def _finite(seconds: float) -> float:
    return seconds if math.isfinite(seconds) else 0.0


def _write_srt(cues: Sequence[_Cue]) -> str:
    blocks = [
        f"{index}\n{format_timestamp(cue.start)} --> {format_timestamp(cue.end)}\n"
        + "\n".join(_no_arrow(line) for line in cue.lines)
        for index, cue in enumerate(cues, start=1)
    ]
    return "\n\n".join(blocks) + "\n" if blocks else ""


def _write_vtt(cues: Sequence[_Cue]) -> str:
    blocks = ["WEBVTT"]
    for cue in cues:
        lines = [_vtt_escape(line) for line in cue.lines]
        if cue.speaker:
            lines[0] = f"<v {_vtt_escape(cue.speaker)}>{lines[0]}"
        start = format_timestamp(cue.start, decimal_marker=".")
        end = format_timestamp(cue.end, decimal_marker=".")
        blocks.append(f"{start} --> {end}\n" + "\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _no_arrow(line: str) -> str:
    """Replace "-->" in cue text, where a player would read it as a timing line."""
    return line.replace("-->", "->")


def _vtt_escape(text: str) -> str:
    return _no_arrow(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --------------------------------------------------------------------------------------------------
# Tokenizing and wrapping
# --------------------------------------------------------------------------------------------------


def _word_tokens(words: Sequence[Word]) -> list[_Token]:
    """Tokens from word timestamps, keeping the engine's spacing.

    Whisper-style words carry their leading space (" world"); when no word does, words are joined with
    spaces except next to CJK characters and before closing punctuation. A word holding several CJK
    characters stays one token (it is one word), unless it is wider than a line.
    """
    kept = [w for w in words if w.word.strip()]
    leading_spaces = any(w.word[:1].isspace() for w in kept[1:])
    tokens: list[_Token] = []
    for word in kept:
        text = _clean(word.word)
        if leading_spaces:
            space = word.word[:1].isspace()
        else:
            after_cjk = bool(tokens) and (_is_cjk(tokens[-1].text[-1]) or _is_cjk(text[0]))
            space = bool(tokens) and not after_cjk and text[0] not in _NO_BREAK_BEFORE
        if tokens and not space and text[0] in _NO_BREAK_BEFORE:
            # Punctuation given as its own word ("。") stays on the line of the word before it.
            last = tokens[-1]
            tokens[-1] = _Token(last.text + text, last.space, last.start, max(last.end or 0.0, word.end))
            continue
        tokens.append(_Token(text, space=space and bool(tokens), start=word.start, end=word.end))
    return tokens


def _text_tokens(text: str) -> list[_Token]:
    """Tokens from plain text: words split at spaces, CJK runs split into single characters."""
    tokens: list[_Token] = []
    for index, chunk in enumerate(text.split()):
        pieces: list[str] = []
        run = ""
        for grapheme in _graphemes(chunk):
            if _is_cjk(grapheme[0]):
                if run:
                    pieces.append(run)
                    run = ""
                pieces.append(grapheme)
            else:
                run += grapheme
        if run:
            pieces.append(run)
        pieces = _glue_punctuation(pieces)
        for position, piece in enumerate(pieces):
            tokens.append(_Token(piece, space=index > 0 and position == 0))
    return tokens


def _glue_punctuation(pieces: list[str]) -> list[str]:
    """Attach closing punctuation to the piece before it and opening punctuation to the piece after it."""
    glued: list[str] = []
    carry = ""
    for piece in pieces:
        if glued and not carry and piece[0] in _NO_BREAK_BEFORE:
            glued[-1] += piece
        elif piece[-1] in _NO_BREAK_AFTER and len(piece) == 1:
            carry += piece
        else:
            glued.append(carry + piece)
            carry = ""
    if carry:
        glued.append(carry)
    return glued


def _wrap(tokens: Sequence[_Token], width: int) -> list[list[_Token]]:
    """Greedy line filling; a token wider than a line is cut between graphemes."""
    lines: list[list[_Token]] = []
    line: list[_Token] = []
    used = 0
    for token in _split_wide(tokens, width):
        size = _width(token.text)
        extra = size + (1 if line and token.space else 0)
        if line and used + extra > width:
            lines.append(line)
            line, used = [token], size
        else:
            line.append(token)
            used += extra
    if line:
        lines.append(line)
    return lines


def _split_wide(tokens: Sequence[_Token], width: int) -> list[_Token]:
    out: list[_Token] = []
    for token in tokens:
        if _width(token.text) <= width:
            out.append(token)
            continue
        part = ""
        first = True
        for grapheme in _graphemes(token.text):
            if part and _width(part + grapheme) > width:
                out.append(_Token(part, space=token.space and first, start=token.start, end=token.end))
                part, first = "", False
            part += grapheme
        if part:
            out.append(_Token(part, space=token.space and first, start=token.start, end=token.end))
    return out


def _join(line: Sequence[_Token]) -> str:
    return "".join((" " if i and tok.space else "") + tok.text for i, tok in enumerate(line))


def _graphemes(text: str) -> list[str]:
    """Characters with their combining marks attached (enough for Thai, Devanagari, accents)."""
    out: list[str] = []
    for char in text:
        attaches = unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Mc", "Me")
        if out and (attaches or char in ("\u200d", "\ufe0f")):
            out[-1] += char
        else:
            out.append(char)
    return out


def _width(text: str) -> int:
    """Display columns: East Asian wide/fullwidth characters take two, combining marks none."""
    total = 0
    for char in text:
        if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
            continue
        total += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return total


def _is_cjk(char: str) -> bool:
    """Scripts written without spaces that may break between any two characters (not Hangul)."""
    code = ord(char)
    if 0xAC00 <= code <= 0xD7AF or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F:
        return False  # Korean separates words with spaces
    wide = unicodedata.east_asian_width(char) in ("W", "F")
    return wide and unicodedata.category(char)[0] in ("L", "P", "N")
