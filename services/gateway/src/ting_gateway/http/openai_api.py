"""OpenAI-compatible speech-to-text: ``POST /v1/audio/transcriptions``, ``POST /v1/audio/translations`` and
``GET /v1/models``, so the official SDKs and tools built for OpenAI's audio API work against Ting unchanged.

Both audio routes run :meth:`Gateway.process` with recognition only (translations: the ASR task TRANSLATE, into
English). ``model`` ``whisper-1`` (or empty) means the ASR service's default model; any other name is passed to
ASR as the model name (404 when it has no such model). Responses follow OpenAI's shapes:

* ``json``: ``{"text": "..."}``
* ``text`` / ``srt`` / ``vtt``: the body as ``text/plain``
* ``verbose_json``: ``{"task", "language" (English name, lower case), "duration", "text", "segments": [...],
  "words": [...]}``; ``segments`` unless only ``word`` timestamps were asked for, ``words`` when they were.

* ``diarized_json``: speaker diarization on; ``{"task", "duration", "text", "segments": [{"type":
  "transcript.text.segment", "id", "start", "end", "text", "speaker"}]}`` as OpenAI's diarizing model answers
  (speakers are Ting's labels ``S1``, ``S2``, ... in order of appearance). The optional form fields
  ``speaker_count``, ``min_speakers`` and ``max_speakers`` bound the count.

Errors use OpenAI's body shape
``{"error": {"message", "type", "param", "code"}}``.
"""

# No `from __future__ import annotations`: FastAPI resolves the route signatures, which use the local `Caller`
# alias, at runtime.

from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from ting.asr.v1 import asr_service_pb2 as asr_pb
from ting.audio.v1 import audio_pb2
from ting.gateway.v1 import pipeline_service_pb2 as pb
from ting_common.errors import InvalidArgumentError, OutOfRangeError
from ting_common.formats import format_transcript
from ting_common.log import request_id_var
from ting_common.transcript_proto import transcript_from_proto
from ting_gateway.http.common import HttpContext, read_upload
from ting_gateway.http.languages import language_name
from ting_gateway.http.rest import Bearer

RESPONSE_FORMATS: Final = ("json", "text", "srt", "vtt", "verbose_json", "diarized_json")
DEFAULT_MODEL_ALIASES: Final = frozenset({"", "whisper-1"})
_SEEK_FRAMES_PER_S: Final = 100  # Whisper's mel frames per second; `seek` counts them at the window start
_WINDOW_FRAMES: Final = 3000  # one 30 s window


def _ms(value: int) -> float:
    return round(value / 1000, 3)


def verbose_json(
    response: pb.ProcessResponse, task: str, granularities: list[str], language_override: str = ""
) -> dict[str, Any]:
    """OpenAI's ``verbose_json`` for a recognition result."""
    transcript = response.result.transcript
    duration_ms = transcript.duration_ms or response.audio_duration_ms
    body: dict[str, Any] = {
        "task": task,
        "language": language_name(language_override or transcript.language_code),
        "duration": _ms(duration_ms),
        "text": transcript.text or "".join(s.text for s in transcript.segments).strip(),
    }
    if not granularities or "segment" in granularities:
        body["segments"] = [
            {
                "id": segment.id,
                "seek": int(segment.start_ms / 1000 * _SEEK_FRAMES_PER_S) // _WINDOW_FRAMES * _WINDOW_FRAMES,
                "start": _ms(segment.start_ms),
                "end": _ms(segment.end_ms),
                "text": segment.text,
                "tokens": [],
                "temperature": round(segment.temperature, 3),
                "avg_logprob": round(segment.avg_logprob, 6),
                "compression_ratio": round(segment.compression_ratio, 6),
                "no_speech_prob": round(segment.no_speech_prob, 6),
            }
            for segment in transcript.segments
        ]
    if "word" in granularities:
        body["words"] = [
            {"word": word.word, "start": _ms(word.start_ms), "end": _ms(word.end_ms)}
            for segment in transcript.segments
            for word in segment.words
        ]
    return body


