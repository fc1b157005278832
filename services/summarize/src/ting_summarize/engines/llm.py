"""The ``llm`` engine: summaries written by any OpenAI-compatible chat model, through :mod:`ting_common.llm`.

Transcript lines are sent as ``[12 @ 03:25] Maria (S1): text`` (segment id, start time, speaker), so the model
can point at segments; every time in the result is mapped back from those ids, never taken from the model.

* **Structured output** — the answer is one JSON object whose JSON schema (generated from the pydantic models
  below, restricted to the requested parts) is part of the system prompt and, in JSON mode, is sent as
  ``response_format={"type": "json_schema", ...}`` (strict), so endpoints that constrain decoding (OpenAI,
  llama.cpp) can only write that schema; an endpoint that answers 400 to it is asked with ``json_object``
  instead, from then on (:mod:`.structured`). The answer is validated with pydantic and every requested part
  must be present; a malformed or schema-violating answer is asked again (``answer_attempts`` requests in all,
  each retry told what was wrong), then the call is UNAVAILABLE with the reason. Transport retries (429/5xx/timeouts,
  ``Retry-After``) and the mapping of HTTP errors are :class:`ting_common.llm.LLMClient`'s.
* **Map-reduce** — when the transcript does not fit the context (``context_tokens`` minus the answer's
  ``max_output_tokens`` minus the prompt, counted with the conservative estimate), it is cut into chunks of
  whole segments of about equal size; each chunk is summarized on its own (the *map*, ``max_concurrency``
  requests in flight), then the partial summaries are merged in time order (the *reduce*). Partials that do
  not fit one merge are merged in groups first, level by level.
* **Per request** — parts, length, output language (the model writes any language it knows), title, context,
  instructions, speaker names, reference date (for due dates) and the chapter limit.

The :class:`~ting_summarize.engines.SummaryEngine` protocol is blocking: :meth:`LLMEngine.summarize` runs its
coroutine on a private event loop in the servicer's worker thread (one HTTP client per call) and cancels it
when the caller's stop flag is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ting_common.errors import FailedPreconditionError, InvalidArgumentError
from ting_common.llm import JSONCompletion, LLMClient, LLMSettings, RetryPolicy, estimate_tokens
from ting_common.transcript import Segment
from ting_summarize.engines import (
    ALL_PARTS,
    ActionItem,
    CallControl,
    Chapter,
    EngineDescription,
    KeyPoint,
    Keyword,
    Length,
    Part,
    QuestionAnswer,
    SpeakerSummary,
    StopRequested,
    Summary,
    SummaryOptions,
    speaker_stats,
)
from ting_summarize.engines.dates import find_due, parse_reference_date, resolve_due
from ting_summarize.engines.structured import SchemaLLMClient, SchemaSupport, json_schema_format

__all__ = [
    "ENGINE_NAME",
    "LLMEngine",
    "SummaryAnswer",
    "answer_schema",
    "pack_chunks",
    "to_summary",
    "transcript_line",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

ENGINE_NAME: Final = "llm"
# Tokens kept free beyond the estimated prompt (role markers, chat template).
PROMPT_MARGIN_TOKENS: Final = 64
# Smallest transcript share of a request that is worth sending.
MIN_CHUNK_TOKENS: Final = 128
STOP_POLL_S: Final = 0.05
OVERVIEW_SENTENCES: Final = {Length.SHORT: "2 to 3", Length.MEDIUM: "4 to 6", Length.LONG: "8 to 12"}
KEY_POINT_LIMIT: Final = {Length.SHORT: 5, Length.MEDIUM: 8, Length.LONG: 15}
LANGUAGE_NAMES: Final = {
    "ar": "Arabic",
    "de": "German",
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "hi": "Hindi",
    "it": "Italian",
    "ja": "Japanese",
    "ko": "Korean",
    "nl": "Dutch",
    "pl": "Polish",
    "pt": "Portuguese",
    "ru": "Russian",
    "tr": "Turkish",
    "uk": "Ukrainian",
    "zh": "Chinese",
}
_LANGUAGE_CODE: Final = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
_LABEL_IN_PARENS: Final = re.compile(r"\(([^()]+)\)\s*$")


# -- the answer schema ------------------------------------------------------------------------------------------
class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")


class PointAnswer(_Answer):
    """A key point and the ids of the lines that support it."""

    text: str = Field(description="one or two sentences")
    segment_ids: list[int] = Field(default_factory=list, description="ids of the supporting lines")


class ChapterAnswer(_Answer):
    """A chapter, located by the id of its first line."""

    title: str = Field(description="a few words")
    start_segment_id: int = Field(description="id of the chapter's first line")
    summary: str = Field("", description="one sentence")


class ActionAnswer(_Answer):
    """A task someone agreed or was asked to do."""

    text: str = Field(description="the task")
    owner: str = Field("", description="who does it; empty when nobody was named")
    due: str = Field("", description="the deadline as said, e.g. 'Friday'; empty when none")
    segment_ids: list[int] = Field(default_factory=list, description="ids of the lines where it was said")


class QAAnswer(_Answer):
    """A question asked in the recording and the answer given there."""

    question: str
    answer: str = Field("", description="empty when it was not answered")
    segment_ids: list[int] = Field(default_factory=list, description="ids of the question's and answer's lines")


class SpeakerAnswer(_Answer):
    """What one speaker said and took on."""

    speaker: str = Field(description="the speaker label, e.g. S1")
    summary: str


class SummaryAnswer(_Answer):
    """The model's answer: every requested part (and, for a partial summary, the overview)."""

    overview: str = Field("", description="a paragraph")
    key_points: list[PointAnswer] = Field(default_factory=list)
    chapters: list[ChapterAnswer] = Field(default_factory=list, description="in time order")
    action_items: list[ActionAnswer] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list, description="most important first")
    questions_answers: list[QAAnswer] = Field(default_factory=list)
    speaker_summaries: list[SpeakerAnswer] = Field(default_factory=list)


