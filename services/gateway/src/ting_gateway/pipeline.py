"""The pipeline: fetch → decode → (separate) → transcribe → translate ∥ summarize → render.

One :class:`Pipeline` serves both ``Process`` (the caller waits, outputs inline) and jobs (a worker runs it,
outputs go to storage, state is saved after every change so a restarted worker resumes where it stopped). The
difference lives in two small objects passed in: a :class:`StepTracker` (what to do when a step changes) and an
:class:`Outputs` (where stems and rendered files go).

Outcome rules (see ``ting/gateway/v1/pipeline_service.proto``): recognition is the primary step (separation when
recognition is skipped, and also when recognition needs the separated vocals). A failed primary step fails the
pipeline - its domain error is raised. A failed translation target or summary is recorded on its step and the
rest goes on: the pipeline ends PARTIALLY_SUCCEEDED.

Resuming: steps already SUCCEEDED in the tracker with their result present in ``result`` are not run again, so a
job taken over after a crash repeats at most the step that was running.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableSequence
from dataclasses import dataclass
from typing import Final, Protocol

from google.protobuf.timestamp_pb2 import Timestamp

from ting.asr.v1 import asr_service_pb2 as asr_pb
from ting.audio.v1 import audio_pb2
from ting.gateway.v1 import pipeline_service_pb2 as pb
from ting.separation.v1 import separation_service_pb2 as sep_pb
from ting.summarization.v1 import summarization_service_pb2 as sum_pb
from ting.translation.v1 import translation_service_pb2 as tr_pb
from ting_common.audio import AudioEncoding, probe_duration
from ting_common.errors import InvalidArgumentError, ResourceExhaustedError, TingError, grpc_status
from ting_common.formats import format_timestamp
from ting_gateway.downstream import Downstream
from ting_gateway.render import RenderedFile, check_output_options, render

logger = logging.getLogger(__name__)

S = pb.PipelineStage
ST = pb.StepState

FINAL_STEP_STATES: Final = frozenset(
    {ST.STEP_STATE_SUCCEEDED, ST.STEP_STATE_FAILED, ST.STEP_STATE_SKIPPED, ST.STEP_STATE_CANCELLED}
)
# Expected share of the work per step, for the overall progress figure.
WEIGHTS: Final[dict[int, float]] = {
    S.PIPELINE_STAGE_FETCHING: 1.0,
    S.PIPELINE_STAGE_DECODING: 1.0,
    S.PIPELINE_STAGE_SEPARATING: 25.0,
    S.PIPELINE_STAGE_TRANSCRIBING: 50.0,
    S.PIPELINE_STAGE_TRANSLATING: 10.0,
    S.PIPELINE_STAGE_SUMMARIZING: 8.0,
    S.PIPELINE_STAGE_RENDERING: 1.0,
}
LANGUAGE_CODE: Final = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
NO_SPACE_LANGUAGES: Final = frozenset({"zh", "ja", "th", "lo", "my"})
STEM_NAMES: Final = {value: name.removeprefix("STEM_").lower() for name, value in sep_pb.Stem.items()}


def now_ts() -> Timestamp:
    """The current time as a protobuf Timestamp."""
    ts = Timestamp()
    ts.GetCurrentTime()
    return ts


def error_status(exc: BaseException) -> pb.Status:
    """A domain error (or anything) as the contract's ``Status``."""
    code, message = grpc_status(exc)
    return pb.Status(code=code.value[0], message=message)


def normalize_language(code: str, field: str) -> str:
    """Lower-case an ISO 639 code (``pt-BR`` keeps its region's case) or raise INVALID_ARGUMENT."""
    code = code.strip()
    if not code:
        return ""
    head, _, rest = code.partition("-")
    normalized = head.lower() + (f"-{rest}" if rest else "")
    if not LANGUAGE_CODE.match(normalized):
        raise InvalidArgumentError(f"{field}: '{code}' is not a language code (use ISO 639-1, e.g. 'en', 'zh')")
    return normalized


def _base(code: str) -> str:
    return code.split("-")[0]


