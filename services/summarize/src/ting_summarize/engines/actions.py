"""Action items from commitment, request and deadline patterns (English and Chinese).

Recognized, per clause:

* first-person commitments — "I will / I'll / I'm going to / I can take ...", 我会/我来/我负责/我 + deadline;
  the owner is the speaker (its name from ``speaker_names``, else its label);
* third-person commitments — "Maria will ...", "Tom sends ... by Thursday", 李明下周二之前确认...;
* requests with a deadline — "Tom, can you ... by Thursday?", "please ... by Friday", 张伟，你能在月底之前...吗;
  the owner is the person addressed (by name, else the previous speaker). A request without a deadline is
  left to the answer ("Sure, I will ... by Wednesday"), which is a commitment of its own;
* team commitments with a deadline — "we will / let's / we need to ... by ..." (no owner).

Conditional clauses ("if the fix is merged by Friday, we can ...", 如果/等…以后) are skipped. Items that
repeat an earlier one (a request and its acceptance, the closing recap) are merged: same owner and
either the same deadline or close in time, sharing content words.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from ting_summarize.engines import ActionItem
from ting_summarize.engines.dates import DEADLINE_PREPOSITIONS_EN, Due, find_due, resolve_due
from ting_summarize.engines.text import Sentence, content_terms, is_cjk, word_list

# Seconds within which an item without a deadline is taken to refine a neighbouring one of the same owner.
MERGE_WINDOW_S = 90.0

_NOT_NAMES = frozenset(
    word_list(
        "I I'm I'll I've I'd A An The This That These Those There Then It It's Its We We'll We're Our You "
        "Your He She They What When Where Which Who Why How If So And But Or Okay OK Ok Yes No Sure Thanks "
        "Thank Good Great Perfect Right Well Also Just Let Let's Please Can Could Would Will Should First "
        "Second Third Next Last Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February "
        "March April May June July August September October November December Agreed Fine Maybe Now Alright "
        "Hi Hello Everyone Anything Nothing Nobody Somebody Someone "
    )
)
_ZH_SURNAMES = frozenset(
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟"
    "汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
)

_FIRST_MODALS = (
    r"(?:will|'ll|shall|am going to|'m going to|are going to|'re going to|am gonna|'m gonna|"
    r"can(?=\s+(?:take|handle|own|cover|do|look into|pick up)\b)|am responsible for|'m responsible for|"
    r"promise to|commit to|volunteer to)"
)
_THIRD_MODALS = (
    r"(?:will|'ll|is going to|'s going to|is gonna|shall|is responsible for|is taking care of|has agreed to|"
    r"agreed to|volunteered to|promised to|needs to|has to)"
)
_TEAM_MODALS = r"(?:we will|we'll|we shall|we are going to|we're going to|we need to|we have to|we must|let's|let us)"
_FLOW_VERBS = frozenset(
    word_list("move start begin get go continue talk keep wrap see discuss look summarize recap stop break meet take ")
)
_WEAK_VERBS = frozenset(
    word_list("be have think say guess bet admit assume hope see try let need want like love know ")
)
_CONDITIONAL_EN = re.compile(r"\b(?:if|unless|whether|in case|otherwise)\b", re.I)
_CONDITIONAL_ZH = re.compile(r"如果|要是|假如|万一|的话|等.{0,12}(?:以后|之后)")
_CUT_EN = re.compile(r",?\s+(?:so that|so|because|since|which|as long as|otherwise|then we|and then we)\b.*$", re.I)
_LEAD_EN = re.compile(
    r"^(?:(?:yes|yeah|sure|okay|ok|alright|right|good|great|fine|then|and|so|also|no problem),?\s+)+", re.I
)
_ZH_LEAD = re.compile(r"^(?:那么?|好的?|嗯|对|行|没问题|可以|然后|另外|还有|并且|而且|就)+")
_ZH_ADVERBS = r"(?:也|就|再|马上|一定|先|会|将|来|负责|去|要|能|可以|尽快|争取)*"


@dataclass
class _Candidate:
    item: ActionItem
    sentence_index: int
    has_due: bool
    request: bool
    terms: set[str] = field(default_factory=set)


def _name_for(label: str, speaker_names: dict[str, str]) -> str:
    return speaker_names.get(label, label) if label else ""


def _full_name(spoken: str, speaker_names: dict[str, str]) -> str:
    """A spoken first name → the speaker's full name when exactly one speaker name starts with it."""
    matches = {n for n in speaker_names.values() if n == spoken or n.split()[0] == spoken}
    return next(iter(matches)) if len(matches) == 1 else spoken


