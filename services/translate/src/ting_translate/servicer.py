"""``ting.translation.v1.TranslationService``: protocol only — validation, proto <-> domain, errors.

Decisions (documented in the proto's spirit):

- a target equal to the source language is answered with the input unchanged (no engine call);
- empty strings in ``TranslateText`` translate to empty strings, but a request whose texts are all empty is
  INVALID_ARGUMENT; over-limit input is RESOURCE_EXHAUSTED; unknown or duplicate language codes are
  INVALID_ARGUMENT; an unknown engine name is NOT_FOUND; no engine configured is FAILED_PRECONDITION with
  the settings to set;
- a subtitle cue the engine cannot translate even alone keeps its source text and is listed in
  ``report.untranslated_cue_indices``; when *no* cue could be translated, or a plain text could not be, the
  call fails UNAVAILABLE rather than return source text as a "translation";
- ``detected_language_code`` is the language the engine reported for the chunks (the majority), when the
  request left the source empty.
- the request's ``engine`` picks one of the configured engines (LLM and/or CTranslate2); none named uses
  ``TING_TRANSLATE_DEFAULT_ENGINE`` or else the first configured. An empty source with an engine that cannot
  detect languages (NLLB, M2M100, multi-source Marian) is FAILED_PRECONDITION asking for the source code.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import grpc

from ting.translation.v1 import translation_service_pb2 as pb
from ting.translation.v1 import translation_service_pb2_grpc as pb_grpc
from ting_common.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    OutOfRangeError,
    ResourceExhaustedError,
    UnavailableError,
)
from ting_translate.chunking import split_text
from ting_translate.config import ENGINE_HELP, TranslateSettings
from ting_translate.engines import GlossaryTerm, TranslationEngine, TranslationOptions
from ting_translate.languages import normalize_language, primary_subtag
from ting_translate.pipeline import SEGMENT_OVERHEAD_TOKENS, ChunkReport, Translator
from ting_translate.subtitles import (
    Cue,
    SubtitleFormat,
    decode_document,
    parse_document,
    render,
    wrap_text,
)
from ting_translate.tokens import TokenCounter

__all__ = ["TranslationServicer"]

logger = logging.getLogger(__name__)

MAX_GLOSSARY = 1000
MAX_TERM_CHARS = 200
MAX_CONTEXT_CHARS = 2000
_NO_SPACE_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "km", "my"})
_FORMALITY = {pb.FORMALITY_FORMAL: "formal", pb.FORMALITY_INFORMAL: "informal"}
_TO_FORMAT = {pb.SUBTITLE_FORMAT_SRT: SubtitleFormat.SRT, pb.SUBTITLE_FORMAT_VTT: SubtitleFormat.VTT}
_FROM_FORMAT = {SubtitleFormat.SRT: pb.SUBTITLE_FORMAT_SRT, SubtitleFormat.VTT: pb.SUBTITLE_FORMAT_VTT}


@dataclass(frozen=True)
class _Plan:
    engine: TranslationEngine
    translator: Translator
    source: str
    targets: list[str]
    options: TranslationOptions
    glossary: list[tuple[GlossaryTerm, str]]  # (entry, target or "" for all)


class TranslationServicer(pb_grpc.TranslationServiceServicer):
    """Implements the TranslationService RPCs over configured :class:`TranslationEngine` s."""

    def __init__(
        self, settings: TranslateSettings, engines: Sequence[TranslationEngine], counter: TokenCounter
    ) -> None:
        self.settings = settings
        self.engines = {e.name: e for e in engines}
        if len(self.engines) != len(engines):
            names = sorted({e.name for e in engines if [x.name for x in engines].count(e.name) > 1})
            raise FailedPreconditionError(
                f"two engines are named {', '.join(names)}: set TING_TRANSLATE_LLM_ENGINE_NAME or "
                "TING_TRANSLATE_CT2_ENGINE_NAME so that every engine has its own name"
            )
        self.default = settings.default_engine.strip() or (engines[0].name if engines else "")
        if self.default and self.default not in self.engines:
            raise FailedPreconditionError(
                f"TING_TRANSLATE_DEFAULT_ENGINE={self.default} is not a configured engine "
                f"(configured: {', '.join(self.engines) or 'none'})"
            )
        self.counter = counter
        limiter = asyncio.Semaphore(settings.max_concurrency)
        self.translators = {
            e.name: Translator(
                e, counter, limiter, chunk_retries=settings.chunk_retries, context_items=settings.context_cues
            )
            for e in engines
        }

    async def close(self) -> None:
        """Close every engine (after the server stopped)."""
        for engine in self.engines.values():
            await engine.close()

    # -- shared validation -----------------------------------------------------------------------------------
    def _plan(self, config: pb.TranslationConfig) -> _Plan:
        raw_targets = list(config.target_language_codes)
        if not raw_targets:
            raise InvalidArgumentError("config.target_language_codes is empty: name at least one target language")
        if len(raw_targets) > self.settings.max_targets:
            raise InvalidArgumentError(
                f"{len(raw_targets)} target languages; at most {self.settings.max_targets} per call"
            )
        targets = [normalize_language(t, field="target language code") for t in raw_targets]
        duplicates = sorted({t for t in targets if targets.count(t) > 1})
        if duplicates:
            raise InvalidArgumentError(f"duplicate target language codes: {', '.join(duplicates)}")
        source = (
            normalize_language(config.source_language_code, field="source language code")
            if (config.source_language_code.strip())
            else ""
        )
        if len(config.context) > MAX_CONTEXT_CHARS:
            raise InvalidArgumentError(
                f"config.context has {len(config.context)} characters; at most {MAX_CONTEXT_CHARS}"
            )
        glossary = self._glossary(config)
        if not self.engines:
            raise FailedPreconditionError(ENGINE_HELP)
        name = config.engine.strip() or self.default
        engine = self.engines.get(name)
        if engine is None:
            raise NotFoundError(f"unknown engine {config.engine!r}; this server has: {', '.join(self.engines)}")
        for target in targets:
            if target != source and not engine.supports(source, target):
                if not source and not engine.describe().supports_language_detection:
                    raise FailedPreconditionError(
                        f"engine {engine.name!r} cannot detect the source language: set "
                        "config.source_language_code (see ListEngines for the languages it translates from)"
                    )
                raise FailedPreconditionError(
                    f"engine {engine.name!r} does not translate {source or 'auto'} -> {target} (see ListEngines)"
                )
        options = TranslationOptions(
            context=config.context.strip(),
            domain=config.domain.strip(),
            formality=_FORMALITY.get(config.formality, ""),
        )
        return _Plan(engine, self.translators[engine.name], source, targets, options, glossary)

    def _glossary(self, config: pb.TranslationConfig) -> list[tuple[GlossaryTerm, str]]:
        if len(config.glossary) > MAX_GLOSSARY:
            raise InvalidArgumentError(f"the glossary has {len(config.glossary)} entries; at most {MAX_GLOSSARY}")
        out: list[tuple[GlossaryTerm, str]] = []
        for k, entry in enumerate(config.glossary):
            if not entry.term.strip() or len(entry.term) > MAX_TERM_CHARS:
                raise InvalidArgumentError(f"glossary entry {k}: the term must have 1..{MAX_TERM_CHARS} characters")
            target = (
                normalize_language(entry.target_language_code, field=f"glossary entry {k} language")
                if (entry.target_language_code)
                else ""
            )
            out.append((GlossaryTerm(entry.term, entry.translation, entry.case_sensitive), target))
        return out

    @staticmethod
    def _for_target(plan: _Plan, target: str) -> tuple[TranslationOptions, list[tuple[str, bool]]]:
        entries = [g for g, t in plan.glossary if t in ("", target)]
        keep = [(g.term, g.case_sensitive) for g in entries if not g.translation]
        terms = [g for g in entries if g.translation]
        return replace(plan.options, glossary=terms), keep

    # -- RPCs --------------------------------------------------------------------------------------------------------
    async def TranslateText(
        self, request: pb.TranslateTextRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.TranslateTextResponse:
        """Translate a batch of plain texts into every target language."""
        started = time.monotonic()
        texts = list(request.texts)
        if not texts:
            raise InvalidArgumentError("texts is empty: send at least one text to translate")
        if len(texts) > self.settings.max_texts:
            raise ResourceExhaustedError(f"{len(texts)} texts; at most {self.settings.max_texts} per call")
        total = sum(len(t) for t in texts)
        if total > self.settings.max_text_chars:
            raise ResourceExhaustedError(
                f"{total} characters of text; at most {self.settings.max_text_chars} per call (split the input)"
            )
        if not any(t.strip() for t in texts):
            raise InvalidArgumentError("every text is empty: nothing to translate")
        plan = self._plan(request.config)
        results = await asyncio.gather(*(self._text_target(plan, texts, target) for target in plan.targets))
        return pb.TranslateTextResponse(
            translations=list(results),
            engine=plan.engine.name,
            model=plan.engine.model,
            processing_ms=int((time.monotonic() - started) * 1000),
        )

    async def _text_target(self, plan: _Plan, texts: list[str], target: str) -> pb.TranslatedTexts:
        if target == plan.source:
            return pb.TranslatedTexts(target_language_code=target, translations=[pb.Translation(text=t) for t in texts])
        options, keep = self._for_target(plan, target)
        budget = max(32, plan.engine.chunk_token_budget // 2 - SEGMENT_OVERHEAD_TOKENS)
        pieces: list[str] = []
        owners: list[int] = []
        for k, text in enumerate(texts):
            for piece in split_text(text, budget, self.counter) if text.strip() else [text]:
                pieces.append(piece)
                owners.append(k)
        translated, report = await plan.translator.translate(
            pieces,
            source=plan.source,
            target=target,
            options=options,
            max_items=self.settings.cues_per_chunk,
            keep_terms=keep,
            carry_context=False,
        )
        glue = "" if primary_subtag(target) in _NO_SPACE_LANGUAGES else " "
        joined: list[list[str]] = [[] for _ in texts]
        for owner, value in zip(owners, translated, strict=True):
            if value is None:
                raise UnavailableError(
                    f"engine {plan.engine.name!r} gave no usable translation of text {owner} into {target} "
                    f"after {report.retry_count} retries and {report.split_count} splits; try again or use a "
                    "stronger model"
                )
            joined[owner].append(value)
        detected = _majority(report) if not plan.source else ""
        return pb.TranslatedTexts(
            target_language_code=target,
            translations=[
                pb.Translation(text=glue.join(parts), detected_language_code=detected if texts[k].strip() else "")
                for k, parts in enumerate(joined)
            ],
        )

    def _input_cues(self, request: pb.TranslateSubtitlesRequest) -> tuple[list[Cue], SubtitleFormat]:
        kind = request.WhichOneof("input")
        if kind is None:
            raise InvalidArgumentError("no subtitles: set cues or document")
        if kind == "document":
            content = request.document.content
            limit = int(self.settings.max_document_mb * 1024 * 1024)
            if len(content) > limit:
                raise ResourceExhaustedError(
                    f"the subtitle document has {len(content)} bytes; at most {limit} "
                    f"({self.settings.max_document_mb:g} MiB)"
                )
            if not content.strip():
                raise InvalidArgumentError("the subtitle document is empty")
            fmt = _TO_FORMAT.get(request.document.format)
            return parse_document(decode_document(content), fmt)
        cues: list[Cue] = []
        for k, c in enumerate(request.cues.cues):
            if c.start_ms < 0 or c.end_ms < c.start_ms:
                raise InvalidArgumentError(
                    f"cue {k} (index {c.index}): times must satisfy 0 <= start_ms <= end_ms, "
                    f"got {c.start_ms}..{c.end_ms}"
                )
            cues.append(Cue(c.index, c.start_ms, c.end_ms, c.text, c.speaker, c.identifier, c.settings))
        if not cues:
            raise InvalidArgumentError("cues is empty: send at least one cue")
        return cues, SubtitleFormat.SRT

    async def TranslateSubtitles(
        self, request: pb.TranslateSubtitlesRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.TranslateSubtitlesResponse:
        """Translate cues or an SRT/WebVTT document, keeping indices, times and speakers."""
        started = time.monotonic()
        if request.max_line_length and not 20 <= request.max_line_length <= 200:
            raise OutOfRangeError(f"max_line_length must be 0 or 20..200, got {request.max_line_length}")
        if request.max_cues_per_chunk < 0 or request.max_cues_per_chunk > 500:
            raise OutOfRangeError(f"max_cues_per_chunk must be 0..500, got {request.max_cues_per_chunk}")
        cues, in_format = self._input_cues(request)
        if len(cues) > self.settings.max_cues:
            raise ResourceExhaustedError(f"{len(cues)} cues; at most {self.settings.max_cues} per call")
        chars = sum(len(c.text) for c in cues)
        if chars > self.settings.max_subtitle_chars:
            raise ResourceExhaustedError(
                f"{chars} characters of cue text; at most {self.settings.max_subtitle_chars} per call"
            )
        out_format = _TO_FORMAT.get(request.output_format, in_format)
        plan = self._plan(request.config)
        max_items = request.max_cues_per_chunk or plan.engine.describe().default_cues_per_chunk
        width = request.max_line_length
        results = await asyncio.gather(
            *(self._subtitle_target(plan, cues, t, out_format, max_items, width) for t in plan.targets)
        )
        detected = [lang for _, report in results for lang in report.detected_languages]
        source = plan.source or (collections.Counter(detected).most_common(1)[0][0] if detected else "")
        return pb.TranslateSubtitlesResponse(
            translations=[r for r, _ in results],
            source_language_code=source,
            engine=plan.engine.name,
            model=plan.engine.model,
            processing_ms=int((time.monotonic() - started) * 1000),
        )

    async def _subtitle_target(
        self, plan: _Plan, cues: list[Cue], target: str, fmt: SubtitleFormat, max_items: int, width: int
    ) -> tuple[pb.TranslatedSubtitles, ChunkReport]:
        if target == plan.source:
            out, report = list(cues), ChunkReport(segment_count=len(cues))
        else:
            options, keep = self._for_target(plan, target)
            translated, report = await plan.translator.translate(
                [c.text for c in cues],
                source=plan.source,
                target=target,
                options=replace(options, subtitles=True),
                max_items=max_items,
                keep_terms=keep,
            )
            if report.untranslated and len(report.untranslated) == report.translatable_count:
                raise UnavailableError(
                    f"engine {plan.engine.name!r} gave no usable translation of any cue into {target} "
                    f"({report.request_count} requests, {report.retry_count} retries, {report.split_count} splits)"
                )
            out = [replace(c, text=c.text if t is None else t) for c, t in zip(cues, translated, strict=True)]
        if width:
            out = [replace(c, text=wrap_text(c.text, width)) for c in out]
        document = render(out, fmt)
        return (
            pb.TranslatedSubtitles(
                target_language_code=target,
                cues=[
                    pb.Cue(
                        index=c.index,
                        start_ms=c.start_ms,
                        end_ms=c.end_ms,
                        text=c.text,
                        speaker=c.speaker,
                        identifier=c.identifier,
                        settings=c.settings,
                    )
                    for c in out
                ],
                document=pb.SubtitleDocument(content=document.encode("utf-8"), format=_FROM_FORMAT[fmt]),
                report=pb.SubtitleTranslationReport(
                    cue_count=len(out),
                    chunk_count=report.chunk_count,
                    retry_count=report.retry_count,
                    split_count=report.split_count,
                    untranslated_cue_indices=[cues[p].index for p in report.untranslated],
                ),
            ),
            report,
        )

    async def ListEngines(
        self, request: pb.ListEnginesRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.ListEnginesResponse:
        """The configured engines, default first (empty when none is configured)."""
        source = normalize_language(request.source_language_code) if request.source_language_code else ""
        target = normalize_language(request.target_language_code) if request.target_language_code else ""
        infos: list[pb.EngineInfo] = []
        for name, engine in self.engines.items():
            d = engine.describe()
            if source and primary_subtag(source) not in d.source_languages:
                continue
            if target and primary_subtag(target) not in d.target_languages:
                continue
            infos.append(
                pb.EngineInfo(
                    name=d.name,
                    description=d.description,
                    model=d.model,
                    source_language_codes=list(d.source_languages),
                    target_language_codes=list(d.target_languages),
                    loaded=await engine.ready(),
                    default=name == self.default,
                    device=d.device,
                    supports_language_detection=d.supports_language_detection,
                    supports_glossary=d.supports_glossary,
                    supports_context=d.supports_context,
                    supports_formality=d.supports_formality,
                    default_cues_per_chunk=d.default_cues_per_chunk,
                )
            )
        infos.sort(key=lambda e: not e.default)
        return pb.ListEnginesResponse(engines=infos)


def _majority(report: ChunkReport) -> str:
    if not report.detected_languages:
        return ""
    return collections.Counter(report.detected_languages).most_common(1)[0][0]