def same_language(a: str, b: str) -> bool:
    """Whether two language codes name the same language (``pt-BR`` and ``pt`` do)."""
    return bool(a) and bool(b) and _base(a) == _base(b)


def join_text(parts: list[str], language: str) -> str:
    """Pieces of text joined as the language writes them: without spaces for zh/ja/th/lo/my, else with one."""
    joiner = "" if _base(language) in NO_SPACE_LANGUAGES else " "
    return joiner.join(part.strip() for part in parts if part.strip())


# -- validation and planning ---------------------------------------------------------------------------------


def validate_config(config: pb.PipelineConfig) -> None:
    """Check the options before any work starts (INVALID_ARGUMENT / OUT_OF_RANGE)."""
    if config.skip_recognition:
        if config.HasField("translation") or config.HasField("summary"):
            raise InvalidArgumentError("skip_recognition: translation and summary need a transcript; unset them")
        if not config.HasField("separation"):
            raise InvalidArgumentError("skip_recognition leaves nothing to do; set separation")
    if config.recognize_vocals and not config.HasField("separation"):
        raise InvalidArgumentError("recognize_vocals needs separation; set separation (an empty message will do)")
    if config.recognition.language_code:
        normalize_language(config.recognition.language_code, "recognition.language_code")
    if config.HasField("translation"):
        seen: set[str] = set()
        for code in config.translation.target_language_codes:
            normalized = normalize_language(code, "translation.target_language_codes")
            if not normalized:
                raise InvalidArgumentError("translation.target_language_codes: an empty code")
            if normalized in seen:
                raise InvalidArgumentError(f"translation.target_language_codes: '{code}' is listed twice")
            seen.add(normalized)
        normalize_language(config.translation.source_language_code, "translation.source_language_code")
    if config.HasField("summary") and config.summary.output_language_code:
        normalize_language(config.summary.output_language_code, "summary.output_language_code")
    for stem in config.separation.stems:
        if stem not in STEM_NAMES or stem == sep_pb.STEM_UNSPECIFIED:
            raise InvalidArgumentError(f"separation.stems: {stem} is not a stem")
    check_output_options(config.output)


def targets(config: pb.PipelineConfig) -> list[str]:
    """The normalized translation targets, in request order."""
    if not config.HasField("translation"):
        return []
    return [
        normalize_language(code, "translation.target_language_codes")
        for code in config.translation.target_language_codes
    ]


def plan_steps(config: pb.PipelineConfig) -> list[pb.StepStatus]:
    """Every step the config asks for, in pipeline order, PENDING."""
    stages: list[tuple[int, str]] = [(S.PIPELINE_STAGE_FETCHING, ""), (S.PIPELINE_STAGE_DECODING, "")]
    if config.HasField("separation"):
        stages.append((S.PIPELINE_STAGE_SEPARATING, ""))
    if not config.skip_recognition:
        stages.append((S.PIPELINE_STAGE_TRANSCRIBING, ""))
        stages += [(S.PIPELINE_STAGE_TRANSLATING, code) for code in targets(config)]
        if config.HasField("summary"):
            stages.append((S.PIPELINE_STAGE_SUMMARIZING, ""))
    if config.output.formats:
        stages.append((S.PIPELINE_STAGE_RENDERING, ""))
    return [
        pb.StepStatus(stage=stage, language_code=code, state=ST.STEP_STATE_PENDING)  # type: ignore[arg-type]
        for stage, code in stages
    ]


# -- progress ------------------------------------------------------------------------------------------------

ChangeCallback = Callable[[pb.StepStatus | None], Awaitable[None]]