def proper_names(sentences: Sequence[Sentence], speaker_names: dict[str, str]) -> set[str]:
    """Person-like names: speaker names (and their first names), capitalized words seen mid-sentence, and
    Chinese vocatives (a clause that is just a surname + one or two characters: "张伟，...")."""
    names: set[str] = set()
    for name in speaker_names.values():
        if name:
            names.add(name)
            names.add(name.split()[0])
    for sentence in sentences:
        tokens = re.findall(r"[A-Za-z][A-Za-z'\-]*", sentence.text)
        for prev, token in itertools.pairwise(tokens):
            if token[0].isupper() and not token.isupper() and token not in _NOT_NAMES and prev not in (".",):
                names.add(token)
        for clause in re.split(r"[，,。！？!?；;：:]", sentence.text):
            clause = clause.strip()
            if 2 <= len(clause) <= 3 and clause[0] in _ZH_SURNAMES and re.fullmatch(r"[\u4e00-\u9fff]+", clause):
                names.add(clause)
    return names


def _strip_due_en(text: str, due: Due | None) -> str:
    if due is None or due.text not in text:
        return text
    pattern = r"\s*(?:\b" + DEADLINE_PREPOSITIONS_EN + r"\s+)?(?:the\s+)?" + re.escape(due.text)
    return re.sub(pattern, "", text, count=1, flags=re.I)


def _tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip(" ,;:-—。，；：?？!！.")
    text = re.sub(r"[吗呢吧]$", "", text)
    return text[:1].upper() + text[1:] if text else text


def _task_en(rest: str, due: Due | None) -> str:
    rest = _CUT_EN.sub("", rest)
    return _tidy(_strip_due_en(rest, due))


def _split_clauses_en(sentence: str) -> list[str]:
    """Split at ", and <subject>" / "; " so "I send X by Friday, and Daniel posts Y by Wednesday" gives two."""
    parts = re.split(r";\s+|,?\s+(?:and|but|while)\s+(?=(?:I|we|[A-Z][a-z]+)\s+[a-z'])", sentence)
    return [p.strip() for p in parts if p and p.strip()]