def diarized_json(response: pb.ProcessResponse, task: str) -> dict[str, Any]:
    """OpenAI's ``diarized_json``: segments with their speaker."""
    transcript = response.result.transcript
    return {
        "task": task,
        "duration": _ms(transcript.duration_ms or response.audio_duration_ms),
        "text": transcript.text or "".join(s.text for s in transcript.segments).strip(),
        "segments": [
            {
                "type": "transcript.text.segment",
                "id": f"seg_{segment.id:03d}",
                "start": _ms(segment.start_ms),
                "end": _ms(segment.end_ms),
                "text": segment.text.strip(),
                "speaker": segment.speaker,
            }
            for segment in transcript.segments
        ],
    }


def openai_router(ctx: HttpContext) -> APIRouter:
    """The OpenAI-compatible routes under ``/v1``."""
    router = APIRouter(prefix="/v1", tags=["openai"])

    def caller(request: Request, _: Bearer) -> str:
        return ctx.caller(request)

    Caller = Annotated[str, Depends(caller)]

    async def recognize(
        caller_id: str,
        task: int,
        file: UploadFile,
        model: str,
        language: str,
        prompt: str,
        response_format: str,
        temperature: float | None,
        granularities: list[str],
        speakers: tuple[int, int, int] = (0, 0, 0),
    ) -> Response:
        fmt = (response_format or "json").strip().lower()
        if fmt not in RESPONSE_FORMATS:
            raise InvalidArgumentError(f"response_format must be one of {', '.join(RESPONSE_FORMATS)}, got '{fmt}'")
        wanted = [g.strip().lower() for g in granularities if g.strip()]
        for granularity in wanted:
            if granularity not in ("segment", "word"):
                raise InvalidArgumentError(f"timestamp_granularities: '{granularity}' is not segment or word")
        if temperature is not None and not 0.0 <= temperature <= 1.0:
            raise OutOfRangeError(f"temperature must be between 0 and 1, got {temperature}")
        recognition = asr_pb.RecognitionConfig(
            model="" if model.strip() in DEFAULT_MODEL_ALIASES else model.strip(),
            language_code=language.strip(),
            task=task,  # type: ignore[arg-type]
            initial_prompt=prompt,
            enable_word_time_offsets=fmt == "verbose_json" and "word" in wanted,
        )
        if temperature is not None:
            recognition.temperature = temperature
        if fmt == "diarized_json":
            recognition.enable_word_time_offsets = True  # word times place speaker changes better
            recognition.diarization.CopyFrom(
                asr_pb.DiarizationConfig(
                    enable_speaker_diarization=True,
                    speaker_count=speakers[0],
                    min_speaker_count=speakers[1],
                    max_speaker_count=speakers[2],
                )
            )
        config = pb.PipelineConfig(recognition=recognition)
        data = await read_upload(ctx, file)
        with ctx.auth.slot(caller_id):
            response = await ctx.gateway.process(config, audio_pb2.AudioSource(content=data), request_id_var.get())
        transcript = response.result.transcript
        text = transcript.text or "".join(s.text for s in transcript.segments).strip()
        task_name = "translate" if task == asr_pb.TASK_TRANSLATE else "transcribe"
        if fmt == "json":
            return JSONResponse({"text": text})
        if fmt == "text":
            return PlainTextResponse(text + "\n")
        if fmt in ("srt", "vtt"):
            rendered = format_transcript(
                transcript_from_proto(transcript, task=task_name), fmt, max_line_width=10_000, max_lines=1
            )
            return PlainTextResponse(rendered)
        if fmt == "diarized_json":
            return JSONResponse(diarized_json(response, task_name))
        override = "en" if task == asr_pb.TASK_TRANSLATE else ""
        return JSONResponse(verbose_json(response, task_name, wanted, override))

    form_docs: Final = {
        "file": "The audio file (flac, mp3, mp4, mpeg, mpga, m4a, ogg, wav or webm).",
        "model": "`whisper-1` (or empty): the default ASR model; any other name is an ASR model name.",
        "language": "The spoken language (ISO 639-1); empty: detect.",
        "prompt": "Text to guide the style or continue a previous segment (Whisper's initial prompt).",
        "response_format": "json (default), text, srt, verbose_json, vtt or diarized_json (speaker labels).",
        "temperature": "Sampling temperature, 0..1; empty: the engine's default fallback schedule.",
        "timestamp_granularities": "`segment` and/or `word` (verbose_json only).",
    }

    @router.post("/audio/transcriptions", summary="Transcribe audio (OpenAI-compatible)")
    async def transcriptions(
        caller_id: Caller,
        file: Annotated[UploadFile, File(description=form_docs["file"])],
        model: Annotated[str, Form(description=form_docs["model"])] = "",
        language: Annotated[str, Form(description=form_docs["language"])] = "",
        prompt: Annotated[str, Form(description=form_docs["prompt"])] = "",
        response_format: Annotated[str, Form(description=form_docs["response_format"])] = "json",
        temperature: Annotated[float | None, Form(description=form_docs["temperature"])] = None,
        timestamp_granularities: Annotated[
            list[str] | None, Form(alias="timestamp_granularities[]", description=form_docs["timestamp_granularities"])
        ] = None,
        stream: Annotated[bool, Form(description="Streaming is not supported yet: `true` is a 400.")] = False,
        speaker_count: Annotated[int, Form(description="diarized_json: the number of speakers when known.")] = 0,
        min_speakers: Annotated[int, Form(description="diarized_json: at least this many speakers.")] = 0,
        max_speakers: Annotated[int, Form(description="diarized_json: at most this many speakers.")] = 0,
    ) -> Response:
        """Like OpenAI's ``POST /v1/audio/transcriptions``."""
        if stream:
            raise InvalidArgumentError("stream=true is not supported yet; use a job (POST /v1/jobs) for progress")
        return await recognize(
            caller_id,
            asr_pb.TASK_TRANSCRIBE,
            file,
            model,
            language,
            prompt,
            response_format,
            temperature,
            timestamp_granularities or [],
            (speaker_count, min_speakers, max_speakers),
        )

    @router.post("/audio/translations", summary="Translate audio into English (OpenAI-compatible)")
    async def translations(
        caller_id: Caller,
        file: Annotated[UploadFile, File(description=form_docs["file"])],
        model: Annotated[str, Form(description=form_docs["model"])] = "",
        prompt: Annotated[str, Form(description=form_docs["prompt"])] = "",
        response_format: Annotated[str, Form(description=form_docs["response_format"])] = "json",
        temperature: Annotated[float | None, Form(description=form_docs["temperature"])] = None,
    ) -> Response:
        """Like OpenAI's ``POST /v1/audio/translations``: English text from speech in any language."""
        return await recognize(
            caller_id, asr_pb.TASK_TRANSLATE, file, model, "", prompt, response_format, temperature, []
        )

    @router.get("/models", summary="List the ASR models (OpenAI-compatible)")
    async def models(_: Caller) -> dict[str, Any]:
        """``{"object": "list", "data": [{"id", "object": "model", "created", "owned_by"}]}``: ``whisper-1`` (the
        default model's alias) and every model the ASR service lists."""
        listed = await ctx.gateway.downstream.call(
            "asr", "ListModels", ctx.gateway.downstream.asr.ListModels, asr_pb.ListModelsRequest(), deadline_s=10
        )
        data: list[dict[str, Any]] = [{"id": "whisper-1", "object": "model", "created": 0, "owned_by": "ting"}]
        for info in listed.models:
            data.append({"id": info.name, "object": "model", "created": 0, "owned_by": info.engine or "ting"})
        return {"object": "list", "data": data}

    return router