class StepTracker:
    """The steps of one run and their progress; calls ``on_change`` after every change (throttled for
    progress ticks), so a job can save itself and watchers can be told."""

    def __init__(
        self,
        steps: MutableSequence[pb.StepStatus],
        on_change: ChangeCallback | None = None,
        *,
        min_interval_s: float = 0.25,
    ) -> None:
        self.steps = steps
        self.on_change = on_change
        self.min_interval_s = min_interval_s
        self.message = ""
        self._last_tick = 0.0

    def find(self, stage: int, language_code: str = "") -> pb.StepStatus:
        """The step of ``stage`` (and target language)."""
        for step in self.steps:
            if step.stage == stage and step.language_code == language_code:
                return step
        raise KeyError((stage, language_code))

    def has(self, stage: int) -> bool:
        """Whether the plan holds a step of ``stage``."""
        return any(step.stage == stage for step in self.steps)

    def done(self, stage: int, language_code: str = "") -> bool:
        """Whether the step already succeeded (a resumed run)."""
        return self.find(stage, language_code).state == ST.STEP_STATE_SUCCEEDED

    def overall(self) -> float:
        """Weighted progress of all steps in [0, 1]."""
        total = sum(WEIGHTS[step.stage] for step in self.steps) or 1.0
        done = 0.0
        for step in self.steps:
            share = 1.0 if step.state in FINAL_STEP_STATES else step.progress
            done += WEIGHTS[step.stage] * share
        return min(1.0, done / total)

    def stage(self) -> pb.PipelineStage:
        """The earliest running stage, else the last one that started."""
        running = [step.stage for step in self.steps if step.state == ST.STEP_STATE_RUNNING]
        if running:
            return running[0]
        started = [step.stage for step in self.steps if step.state != ST.STEP_STATE_PENDING]
        return started[-1] if started else S.PIPELINE_STAGE_UNSPECIFIED

    async def _changed(self, step: pb.StepStatus | None) -> None:
        if self.on_change is not None:
            await self.on_change(step)

    async def start(self, step: pb.StepStatus, message: str = "") -> None:
        step.state = ST.STEP_STATE_RUNNING
        step.progress = 0.0
        step.start_time.CopyFrom(now_ts())
        step.ClearField("finish_time")
        step.ClearField("error")
        step.message = message
        self.message = message or _stage_word(step)
        await self._changed(step)

    async def progress(self, step: pb.StepStatus, fraction: float, message: str = "") -> None:
        step.progress = max(step.progress, min(1.0, max(0.0, fraction)))
        if message:
            step.message = message
            self.message = message
        now = time.monotonic()
        if now - self._last_tick >= self.min_interval_s:
            self._last_tick = now
            await self._changed(step)

    async def finish(
        self,
        step: pb.StepStatus,
        state: pb.StepState,
        *,
        message: str = "",
        error: BaseException | None = None,
        engine: str = "",
        model: str = "",
    ) -> None:
        step.state = state
        if state == ST.STEP_STATE_SUCCEEDED:
            step.progress = 1.0
        if engine:
            step.engine = engine
        if model:
            step.model = model
        if message:
            step.message = message
        if error is not None:
            step.error.CopyFrom(error_status(error))
        if not step.HasField("start_time"):
            step.start_time.CopyFrom(now_ts())
        step.finish_time.CopyFrom(now_ts())
        await self._changed(step)

    async def cancel_open(self) -> None:
        """Mark every step that has not finished CANCELLED (the run was cancelled)."""
        for step in self.steps:
            if step.state not in FINAL_STEP_STATES:
                step.state = ST.STEP_STATE_CANCELLED
                step.finish_time.CopyFrom(now_ts())
        await self._changed(None)


def _stage_word(step: pb.StepStatus) -> str:
    word = pb.PipelineStage.Name(step.stage).removeprefix("PIPELINE_STAGE_").lower()
    return f"{word} {step.language_code}".strip()


# -- outputs -------------------------------------------------------------------------------------------------


class Outputs(Protocol):
    """Where a run's stems and rendered files go: inline (``Process``) or storage (jobs)."""

    async def stem(self, stem: sep_pb.SeparatedStem) -> sep_pb.SeparatedStem:
        """Keep a stem the separation service returned inline; returns what the result should hold."""
        ...

    async def artifact(self, file: RenderedFile) -> pb.Artifact:
        """Keep a rendered file; returns its artifact entry."""
        ...


class InlineOutputs:
    """``Process``: everything stays in the response."""

    async def stem(self, stem: sep_pb.SeparatedStem) -> sep_pb.SeparatedStem:
        return stem

    async def artifact(self, file: RenderedFile) -> pb.Artifact:
        return pb.Artifact(
            kind=file.kind,
            format=file.format,
            language_code=file.language_code,
            filename=file.filename,
            content_type=file.content_type,
            content=file.content,
            size_bytes=len(file.content),
        )