def _en_candidates(
    sentence: Sentence, names: set[str], speaker_names: dict[str, str], previous_speaker: str
) -> list[tuple[str, str, str, bool]]:
    """(owner, task text, clause, is_request) for each English action clause of ``sentence``."""
    found: list[tuple[str, str, str, bool]] = []
    name_re = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) or r"(?!x)x"
    speaker = _name_for(sentence.speaker, speaker_names)
    for clause in _split_clauses_en(sentence.text):
        clause = _LEAD_EN.sub("", clause)
        due = find_due(clause, "en")
        question = clause.rstrip().endswith("?")
        # Requests: "Tom, can you ...?", "could you ...", "please ...".
        request = re.match(
            r"^(?:("
            + name_re
            + r")\s*,\s*)?(?:(?:can|could|would|will)\s+you\s+(?:also\s+|please\s+)?|please\s+)(.+)$",
            clause,
            re.I,
        )
        if request:
            addressee = request.group(1) or ""
            owner = _full_name(addressee, speaker_names) if addressee else _name_for(previous_speaker, speaker_names)
            found.append((owner, _task_en(request.group(2), due), clause, True))
            continue
        if question:
            continue
        first = re.search(r"\b(I)\s*" + _FIRST_MODALS + r"\s+(?:also\s+|then\s+|just\s+|definitely\s+)?(.+)$", clause)
        third = re.search(
            r"\b(" + name_re + r")(?:\s+and\s+(" + name_re + r"))?\s+" + _THIRD_MODALS + r"\s+(.+)$", clause
        )
        team = re.search(r"\b" + _TEAM_MODALS + r"\s+(.+)$", clause, re.I)
        recap = re.match(
            r"^(I|" + name_re + r")\s+(?:also\s+)?([a-z]+)\b(.*\b(?:by|before|until|no later than)\s+.+)$", clause
        )
        owner, rest = "", ""
        if first and not _CONDITIONAL_EN.search(clause[: first.start()]):
            verb = first.group(2).split()[0].lower()
            if verb in _WEAK_VERBS and due is None:
                continue
            owner, rest = speaker, first.group(2)
        elif third and not _CONDITIONAL_EN.search(clause[: third.start()]):
            owners = [_full_name(n, speaker_names) for n in (third.group(1), third.group(2)) if n]
            owner, rest = ", ".join(owners), third.group(3)
        elif recap and due is not None and recap.group(2) not in _AUXILIARIES:
            who = recap.group(1)
            owner = speaker if who == "I" else _full_name(who, speaker_names)
            rest = recap.group(2) + recap.group(3)
        elif team and due is not None and not _CONDITIONAL_EN.search(clause[: team.start()]):
            verb = team.group(1).split()[0].lower()
            if verb in _FLOW_VERBS:
                continue
            owner, rest = "", team.group(1)
        else:
            continue
        found.append((owner, _task_en(rest, due), clause, False))
    return found


_AUXILIARIES = frozenset(
    word_list("is was were are am be been has have had do does did would could should can might must may will shall ")
)


def _zh_candidates(
    sentence: Sentence, names: set[str], speaker_names: dict[str, str], previous_speaker: str
) -> list[tuple[str, str, str, bool]]:
    """(owner, task text, clause, is_request) for each Chinese action clause of ``sentence``."""
    if _CONDITIONAL_ZH.search(sentence.text):
        return []
    speaker = _name_for(sentence.speaker, speaker_names)
    name_re = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) or r"(?!x)x"
    clauses = [c.strip() for c in re.split(r"[，,；;：:]", sentence.text) if c.strip()]
    found: list[tuple[str, str, bool, list[str]]] = []
    addressee = ""
    current: list[str] | None = None
    for raw in clauses:
        clause = _ZH_LEAD.sub("", raw)
        if re.fullmatch(name_re, clause.rstrip("。！？!?")):
            addressee = clause.rstrip("。！？!?")
            current = None
            continue
        due = find_due(clause, "zh")
        question = bool(re.search(r"[吗？?]$", clause.rstrip("。")))
        request = re.match(
            r"^(?:请(?:你|" + name_re + r")?|麻烦你|你(?:能不能|能否|可以|能|要|得|来|负责))(.+)$", clause
        )
        first = re.match(r"^(我们?)(" + _ZH_ADVERBS + r")(在)?(.+)$", clause)
        third = re.match(r"^(" + name_re + r")(" + _ZH_ADVERBS + r")(在)?(.+)$", clause)
        owner, rest, is_request = "", "", False
        if request:
            who = addressee or _name_for(previous_speaker, speaker_names)
            owner, rest, is_request = _full_name(who, speaker_names), request.group(1), True
        elif first and not question:
            modal = first.group(2)
            strong = any(m in modal for m in ("会", "来", "负责", "将"))
            if not (strong or (due is not None and clause.find(due.text) <= len(first.group(1)) + len(modal) + 1)):
                current = None
                continue
            owner = speaker if first.group(1) == "我" else ""
            rest = first.group(4)
        elif third and not question:
            modal = third.group(2)
            if not (any(m in modal for m in ("会", "来", "负责", "将")) or due is not None):
                current = None
                continue
            owner, rest = _full_name(third.group(1), speaker_names), third.group(4)
        elif current is not None and not re.match(r"^(?:我|你|他|她|" + name_re + ")", clause):
            current.append(clause)  # "..., 确认最终报价和合同细节" continues the task
            continue
        else:
            current = None
            continue
        if due is not None:
            rest = rest.replace(due.text, "", 1)
        current = [re.sub(r"^在", "", rest).strip()]
        found.append((owner, clause, is_request, current))
    return [(owner, _tidy("，".join(p for p in parts if p)), clause, req) for owner, clause, req, parts in found]