FIELD_OF_PART: Final = {
    Part.OVERVIEW: "overview",
    Part.KEY_POINTS: "key_points",
    Part.CHAPTERS: "chapters",
    Part.ACTION_ITEMS: "action_items",
    Part.KEYWORDS: "keywords",
    Part.QUESTIONS_ANSWERS: "questions_answers",
    Part.SPEAKER_SUMMARIES: "speaker_summaries",
}


# Schema keys left out of the prompt: the rules say the same in fewer tokens.
_SCHEMA_NOISE: Final = frozenset({"title", "default", "description", "$defs"})


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """The schema with ``$ref`` s replaced by their definitions and titles, defaults and descriptions dropped."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            return _inline(defs[ref.rsplit("/", 1)[-1]], defs)
        out = {k: _inline(v, defs) for k, v in node.items() if k not in _SCHEMA_NOISE and k != "properties"}
        if isinstance(node.get("properties"), dict):  # property names are data, never noise ("title")
            out["properties"] = {name: _inline(v, defs) for name, v in node["properties"].items()}
        return out
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def answer_schema(fields: Sequence[str], max_items: Mapping[str, int] | None = None) -> dict[str, Any]:
    """JSON schema of an answer with exactly ``fields`` (all required), generated from :class:`SummaryAnswer`;
    ``max_items`` bounds list fields (``maxItems``)."""
    full = SummaryAnswer.model_json_schema()
    inlined = _inline(full, full.get("$defs", {}))
    properties = {f: dict(inlined["properties"][f]) for f in fields}
    for name, limit in (max_items or {}).items():
        if name in properties and properties[name].get("type") == "array" and limit > 0:
            properties[name]["maxItems"] = limit
    return {"type": "object", "properties": properties, "required": list(fields)}


# -- transcript and chunks --------------------------------------------------------------------------------------
def clock(seconds: float) -> str:
    """``mm:ss``, or ``h:mm:ss`` from an hour on."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def transcript_line(segment: Segment, speaker_names: dict[str, str]) -> str:
    """One prompt line: ``[id @ mm:ss] Name (label): text``."""
    who = ""
    if segment.speaker:
        name = speaker_names.get(segment.speaker, "")
        who = f"{name} ({segment.speaker}): " if name else f"{segment.speaker}: "
    text = " ".join(segment.text.split())
    return f"[{segment.id} @ {clock(segment.start)}] {who}{text}"


