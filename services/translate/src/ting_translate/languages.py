"""Language codes: validation and the English names used in LLM prompts.

Requests carry ISO 639-1 codes, optionally with BCP-47 subtags (``pt-BR``, ``zh-Hant``). The primary
subtag must be a known ISO 639-1 code; anything else is INVALID_ARGUMENT.
"""

from __future__ import annotations

import re
from typing import Final

from ting_common.errors import InvalidArgumentError

__all__ = ["ISO_639_1", "language_name", "normalize_language"]

# Every ISO 639-1 code (184).
ISO_639_1: Final = frozenset(
    """aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv dz
    ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io
    is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr
    ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si
    sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh
    yi yo za zh zu""".split()  # noqa: SIM905 - a word list reads better than 184 quoted strings
)

_NAMES: Final = {
    "af": "Afrikaans", "ar": "Arabic", "bg": "Bulgarian", "bn": "Bengali", "ca": "Catalan", "cs": "Czech",
    "cy": "Welsh", "da": "Danish", "de": "German", "el": "Greek", "en": "English", "es": "Spanish",
    "et": "Estonian", "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fr": "French", "ga": "Irish",
    "gl": "Galician", "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "hu": "Hungarian", "hy": "Armenian",
    "id": "Indonesian", "is": "Icelandic", "it": "Italian", "ja": "Japanese", "ka": "Georgian", "kk": "Kazakh",
    "ko": "Korean", "lt": "Lithuanian", "lv": "Latvian", "mk": "Macedonian", "ms": "Malay", "mt": "Maltese",
    "nb": "Norwegian Bokmål", "nl": "Dutch", "nn": "Norwegian Nynorsk", "no": "Norwegian", "pl": "Polish",
    "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "sk": "Slovak", "sl": "Slovenian", "sq": "Albanian",
    "sr": "Serbian", "sv": "Swedish", "sw": "Swahili", "ta": "Tamil", "te": "Telugu", "th": "Thai",
    "tl": "Tagalog", "tr": "Turkish", "uk": "Ukrainian", "ur": "Urdu", "uz": "Uzbek", "vi": "Vietnamese",
    "zh": "Chinese",
}  # fmt: skip

_CODE = re.compile(r"^[A-Za-z]{2}(?:[-_][A-Za-z0-9]{2,8})*$")


def normalize_language(code: str, *, field: str = "language code") -> str:
    """Return ``code`` normalized (``pt_br`` -> ``pt-BR``, ``zh-hant`` -> ``zh-Hant``) or raise INVALID_ARGUMENT."""
    raw = code.strip()
    if not _CODE.match(raw):
        raise InvalidArgumentError(f"{field} {code!r} is not an ISO 639-1 code (e.g. 'en', 'zh', 'pt-BR')")
    parts = raw.replace("_", "-").split("-")
    primary = parts[0].lower()
    if primary not in ISO_639_1:
        raise InvalidArgumentError(f"{field} {code!r}: unknown ISO 639-1 language {primary!r}")
    rest = [p.upper() if len(p) == 2 else p.title() if len(p) == 4 else p.lower() for p in parts[1:]]
    return "-".join([primary, *rest])


def language_name(code: str) -> str:
    """English name of ``code`` for prompts (``"pt-BR"`` -> ``"Portuguese (pt-BR)"``); the code when unnamed."""
    primary = code.split("-")[0]
    name = _NAMES.get(primary)
    if name is None:
        return code
    return name if code == primary else f"{name} ({code})"


def primary_subtag(code: str) -> str:
    """``"pt-BR"`` -> ``"pt"``."""
    return code.split("-")[0]
