"""Masking of text that must survive translation untouched.

Before a text goes to an engine, every span that must not be translated is replaced by a numbered placeholder
``⟦0⟧``, ``⟦1⟧``, ...: inline markup (``<i>``, ``</i>``, ``<font ...>``, WebVTT ``<v ...>``/``<c.x>``/karaoke
timestamps), ASS/SSA override blocks (``{\\an8}``), music notes (``♪``), speaker tags inside a cue
(``[JOHN] ...``, ``- [MARY] ...``) and do-not-translate glossary terms. After translation
:meth:`Protected.restore` puts them back and returns ``None`` unless every placeholder came back exactly once
(the caller then retries) — so markup is never silently lost or duplicated.

Sound descriptions such as ``[THUNDER RUMBLING]`` (a bracket not followed by speech) are translated.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

__all__ = ["Protected", "needs_translation", "protect"]

_PROTECTED: Final = re.compile(
    r"<[^<>\n]{1,200}>"  # HTML / WebVTT tags and timestamps
    r"|\{\\[^{}\n]{0,200}\}"  # ASS override blocks {\an8}
    r"|[♪♫]+"  # music notes
    r"|(?:(?<=^)|(?<=\n)|(?<=- ))\[[^\[\]\n]{1,40}\](?=[ \t]+\S)"  # a speaker tag followed by speech
)
_PLACEHOLDER: Final = re.compile(r"⟦\s*(\d+)\s*⟧")
_WORDY: Final = re.compile(r"\w")


@dataclass(frozen=True)
class Protected:
    """A masked text and the spans its placeholders stand for (placeholder ``⟦i⟧`` is ``spans[i]``)."""

    text: str
    spans: tuple[str, ...]

    def restore(self, translated: str) -> str | None:
        """Put the spans back into ``translated``; ``None`` when a placeholder is missing, repeated or unknown."""
        found = [int(m.group(1)) for m in _PLACEHOLDER.finditer(translated)]
        if sorted(found) != list(range(len(self.spans))):
            return None
        return _PLACEHOLDER.sub(lambda m: self.spans[int(m.group(1))], translated)


def protect(text: str, keep_terms: Sequence[tuple[str, bool]] = ()) -> Protected:
    """Mask markup, notes, speaker tags and the do-not-translate ``keep_terms`` ((term, case_sensitive) pairs)."""
    spans: list[str] = []

    def _mask(match: re.Match[str]) -> str:
        spans.append(match.group(0))
        return f"⟦{len(spans) - 1}⟧"

    masked = _PROTECTED.sub(_mask, text)
    for term, case_sensitive in keep_terms:
        if not term:
            continue
        pattern = re.compile(rf"(?<!\w){re.escape(term)}(?!\w)", 0 if case_sensitive else re.IGNORECASE)
        # Never match inside a placeholder created above.
        pieces = re.split(r"(⟦\d+⟧)", masked)
        masked = "".join(p if _PLACEHOLDER.fullmatch(p) else pattern.sub(_mask, p) for p in pieces)
    return Protected(masked, tuple(spans))


def needs_translation(masked: str) -> bool:
    """False when a masked text holds nothing to translate (only placeholders, spaces, punctuation, digits)."""
    rest = _PLACEHOLDER.sub("", masked)
    return any(_WORDY.search(ch) and not ch.isdigit() for ch in rest)