def pack_chunks(costs: Sequence[int], budget: int) -> list[range]:
    """Consecutive index ranges, each within ``budget`` where possible, as few as the budget allows and with the
    largest chunk as small as that count allows (so the chunks come out about equal).

    Items are never split: one that alone exceeds ``budget`` gets a chunk of its own.
    """

    def greedy(limit: int) -> list[range]:
        chunks: list[range] = []
        start, total = 0, 0
        for i, cost in enumerate(costs):
            if i > start and total + cost > limit:
                chunks.append(range(start, i))
                start, total = i, 0
            total += cost
        if start < len(costs):
            chunks.append(range(start, len(costs)))
        return chunks

    best = greedy(budget)
    if len(best) <= 1:
        return best
    # Smallest limit that still needs no more chunks than the budget does (greedy count is monotone in it).
    low, high = max(1, min(budget, max(costs))), budget
    while low < high:
        middle = (low + high) // 2
        if len(greedy(middle)) <= len(best):
            high = middle
        else:
            low = middle + 1
    return greedy(low)


@dataclass
class _Tally:
    """Requests and tokens of one summary."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, completion: JSONCompletion[Any]) -> None:
        self.requests += completion.requests
        self.prompt_tokens += completion.prompt_tokens
        self.completion_tokens += completion.completion_tokens


async def _all(steps: Iterable[Awaitable[T]]) -> list[T]:
    """Run ``steps`` concurrently; when one fails, cancel the others and raise its error (not a group)."""
    tasks = [asyncio.ensure_future(step) for step in steps]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def language_label(code: str) -> str:
    """How the prompt names a language: ``French (fr)`` for common codes, else by its code."""
    name = LANGUAGE_NAMES.get(code.split("-")[0].lower())
    return f"{name} ({code})" if name else f"the language with code {code!r}"


# -- the engine -------------------------------------------------------------------------------------------------
class LLMEngine:
    """:class:`~ting_summarize.engines.SummaryEngine` over an OpenAI-compatible ``/chat/completions``."""

    def __init__(
        self,
        llm: LLMSettings,
        *,
        retry: RetryPolicy | None = None,
        context_tokens: int = 8192,
        max_output_tokens: int = 2048,
        answer_attempts: int = 2,
        max_concurrency: int = 4,
        name: str = ENGINE_NAME,
    ) -> None:
        if not llm.base_url or not llm.model:
            raise FailedPreconditionError(f"the llm engine needs {llm.setting('BASE_URL')} and {llm.setting('MODEL')}")
        if context_tokens - max_output_tokens < 4 * MIN_CHUNK_TOKENS:
            raise FailedPreconditionError(
                f"{llm.setting('CONTEXT_TOKENS')} ({context_tokens}) leaves no room for a prompt next to "
                f"{llm.setting('MAX_OUTPUT_TOKENS')} ({max_output_tokens}); raise the first or lower the second"
            )
        self.name = name
        self.llm = llm
        self.retry = retry or RetryPolicy()
        self.context_tokens = context_tokens
        self.max_output_tokens = max_output_tokens
        self.answer_attempts = answer_attempts
        self.max_concurrency = max_concurrency
        # Whether the endpoint takes response_format json_schema, learnt on the first request and kept.
        self.schema_support = SchemaSupport()

    def describe(self) -> EngineDescription:
        """The engine as ``ListEngines`` shows it (``loaded`` is filled in from :meth:`ready`)."""
        return EngineDescription(
            name=self.name,
            description=(
                f"OpenAI-compatible chat LLM at {self.llm.base_url}: abstractive summaries in any language the "
                "model knows, JSON-schema answers, map-reduce over long transcripts"
            ),
            model=self.llm.model,
            loaded=True,
            device="remote",
            supported_parts=ALL_PARTS,
            language_codes=(),
            max_input_tokens=self.context_tokens,
        )

    def validate(self, options: SummaryOptions) -> None:
        """Any part and language; the output language must look like a BCP-47 code."""
        if options.output_language and not _LANGUAGE_CODE.match(options.output_language):
            raise InvalidArgumentError(
                f"output_language_code must be a language code like 'en' or 'pt-BR', got {options.output_language!r}"
            )

    async def ready(self) -> bool:
        """True when the endpoint answers ``GET /models`` within 2 s."""
        client = LLMClient(self.llm, self.retry)
        try:
            return await client.ready(2.0)
        finally:
            await client.close()

    def close(self) -> None:
        """Nothing to free: every call opens and closes its own HTTP client."""

    # -- blocking entry point -------------------------------------------------------------------------------
    def summarize(self, segments: tuple[Segment, ...], options: SummaryOptions, control: CallControl) -> Summary:
        """Summarize ``segments`` (blocking: runs the requests on a private event loop in this thread)."""
        control.check()
        return asyncio.run(self._watched(self._summarize(segments, options, control), control))

    @staticmethod
    async def _watched(work: Awaitable[T], control: CallControl) -> T:
        """Await ``work``, cancelling it as soon as the caller's stop flag is set."""
        task = asyncio.ensure_future(work)
        while True:
            done, _ = await asyncio.wait({task}, timeout=STOP_POLL_S)
            if done:
                return task.result()
            if control.stop.is_set():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                raise StopRequested

    async def _summarize(self, segments: tuple[Segment, ...], options: SummaryOptions, control: CallControl) -> Summary:
        requested = [FIELD_OF_PART[p] for p in sorted(options.parts)]
        partial_fields = list(dict.fromkeys(["overview", *requested]))
        lines = [transcript_line(s, options.speaker_names) for s in segments]
        budget = self._budget(self._system_prompt("direct", requested, options))
        chunks = pack_chunks([estimate_tokens(line) + 1 for line in lines], budget)
        tally = _Tally()
        client = SchemaLLMClient(self.llm, self.retry, self.schema_support)
        gate = asyncio.Semaphore(self.max_concurrency)
        try:
            if len(chunks) == 1:
                messages = self._messages("direct", requested, options, "Transcript:\n" + "\n".join(lines))
                answer = await self._ask(client, gate, messages, requested, tally, "summary", options)
            else:
                logger.info("map-reduce summary", extra={"chunks": len(chunks), "segments": len(segments)})
                map_budget = self._budget(self._system_prompt("map", partial_fields, options))
                if map_budget < budget:  # the map prompt is a little longer: re-pack if it matters
                    chunks = pack_chunks([estimate_tokens(line) + 1 for line in lines], map_budget)
                partials = await _all(
                    (
                        self._ask(
                            client,
                            gate,
                            self._messages(
                                "map",
                                partial_fields,
                                options,
                                f"Transcript part {k} of {len(chunks)}:\n" + "\n".join(lines[i] for i in chunk),
                                part=(k, len(chunks)),
                            ),
                            partial_fields,
                            tally,
                            f"summary of transcript part {k}",
                            options,
                        )
                        for k, chunk in enumerate(chunks, start=1)
                    )
                )
                control.check()
                spans = [(segments[c[0]], segments[c[-1]]) for c in chunks]
                answer = await self._reduce(
                    client, gate, list(partials), spans, requested, partial_fields, options, tally
                )
        finally:
            await client.close()
        logger.info(
            "llm summary done",
            extra={"chunks": len(chunks), "requests": tally.requests, "prompt_tokens": tally.prompt_tokens},
        )
        return to_summary(
            answer,
            segments,
            options,
            model=self.llm.model,
            chunk_count=len(chunks),
            input_tokens=tally.prompt_tokens,
            output_tokens=tally.completion_tokens,
        )

    async def _reduce(
        self,
        client: SchemaLLMClient,
        gate: asyncio.Semaphore,
        partials: list[SummaryAnswer],
        spans: list[tuple[Segment, Segment]],
        requested: list[str],
        partial_fields: list[str],
        options: SummaryOptions,
        tally: _Tally,
    ) -> SummaryAnswer:
        """Merge partial summaries (time order) into the final one, in groups first when they do not fit."""
        budget = self._budget(self._system_prompt("reduce", requested, options))
        while True:
            texts = [
                f"Part {k} (segments {first.id} to {last.id}, {clock(first.start)} to {clock(last.end)}): "
                + partial.model_dump_json(include=set(partial_fields))
                for k, (partial, (first, last)) in enumerate(zip(partials, spans, strict=True), start=1)
            ]
            groups = pack_chunks([estimate_tokens(t) + 1 for t in texts], budget)
            if len(groups) == 1:
                body = "Partial summaries in time order:\n" + "\n".join(texts)
                return await self._ask(
                    client,
                    gate,
                    self._messages("reduce", requested, options, body),
                    requested,
                    tally,
                    "merged summary",
                    options,
                )
            if len(groups) == len(partials):  # every partial alone fills a request: merge neighbours pairwise
                groups = [range(i, min(i + 2, len(partials))) for i in range(0, len(partials), 2)]
            logger.info("merging partial summaries in groups", extra={"partials": len(partials), "groups": len(groups)})
            merged = await _all(
                self._ask(
                    client,
                    gate,
                    self._messages(
                        "combine",
                        partial_fields,
                        options,
                        "Partial summaries in time order:\n" + "\n".join(texts[i] for i in group),
                    ),
                    partial_fields,
                    tally,
                    "merged partial summary",
                    options,
                )
                for group in groups
            )
            partials = list(merged)
            spans = [(spans[g[0]][0], spans[g[-1]][1]) for g in groups]

    def _budget(self, system_prompt: str) -> int:
        """Tokens of transcript (or partial summaries) one request may carry next to ``system_prompt``."""
        budget = self.context_tokens - self.max_output_tokens - estimate_tokens(system_prompt) - PROMPT_MARGIN_TOKENS
        if budget < MIN_CHUNK_TOKENS:
            raise FailedPreconditionError(
                f"the prompt leaves only {budget} tokens of the model's {self.context_tokens}-token context for the "
                f"transcript; raise {self.llm.setting('CONTEXT_TOKENS')} or lower "
                f"{self.llm.setting('MAX_OUTPUT_TOKENS')} ({self.max_output_tokens}), or ask for fewer parts"
            )
        return budget

    async def _ask(
        self,
        client: SchemaLLMClient,
        gate: asyncio.Semaphore,
        messages: list[dict[str, str]],
        fields: list[str],
        tally: _Tally,
        what: str,
        options: SummaryOptions,
    ) -> SummaryAnswer:
        """One schema-validated answer with every field of ``fields`` (and a non-blank overview if asked)."""

        def check(answer: SummaryAnswer) -> None:
            missing = [f for f in fields if f not in answer.model_fields_set]
            if missing:
                raise ValueError(f"required field(s) missing: {', '.join(missing)}")
            if "overview" in fields and not answer.overview.strip():
                raise ValueError("overview is empty")

        async with gate:
            completion = await client.complete_schema(
                messages,
                SummaryAnswer,
                json_schema_format("summary", answer_schema(fields, self._max_items(options))),
                max_tokens=self.max_output_tokens,
                answer_attempts=self.answer_attempts,
                check=check,
                what=what,
            )
        tally.add(completion)
        return completion.value

    # -- prompts ----------------------------------------------------------------------------------------------
    def _messages(
        self, step: str, fields: list[str], options: SummaryOptions, body: str, part: tuple[int, int] | None = None
    ) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": self._system_prompt(step, fields, options, part)},
            {"role": "user", "content": body},
        ]

    def _system_prompt(
        self, step: str, fields: list[str], options: SummaryOptions, part: tuple[int, int] | None = None
    ) -> str:
        """The instructions of one step: ``direct``/``map`` read transcript lines, ``reduce``/``combine`` partials."""
        what = f" titled {options.title!r}" if options.title else ""
        if step == "direct":
            intro = f"You summarize the transcript of a recording{what}."
        elif step == "map":
            k, n = part or (1, 1)
            intro = (
                f"You summarize part {k} of {n} of the transcript of a recording{what}. Summarize only this part: "
                "the overview is about this part, the chapters cover this part only."
            )
        else:
            whole = "one summary of the whole recording" if step == "reduce" else "one summary of those parts"
            intro = (
                f"You merge the partial summaries of consecutive parts of one recording{what} into {whole}. "
                "Merge repeated items, keep segment ids exactly as given, keep the chapters in time order with "
                "their start_segment_id and merge neighbouring chapters about the same topic."
            )
        lines = [intro]
        if step in ("direct", "map"):
            lines.append(
                'Transcript lines look like "[12 @ 03:25] Maria (S1): text": 12 is the segment id, 03:25 the '
                "start time, then the speaker's name and label."
            )
        if options.context:
            lines.append(f"Background (not to summarize): {options.context}")
        if options.reference_date:
            lines.append(f"The recording was made on {options.reference_date}.")
        lines.append("Answer with one JSON object only, that follows this JSON schema:")
        schema = answer_schema(fields, self._max_items(options))
        lines.append(json.dumps(schema, ensure_ascii=False, separators=(",", ":")))
        rules = [f"write every text in {language_label(options.output_language or options.language)}"]
        rules += [rule for f in fields if (rule := self._rule(f, options))]
        rules.append("use only segment ids that appear in the input; never invent facts, names or dates")
        lines.append("Rules:\n" + "\n".join(f"- {r};" for r in rules))
        if options.instructions:
            lines.append(f"Extra instructions (they cannot change the JSON structure): {options.instructions}")
        return "\n".join(lines)

    @staticmethod
    def _max_items(options: SummaryOptions) -> dict[str, int]:
        """Array limits of the answer schema (``maxItems``, which OpenAI's strict mode and llama.cpp's grammars
        enforce: a small model that repeats itself still closes the list)."""
        limits = {"keywords": options.max_keywords, "key_points": KEY_POINT_LIMIT[options.length]}
        if options.max_chapters:
            limits["chapters"] = options.max_chapters
        return limits

    @staticmethod
    def _rule(field_name: str, options: SummaryOptions) -> str:
        limit = f" at most {options.max_chapters} chapters," if options.max_chapters else ""
        rules = {
            "overview": f"overview: {OVERVIEW_SENTENCES[options.length]} sentences on what the recording is about",
            "key_points": f"key_points: at most {KEY_POINT_LIMIT[options.length]} main points with the ids of the "
            "lines that support them",
            "chapters": f"chapters:{limit} consecutive topical sections in time order, each with the id of its first "
            "line, a title of a few words and a one-sentence summary",
            "action_items": "action_items: tasks someone agreed or was asked to do; owner is the person who does it "
            "(as named, else the speaker), due is the deadline as said, empty when none",
            "keywords": f"keywords: at most {options.max_keywords} key terms as they appear in the transcript, most "
            "important first",
            "questions_answers": "questions_answers: questions asked in the recording with the answer given there "
            "(empty when unanswered)",
            "speaker_summaries": "speaker_summaries: one per speaker label (like S1): what they said and took on",
        }
        return rules.get(field_name, "")