def _same_owner(a: ActionItem, b: ActionItem) -> bool:
    return a.owner.lower() == b.owner.lower()


def _normalize_due(due: str) -> str:
    due = due.lower()
    due = re.sub(r"\b(?:by|before|until|the|on|morning|afternoon|evening|night|noon)\b|之前|以前|为止|前$", "", due)
    return re.sub(r"\s+", " ", due).strip()


def _merge(candidates: list[_Candidate]) -> list[ActionItem]:
    kept: list[_Candidate] = []
    for cand in candidates:
        target: _Candidate | None = None
        for prev in kept:
            if not _same_owner(prev.item, cand.item):
                continue
            shared = prev.terms & cand.terms
            smaller = max(1, min(len(prev.terms), len(cand.terms)))
            same_due = bool(prev.item.due) and (
                _normalize_due(prev.item.due) == _normalize_due(cand.item.due)
                or (bool(prev.item.due_date) and prev.item.due_date == cand.item.due_date)
            )
            near = abs(cand.item.start - prev.item.start) <= MERGE_WINDOW_S
            one_open = not prev.has_due or not cand.has_due
            adjacent = 0 <= cand.sentence_index - prev.sentence_index <= 1
            if (
                (same_due and shared)
                or (one_open and near and (shared or adjacent))
                or (len(shared) >= 2 and len(shared) / smaller >= 0.5 and (not prev.has_due or not cand.has_due))
            ):
                target = prev
        if target is None:
            kept.append(cand)
            continue
        a, b = target.item, cand.item
        adjacent = 0 <= cand.sentence_index - target.sentence_index <= 1 and a.speaker == b.speaker
        text = a.text
        if adjacent and b.text and b.text not in a.text:
            text = (
                f"{a.text}; {b.text[:1].lower()}{b.text[1:]}"
                if not re.search(r"[\u4e00-\u9fff]", a.text)
                else a.text + "，" + b.text
            )
        elif not target.has_due and cand.has_due:
            text = b.text
        target.item = replace(
            a,
            text=text,
            due=a.due or b.due,
            due_date=a.due_date or b.due_date,
            segment_ids=tuple(sorted(set(a.segment_ids) | set(b.segment_ids))),
        )
        target.has_due = target.has_due or cand.has_due
        target.terms |= cand.terms
        target.sentence_index = max(target.sentence_index, cand.sentence_index)
    return [c.item for c in kept]


def extract_action_items(
    sentences: Sequence[Sentence],
    language: str,
    speaker_names: dict[str, str],
    reference_date: dt.date | None,
) -> list[ActionItem]:
    """Action items in order of first mention, deduplicated."""
    names = proper_names(sentences, speaker_names)
    cjk = is_cjk(language)
    candidates: list[_Candidate] = []
    previous_speaker = ""
    last_speaker = ""
    for sentence in sentences:
        if sentence.speaker != last_speaker:
            previous_speaker, last_speaker = last_speaker, sentence.speaker
        finder = _zh_candidates if cjk or re.search(r"[\u4e00-\u9fff]", sentence.text) else _en_candidates
        for owner, task, clause, is_request in finder(sentence, names, speaker_names, previous_speaker):
            due = find_due(clause, language)
            if is_request and due is None:
                continue  # the answer to a request carries the commitment
            if not task:
                continue
            item = ActionItem(
                text=task,
                owner=owner,
                due=re.sub(r"^the\s+", "", due.text, flags=re.I) if due else "",
                due_date=resolve_due(due, reference_date) if due else "",
                start=sentence.start,
                speaker=sentence.speaker,
                segment_ids=sentence.segment_ids,
            )
            candidates.append(
                _Candidate(item, sentence.index, due is not None, is_request, content_terms(task, language))
            )
    return _merge(candidates)