# -- the pipeline --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Input:
    """The recording as bytes, with the caller's format hints."""

    data: bytes
    format: audio_pb2.AudioFormat


@dataclass
class RunOutcome:
    """What :meth:`Pipeline.run` ends with (the result itself is filled in place)."""

    state: pb.JobState
    audio_duration_ms: int


class Pipeline:
    """Runs pipelines against the services reached through a :class:`Downstream`."""

    def __init__(self, downstream: Downstream) -> None:
        self.downstream = downstream
        self._translate_task: dict[str, bool] = {}

    async def run(
        self,
        config: pb.PipelineConfig,
        fetch: Callable[[], Awaitable[Input]],
        tracker: StepTracker,
        result: pb.PipelineResult,
        outputs: Outputs,
        *,
        max_duration_s: float | None = None,
        known_duration_ms: int = 0,
        on_duration: Callable[[int], Awaitable[None]] | None = None,
    ) -> RunOutcome:
        """Run ``config`` over the audio ``fetch`` returns, filling ``result`` and the tracker's steps.

        Raises the primary step's domain error; ``asyncio.CancelledError`` when cancelled (open steps are then
        marked CANCELLED).
        """
        try:
            return await self._run(
                config, fetch, tracker, result, outputs, max_duration_s, known_duration_ms, on_duration
            )
        except asyncio.CancelledError:
            await asyncio.shield(tracker.cancel_open())
            raise

    async def _run(
        self,
        config: pb.PipelineConfig,
        fetch: Callable[[], Awaitable[Input]],
        tracker: StepTracker,
        result: pb.PipelineResult,
        outputs: Outputs,
        max_duration_s: float | None,
        known_duration_ms: int,
        on_duration: Callable[[int], Awaitable[None]] | None,
    ) -> RunOutcome:
        # FETCHING
        step = tracker.find(S.PIPELINE_STAGE_FETCHING)
        await tracker.start(step)
        try:
            audio = await fetch()
        except TingError as exc:
            await tracker.finish(step, ST.STEP_STATE_FAILED, error=exc)
            raise
        if not audio.data:
            empty = InvalidArgumentError("the audio is empty (0 bytes)")
            await tracker.finish(step, ST.STEP_STATE_FAILED, error=empty)
            raise empty
        await tracker.finish(step, ST.STEP_STATE_SUCCEEDED, message=f"{len(audio.data)} bytes")

        # DECODING
        step = tracker.find(S.PIPELINE_STAGE_DECODING)
        await tracker.start(step)
        try:
            duration_s = await asyncio.to_thread(
                probe_duration,
                audio.data,
                encoding=AudioEncoding(audio.format.encoding),
                sample_rate_hint=audio.format.sample_rate_hertz,
                channels_hint=audio.format.channel_count,
            )
            if max_duration_s is not None and duration_s > max_duration_s:
                raise ResourceExhaustedError(
                    f"the audio is {duration_s / 60:.1f} min long; Process accepts up to {max_duration_s / 60:.0f} "
                    "min - create a job instead"
                )
        except TingError as exc:
            await tracker.finish(step, ST.STEP_STATE_FAILED, error=exc)
            raise
        duration_ms = round(duration_s * 1000) or known_duration_ms
        if on_duration is not None:
            await on_duration(duration_ms)
        await tracker.finish(step, ST.STEP_STATE_SUCCEEDED, message=format_timestamp(duration_s, always_hours=False))

        source = audio_pb2.AudioSource(content=audio.data, format=audio.format)
        recognition_source = source

        # SEPARATING
        if tracker.has(S.PIPELINE_STAGE_SEPARATING):
            primary = config.skip_recognition or config.recognize_vocals
            vocals = await self._separate(config, source, tracker, result, outputs, primary=primary)
            if config.recognize_vocals and vocals is not None:
                recognition_source = audio_pb2.AudioSource(content=vocals)

        # TRANSCRIBING
        if tracker.has(S.PIPELINE_STAGE_TRANSCRIBING):
            await self._transcribe(config, recognition_source, tracker, result, duration_ms)
            parallel: list[Awaitable[None]] = [
                self._translate(config, code, recognition_source, tracker, result) for code in targets(config)
            ]
            if tracker.has(S.PIPELINE_STAGE_SUMMARIZING):
                parallel.append(self._summarize(config, tracker, result))
            await asyncio.gather(*parallel)
            order = {code: i for i, code in enumerate(targets(config))}
            ordered = sorted(result.translations, key=lambda t: order.get(t.language_code, len(order)))
            del result.translations[:]
            result.translations.extend(ordered)

        # RENDERING
        if tracker.has(S.PIPELINE_STAGE_RENDERING):
            step = tracker.find(S.PIPELINE_STAGE_RENDERING)
            await tracker.start(step)
            files = render(result, config.output, dict(config.speaker_names))
            del result.artifacts[:]
            for file in files:
                result.artifacts.append(await outputs.artifact(file))
            await tracker.finish(step, ST.STEP_STATE_SUCCEEDED, message=f"{len(files)} files")

        failed = any(step.state == ST.STEP_STATE_FAILED for step in tracker.steps)
        state = pb.JOB_STATE_PARTIALLY_SUCCEEDED if failed else pb.JOB_STATE_SUCCEEDED
        return RunOutcome(state, duration_ms)

    # -- steps ---------------------------------------------------------------------------------------------

    async def _separate(
        self,
        config: pb.PipelineConfig,
        source: audio_pb2.AudioSource,
        tracker: StepTracker,
        result: pb.PipelineResult,
        outputs: Outputs,
        *,
        primary: bool,
    ) -> bytes | None:
        step = tracker.find(S.PIPELINE_STAGE_SEPARATING)
        separation = sep_pb.SeparationConfig()
        separation.CopyFrom(config.separation)
        if config.recognize_vocals and sep_pb.STEM_VOCALS not in separation.stems:
            separation.stems.append(sep_pb.STEM_VOCALS)
        # The gateway keeps stems itself (inline for Process, its storage for jobs).
        separation.output.ClearField("uri_prefix")
        if tracker.done(S.PIPELINE_STAGE_SEPARATING) and result.stems and not config.recognize_vocals:
            return None
        await tracker.start(step)
        request = sep_pb.SeparateStreamRequest(config=separation, audio=source)
        separated: sep_pb.SeparationResult | None = None
        try:
            async for message in self.downstream.stream(
                "separation", "SeparateStream", self.downstream.separation.SeparateStream, request
            ):
                if message.HasField("progress"):
                    await tracker.progress(step, message.progress.progress)
                elif message.HasField("result"):
                    separated = message.result
            if separated is None:
                raise InvalidArgumentError("the separation service ended its stream without a result")
        except TingError as exc:
            await tracker.finish(step, ST.STEP_STATE_FAILED, error=exc)
            if primary:
                raise
            logger.warning("separation failed: %s", exc)
            return None
        vocals: bytes | None = None
        del result.stems[:]
        requested = list(config.separation.stems)
        for stem in separated.stems:
            if stem.stem == sep_pb.STEM_VOCALS:
                vocals = stem.content
            if requested and stem.stem not in requested:
                continue  # vocals added only to recognize them
            result.stems.append(await outputs.stem(stem))
        await tracker.finish(
            step, ST.STEP_STATE_SUCCEEDED, engine=separated.metadata.engine, model=separated.metadata.model
        )
        return vocals

    async def _transcribe(
        self,
        config: pb.PipelineConfig,
        source: audio_pb2.AudioSource,
        tracker: StepTracker,
        result: pb.PipelineResult,
        duration_ms: int,
    ) -> None:
        step = tracker.find(S.PIPELINE_STAGE_TRANSCRIBING)
        if tracker.done(S.PIPELINE_STAGE_TRANSCRIBING) and result.HasField("transcript"):
            return
        await tracker.start(step)
        recognition = asr_pb.RecognitionConfig()
        recognition.CopyFrom(config.recognition)
        if recognition.language_code:
            recognition.language_code = normalize_language(recognition.language_code, "recognition.language_code")
        request = asr_pb.LongRunningRecognizeRequest(config=recognition, audio=source)
        response: asr_pb.RecognizeResponse | None = None
        total = format_timestamp(duration_ms / 1000, always_hours=False).split(",")[0]
        try:
            async for message in self.downstream.stream(
                "asr", "LongRunningRecognize", self.downstream.asr.LongRunningRecognize, request
            ):
                if message.HasField("progress"):
                    done = format_timestamp(message.progress.processed_ms / 1000, always_hours=False).split(",")[0]
                    await tracker.progress(step, message.progress.fraction, f"transcribing {done} of {total}")
                elif message.HasField("result"):
                    response = message.result
            if response is None:
                raise InvalidArgumentError("the ASR service ended its stream without a result")
        except TingError as exc:
            await tracker.finish(step, ST.STEP_STATE_FAILED, error=exc)
            raise
        result.transcript.CopyFrom(response.transcript)
        del result.speakers[:]
        result.speakers.extend(response.speakers)
        await tracker.finish(
            step,
            ST.STEP_STATE_SUCCEEDED,
            engine=response.metadata.engine,
            model=response.metadata.model,
            message=f"{len(response.transcript.segments)} segments, language {response.transcript.language_code}",
        )

    async def speech_translation_supported(self, model: str) -> bool:
        """Whether the ASR ``model`` (empty: the server default) has Whisper's translate task (speech -> English)."""
        if model in self._translate_task:
            return self._translate_task[model]
        supported = not model.endswith(".en")
        try:
            models = await self.downstream.call(
                "asr", "ListModels", self.downstream.asr.ListModels, asr_pb.ListModelsRequest(), deadline_s=10
            )
            for info in models.models:
                if info.name == model:
                    supported = info.supports_translation
        except TingError as exc:
            logger.warning("cannot list ASR models (%s); assuming '%s' translates: %s", model, supported, exc)
        self._translate_task[model] = supported
        return supported

    async def _translate(
        self,
        config: pb.PipelineConfig,
        target: str,
        source: audio_pb2.AudioSource,
        tracker: StepTracker,
        result: pb.PipelineResult,
    ) -> None:
        step = tracker.find(S.PIPELINE_STAGE_TRANSLATING, target)
        if tracker.done(S.PIPELINE_STAGE_TRANSLATING, target) and any(
            t.language_code == target for t in result.translations
        ):
            return
        transcript = result.transcript
        spoken = transcript.language_code
        if config.recognition.task == asr_pb.TASK_TRANSLATE:
            text_language = "en"
        else:
            text_language = (
                normalize_language(config.translation.source_language_code, "translation.source_language_code")
                or spoken
            )
        if text_language and _base(text_language) == _base(target):
            await tracker.finish(step, ST.STEP_STATE_SKIPPED, message=f"the transcript is already in {target}")
            return
        await tracker.start(step)
        try:
            asr_model = tracker.find(S.PIPELINE_STAGE_TRANSCRIBING).model or config.recognition.model
            translation = await self._translate_one(config, target, text_language, source, transcript, asr_model)
        except TingError as exc:
            logger.warning("translation into %s failed: %s", target, exc)
            await tracker.finish(step, ST.STEP_STATE_FAILED, error=exc)
            return
        result.translations.append(translation)
        report = translation.report
        note = (
            f"{len(report.untranslated_cue_indices)} cues left untranslated" if report.untranslated_cue_indices else ""
        )
        await tracker.finish(
            step, ST.STEP_STATE_SUCCEEDED, engine=translation.engine, model=translation.model, message=note
        )

    async def _translate_one(
        self,
        config: pb.PipelineConfig,
        target: str,
        text_language: str,
        source: audio_pb2.AudioSource,
        transcript: audio_pb2.Transcript,
        asr_model: str,
    ) -> pb.TranscriptTranslation:
        speech = (
            target == "en"
            and not config.translate_english_from_text
            and config.recognition.task != asr_pb.TASK_TRANSLATE
            and await self.speech_translation_supported(asr_model)
        )
        if speech:
            return await self.translate_speech(config.recognition, transcript.language_code, source)
        cues = [
            tr_pb.Cue(index=s.id, start_ms=s.start_ms, end_ms=s.end_ms, text=s.text.strip(), speaker=s.speaker)
            for s in transcript.segments
            if s.text.strip()
        ]
        return await self.translate_cues(config.translation, target, text_language, cues)

    async def translate_speech(
        self, recognition: asr_pb.RecognitionConfig, spoken_language: str, source: audio_pb2.AudioSource
    ) -> pb.TranscriptTranslation:
        """English from the speech in ``source`` through the ASR service's translate task (Whisper's; works with no
        text-translation engine), with ``recognition``'s other settings: the speech path of a translation step, and
        of each final of a live stream."""
        config = asr_pb.RecognitionConfig()
        config.CopyFrom(recognition)
        config.task = asr_pb.TASK_TRANSLATE
        config.language_code = spoken_language
        response = await self.downstream.call(
            "asr", "Recognize", self.downstream.asr.Recognize, asr_pb.RecognizeRequest(config=config, audio=source)
        )
        cues = [
            tr_pb.Cue(index=s.id, start_ms=s.start_ms, end_ms=s.end_ms, text=s.text.strip(), speaker=s.speaker)
            for s in response.transcript.segments
        ]
        return pb.TranscriptTranslation(
            language_code="en",
            cues=cues,
            text=response.transcript.text,
            method=pb.TRANSLATION_METHOD_SPEECH,
            engine=response.metadata.engine,
            model=response.metadata.model,
        )

    async def translate_cues(
        self, translation: tr_pb.TranslationConfig, target: str, text_language: str, cues: list[tr_pb.Cue]
    ) -> pb.TranscriptTranslation:
        """Translate ``cues`` (in ``text_language``; empty: detect) into ``target`` through the translation
        service: the text path of a translation step, and of each final of a live stream."""
        translation_config = tr_pb.TranslationConfig()
        translation_config.CopyFrom(translation)
        translation_config.source_language_code = text_language
        del translation_config.target_language_codes[:]
        translation_config.target_language_codes.append(target)
        if not cues:
            return pb.TranscriptTranslation(language_code=target, method=pb.TRANSLATION_METHOD_TEXT)
        request = tr_pb.TranslateSubtitlesRequest(cues=tr_pb.CueList(cues=cues), config=translation_config)
        response_tr = await self.downstream.call(
            "translation", "TranslateSubtitles", self.downstream.translation.TranslateSubtitles, request
        )
        translated = response_tr.translations[0]
        return pb.TranscriptTranslation(
            language_code=target,
            cues=translated.cues,
            text=join_text([cue.text for cue in translated.cues], target),
            method=pb.TRANSLATION_METHOD_TEXT,
            engine=response_tr.engine,
            model=response_tr.model,
            report=translated.report,
        )

    async def _summarize(self, config: pb.PipelineConfig, tracker: StepTracker, result: pb.PipelineResult) -> None:
        step = tracker.find(S.PIPELINE_STAGE_SUMMARIZING)
        if tracker.done(S.PIPELINE_STAGE_SUMMARIZING) and result.HasField("summary"):
            return
        if not any(s.text.strip() for s in result.transcript.segments):
            await tracker.finish(step, ST.STEP_STATE_SKIPPED, message="no speech to summarize")
            return
        await tracker.start(step)
        summary_config = sum_pb.SummaryConfig()
        summary_config.CopyFrom(config.summary)
        for label, name in config.speaker_names.items():
            if label not in summary_config.speaker_names:
                summary_config.speaker_names[label] = name
        request = sum_pb.SummarizeRequest(
            config=summary_config,
            segments=result.transcript.segments,
            language_code=result.transcript.language_code,
        )
        try:
            response = await self.downstream.call(
                "summarization", "Summarize", self.downstream.summarization.Summarize, request
            )
        except TingError as exc:
            logger.warning("summary failed: %s", exc)
            await tracker.finish(step, ST.STEP_STATE_FAILED, error=exc)
            return
        result.summary.CopyFrom(response.summary)
        await tracker.finish(step, ST.STEP_STATE_SUCCEEDED, engine=response.engine, model=response.model)