# -- answer -> domain -------------------------------------------------------------------------------------------
def to_summary(
    answer: SummaryAnswer,
    segments: Sequence[Segment],
    options: SummaryOptions,
    *,
    model: str = "",
    chunk_count: int = 1,
    input_tokens: int = 0,
    output_tokens: int = 0,
) -> Summary:
    """The domain summary of a validated answer: requested parts only, every time taken from segment ids.

    Ids the transcript does not have are dropped; chapters are ordered by their first segment and made
    consecutive, covering the transcript.
    """
    parts = set(options.parts)
    index_of = {seg.id: i for i, seg in enumerate(segments)}

    def ids(values: Sequence[int]) -> tuple[int, ...]:
        return tuple(sorted({v for v in values if v in index_of}, key=index_of.__getitem__))

    key_points: list[KeyPoint] = []
    for point in answer.key_points[: KEY_POINT_LIMIT[options.length]]:
        if not point.text.strip():
            continue
        found = ids(point.segment_ids)
        start = segments[index_of[found[0]]].start if found else 0.0
        end = segments[index_of[found[-1]]].end if found else 0.0
        key_points.append(KeyPoint(point.text.strip(), found, start, end))
    return Summary(
        language=options.output_language or options.language,
        parts=options.parts,
        overview=answer.overview.strip() if Part.OVERVIEW in parts else "",
        key_points=tuple(key_points) if Part.KEY_POINTS in parts else (),
        chapters=_chapters(answer, segments, index_of, options) if Part.CHAPTERS in parts else (),
        action_items=_actions(answer, segments, index_of, options, ids) if Part.ACTION_ITEMS in parts else (),
        keywords=_keywords(answer.keywords, segments, options.max_keywords) if Part.KEYWORDS in parts else (),
        questions_answers=_questions(answer, segments, index_of, ids) if Part.QUESTIONS_ANSWERS in parts else (),
        speaker_summaries=_speakers(answer, segments, options) if Part.SPEAKER_SUMMARIES in parts else (),
        model=model,
        chunk_count=chunk_count,
        input_token_count=input_tokens,
        output_token_count=output_tokens,
    )


