"""Spoken deadlines ("by Friday", "next Tuesday", "end of the month", 周五之前, 下周二, 月底): find and resolve.

:func:`find_due` returns the first deadline expression of a text as spoken; :func:`resolve_due` turns it
into an ISO date against the recording date. Conventions (documented, not guessed per call): a bare
weekday is its next occurrence after the reference date (a week later when it is that weekday today);
"next <weekday>" / 下周X is that weekday in the following calendar week (weeks start on Monday);
"end of the week" is that week's Friday; "end of the month/quarter/year" its last day. Vague spans
("next week", 下个月) stay unresolved.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from ting_summarize.engines.text import word_list

WEEKDAYS_EN = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS_EN = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MONTH_ABBR = {m[:3]: i + 1 for i, m in enumerate(MONTHS_EN)} | {"sept": 9}
_MONTH_RE = r"(?:january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)"  # noqa: E501
_WEEKDAY_RE = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_ORDINAL_WORDS = {
    w: i + 1
    for i, w in enumerate(
        word_list(
            "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
            "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth "
        )
    )
} | {"thirtieth": 30, "thirty first": 31, "thirty-first": 31}
for _unit, _n in (("first", 1), ("second", 2), ("third", 3), ("fourth", 4), ("fifth", 5), ("sixth", 6)):
    _ORDINAL_WORDS[f"twenty {_unit}"] = 20 + _n
    _ORDINAL_WORDS[f"twenty-{_unit}"] = 20 + _n
for _unit, _n in (("seventh", 7), ("eighth", 8), ("ninth", 9)):
    _ORDINAL_WORDS[f"twenty {_unit}"] = 20 + _n
    _ORDINAL_WORDS[f"twenty-{_unit}"] = 20 + _n
_DAY_RE = r"(?:\d{1,2}(?:st|nd|rd|th)?|" + "|".join(sorted(_ORDINAL_WORDS, key=len, reverse=True)) + ")"

DEADLINE_PREPOSITIONS_EN = r"(?:by|before|until|till|no later than|due|on|for|at|in)"

_EN_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("iso", re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")),
    (
        "end_of",
        re.compile(
            r"\b(?:the\s+)?end\s+of\s+(?:the\s+|this\s+|(next)\s+)?(day|week|month|quarter|year|sprint|q[1-4]|"
            + _MONTH_RE
            + r")\b",
            re.I,
        ),
    ),
    ("eod", re.compile(r"\b(eod|eow|end of day)\b", re.I)),
    (
        "month_day",
        re.compile(r"\b(" + _MONTH_RE + r")\.?\s+(?:the\s+)?(" + _DAY_RE + r")\b(?:,?\s+(\d{4}))?", re.I),
    ),
    (
        "day_month",
        re.compile(r"\b(?:the\s+)?(" + _DAY_RE + r")\s+of\s+(" + _MONTH_RE + r")\b(?:,?\s+(\d{4}))?", re.I),
    ),
    (
        "weekday",
        re.compile(
            r"\b(?:(next|this|coming|the coming|this coming)\s+)?(" + _WEEKDAY_RE + r")"
            r"(?:\s+(morning|afternoon|evening|night|noon|eod))?\b",
            re.I,
        ),
    ),
    ("relative", re.compile(r"\b(tomorrow|tonight|today|next week|next month|this week|this month)\b", re.I)),
    ("in_n", re.compile(r"\bin\s+(a|one|two|three|four|\d+)\s+(days?|weeks?)\b", re.I)),
]

_ZH_NUM = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_ZH_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "1": 0, "2": 1, "3": 2}
_ZH_WEEKDAY |= {"4": 3, "5": 4, "6": 5, "7": 6}
_ZH_NUMBER = r"(?:\d{1,2}|[一二三四五六七八九十两]{1,3})"
_ZH_SUFFIX = r"(?:之前|以前|前|为止)?"
_ZH_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("zh_month_day", re.compile(r"(?:(\d{4})年)?(" + _ZH_NUMBER + r")月(" + _ZH_NUMBER + r")[日号]" + _ZH_SUFFIX)),
    ("zh_end", re.compile(r"(本|这个|下个?|今)?(月底|月末|年底|年末|周末|季度末)" + _ZH_SUFFIX)),
    ("zh_weekday", re.compile(r"(下|这|本|下个)?(?:周|星期|礼拜)([一二三四五六日天1-7])" + _ZH_SUFFIX)),
    ("zh_relative", re.compile(r"(明天|后天|今天|今晚|下周|下个?星期|下个?月)" + _ZH_SUFFIX)),
]


@dataclass(frozen=True)
class Due:
    """A deadline found in a text: as spoken, the span it covers, and what it means."""

    text: str
    start: int
    end: int
    kind: str
    groups: tuple[str | None, ...]


def _zh_number(token: str) -> int:
    if token.isdigit():
        return int(token)
    if "十" in token:
        tens, _, units = token.partition("十")
        return (_ZH_NUM.get(tens, 1) if tens else 1) * 10 + (_ZH_NUM.get(units, 0) if units else 0)
    return _ZH_NUM.get(token, 0)


def find_due(text: str, language: str = "en") -> Due | None:
    """The first deadline expression in ``text`` (None when there is none).

    English dues are returned without their preposition ("Friday", "next Tuesday afternoon", "end of
    the month"); Chinese ones keep 之前/以前 as spoken ("下周二之前"), where it is what marks a deadline.
    """
    found: list[Due] = []
    patterns = _ZH_PATTERNS + _EN_PATTERNS if re.search(r"[\u4e00-\u9fff]", text) else _EN_PATTERNS
    for kind, pattern in patterns:
        for match in pattern.finditer(text):
            if kind == "month_day" and match.group(1).lower() == "may" and not text[match.start()].isupper():
                continue  # "may 5" is a verb more often than a month in lower case
            found.append(Due(match.group(0).strip(), match.start(), match.end(), kind, match.groups()))
    if not found:
        return None
    # Earliest wins; at the same place the longest (most specific) expression.
    return min(found, key=lambda d: (d.start, -(d.end - d.start)))


def _month_number(name: str) -> int:
    name = name.lower().rstrip(".")
    if name in MONTHS_EN:
        return MONTHS_EN.index(name) + 1
    return _MONTH_ABBR.get(name[:4] if name.startswith("sept") else name[:3], 0)


def _day_number(token: str) -> int:
    token = token.lower().strip()
    digits = re.match(r"\d+", token)
    if digits:
        return int(digits.group(0))
    return _ORDINAL_WORDS.get(token, 0)


def _safe_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _month_day(month: int, day: int, year: str | None, ref: dt.date | None) -> dt.date | None:
    if year:
        return _safe_date(int(year), month, day)
    if ref is None:
        return None
    date = _safe_date(ref.year, month, day)
    if date is not None and (ref - date).days > 183:  # "January 10th" said in December means next year
        date = _safe_date(ref.year + 1, month, day)
    return date


def _weekday(target: int, modifier: str, ref: dt.date) -> dt.date:
    if modifier in ("next", "下", "下个"):
        monday_next = ref + dt.timedelta(days=7 - ref.weekday())
        return monday_next + dt.timedelta(days=target)
    if modifier in ("this", "这", "本"):
        return ref + dt.timedelta(days=target - ref.weekday())
    ahead = (target - ref.weekday()) % 7
    return ref + dt.timedelta(days=ahead or 7)


def _end_of(unit: str, next_: bool, ref: dt.date) -> dt.date | None:
    unit = unit.lower()
    if unit in ("day",):
        return ref + dt.timedelta(days=1 if next_ else 0)
    if unit in ("week", "sprint"):
        friday = ref + dt.timedelta(days=4 - ref.weekday())
        return friday + dt.timedelta(days=7 if next_ else 0)
    if unit == "month":
        year, month = (ref.year + (ref.month // 12), ref.month % 12 + 1) if next_ else (ref.year, ref.month)
        return dt.date(year, month, calendar.monthrange(year, month)[1])
    if unit == "quarter" or re.fullmatch(r"q[1-4]", unit):
        quarter = int(unit[1]) if unit.startswith("q") else (ref.month - 1) // 3 + 1 + (1 if next_ else 0)
        year = ref.year + (quarter - 1) // 4
        quarter = (quarter - 1) % 4 + 1
        month = quarter * 3
        return dt.date(year, month, calendar.monthrange(year, month)[1])
    if unit == "year":
        return dt.date(ref.year + (1 if next_ else 0), 12, 31)
    month = _month_number(unit)
    if month:
        year = ref.year + (1 if month < ref.month else 0)
        return dt.date(year, month, calendar.monthrange(year, month)[1])
    return None


def resolve_due(due: Due, reference: dt.date | None) -> str:
    """ISO date of ``due`` ("" when it cannot be resolved: vague, or relative without a reference date)."""
    g = due.groups
    date: dt.date | None = None
    if due.kind == "iso":
        date = _safe_date(int(g[0] or 0), int(g[1] or 0), int(g[2] or 0))
    elif due.kind == "month_day":
        date = _month_day(_month_number(g[0] or ""), _day_number(g[1] or ""), g[2], reference)
    elif due.kind == "day_month":
        date = _month_day(_month_number(g[1] or ""), _day_number(g[0] or ""), g[2], reference)
    elif due.kind == "zh_month_day":
        date = _month_day(_zh_number(g[1] or ""), _zh_number(g[2] or ""), g[0], reference)
    elif reference is None:
        return ""
    elif due.kind == "end_of":
        date = _end_of(g[1] or "", bool(g[0]), reference)
    elif due.kind == "eod":
        date = reference if (g[0] or "").lower() != "eow" else _end_of("week", False, reference)
    elif due.kind == "weekday":
        date = _weekday(WEEKDAYS_EN.index((g[1] or "").lower()), (g[0] or "").lower().replace("the ", ""), reference)
    elif due.kind == "relative":
        word = (g[0] or "").lower()
        offsets = {"today": 0, "tonight": 0, "tomorrow": 1}
        if word in offsets:
            date = reference + dt.timedelta(days=offsets[word])
        elif word == "this week":
            date = _end_of("week", False, reference)
        elif word == "this month":
            date = _end_of("month", False, reference)
    elif due.kind == "in_n":
        count = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4}.get((g[0] or "").lower())
        n = count if count is not None else int(g[0] or 0)
        date = reference + dt.timedelta(days=n * (7 if (g[1] or "").startswith("week") else 1))
    elif due.kind == "zh_weekday":
        date = _weekday(_ZH_WEEKDAY[g[1] or "一"], g[0] or "", reference)
    elif due.kind == "zh_end":
        unit = {"月底": "month", "月末": "month", "年底": "year", "年末": "year", "周末": "week", "季度末": "quarter"}
        kind = unit.get(g[1] or "", "")
        date = _end_of(kind, (g[0] or "").startswith("下"), reference)
        if date is not None and kind == "week":
            date += dt.timedelta(days=2)  # 周末 is the weekend: Sunday
    elif due.kind == "zh_relative":
        offsets_zh = {"今天": 0, "今晚": 0, "明天": 1, "后天": 2}
        if (g[0] or "") in offsets_zh:
            date = reference + dt.timedelta(days=offsets_zh[g[0] or ""])
    return date.isoformat() if date is not None else ""


def parse_reference_date(value: str) -> dt.date | None:
    """``YYYY-MM-DD`` (a longer ISO timestamp is cut to its date) → date; "" → None; ValueError otherwise."""
    value = value.strip()
    if not value:
        return None
    return dt.date.fromisoformat(value[:10])