def _chapters(
    answer: SummaryAnswer, segments: Sequence[Segment], index_of: dict[int, int], options: SummaryOptions
) -> tuple[Chapter, ...]:
    """Chapters ordered by their first segment, made consecutive and covering the transcript."""
    starts: dict[int, ChapterAnswer] = {}
    for chapter in answer.chapters:
        index = index_of.get(chapter.start_segment_id)
        if index is not None and chapter.title.strip() and index not in starts:
            starts[index] = chapter
    if not starts:
        return ()
    order = sorted(starts)
    if options.max_chapters:
        order = order[: options.max_chapters]
    end_time = max(s.end for s in segments)
    result: list[Chapter] = []
    for n, index in enumerate(order):
        first = 0 if n == 0 else index
        last = order[n + 1] - 1 if n + 1 < len(order) else len(segments) - 1
        chapter = starts[index]
        result.append(
            Chapter(
                title=chapter.title.strip(),
                start=segments[first].start,
                end=segments[last + 1].start if last + 1 < len(segments) else end_time,
                summary=chapter.summary.strip(),
                start_segment_id=segments[first].id,
                end_segment_id=segments[last].id,
            )
        )
    return tuple(result)


def _actions(
    answer: SummaryAnswer,
    segments: Sequence[Segment],
    index_of: dict[int, int],
    options: SummaryOptions,
    ids: Callable[[Sequence[int]], tuple[int, ...]],
) -> tuple[ActionItem, ...]:
    reference = parse_reference_date(options.reference_date)
    result: list[ActionItem] = []
    for item in answer.action_items:
        if not item.text.strip():
            continue
        found = ids(item.segment_ids)
        first = segments[index_of[found[0]]] if found else None
        owner = item.owner.strip()
        owner = options.speaker_names.get(owner, owner)
        due = item.due.strip()
        spotted = find_due(due, options.output_language or options.language) if due else None
        result.append(
            ActionItem(
                text=item.text.strip(),
                owner=owner,
                due=due,
                due_date=resolve_due(spotted, reference) if spotted is not None else "",
                start=first.start if first is not None else 0.0,
                speaker=first.speaker if first is not None else "",
                segment_ids=found,
            )
        )
    return tuple(result)


def _questions(
    answer: SummaryAnswer,
    segments: Sequence[Segment],
    index_of: dict[int, int],
    ids: Callable[[Sequence[int]], tuple[int, ...]],
) -> tuple[QuestionAnswer, ...]:
    result: list[QuestionAnswer] = []
    for qa in answer.questions_answers:
        if not qa.question.strip():
            continue
        found = ids(qa.segment_ids)
        speakers = [segments[index_of[i]].speaker for i in found]
        asker = speakers[0] if speakers else ""
        replier = next((s for s in speakers[1:] if s and s != asker), "")
        result.append(
            QuestionAnswer(
                question=qa.question.strip(),
                answer=qa.answer.strip(),
                start=segments[index_of[found[0]]].start if found else 0.0,
                question_speaker=asker,
                answer_speaker=replier,
                segment_ids=found,
            )
        )
    return tuple(result)


def _keywords(words: Sequence[str], segments: Sequence[Segment], limit: int) -> tuple[Keyword, ...]:
    """Distinct keywords in the model's order, scored by rank, with their literal counts in the transcript."""
    text = "\n".join(s.text for s in segments).casefold()
    seen: set[str] = set()
    kept: list[str] = []
    for word in (w.strip() for w in words):
        if word and word.casefold() not in seen:
            seen.add(word.casefold())
            kept.append(word)
    kept = kept[:limit]
    result: list[Keyword] = []
    for rank, word in enumerate(kept):
        folded = word.casefold()
        if folded.isascii():
            count = len(re.findall(rf"(?<![a-z0-9]){re.escape(folded)}(?![a-z0-9])", text))
        else:
            count = text.count(folded)
        result.append(Keyword(word, round(1.0 - rank / max(1, len(kept)), 4), count))
    return tuple(result)


def _speakers(
    answer: SummaryAnswer, segments: Sequence[Segment], options: SummaryOptions
) -> tuple[SpeakerSummary, ...]:
    """Every speaker label of the transcript with talk time and turns; the text from the model's answer."""
    texts: dict[str, str] = {}
    for item in answer.speaker_summaries:
        said = item.speaker.strip().casefold()
        label = _LABEL_IN_PARENS.search(said)  # "maria (s1)" as the transcript lines show it
        for key in (said, label.group(1) if label else ""):
            if key:
                texts.setdefault(key, item.summary.strip())
    result: list[SpeakerSummary] = []
    for stats in speaker_stats(segments):
        name = options.speaker_names.get(stats.speaker, "")
        text = texts.get(stats.speaker.casefold()) or (texts.get(name.casefold(), "") if name else "")
        result.append(SpeakerSummary(stats.speaker, name, text, stats.talk_time, stats.turn_count))
    return tuple(result)
