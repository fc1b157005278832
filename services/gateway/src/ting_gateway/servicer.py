"""``ting.gateway.v1.PipelineService``: protocol only - auth, proto in and out; the work is in :mod:`.service`
(and, for ``StreamProcess``, in :mod:`.live`, shared with the WebSocket)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import grpc

from ting.asr.v1 import asr_service_pb2 as asr_pb
from ting.audio.v1 import audio_pb2
from ting.gateway.v1 import pipeline_service_pb2 as pb
from ting.gateway.v1 import pipeline_service_pb2_grpc as pb_grpc
from ting_common.errors import DeadlineExceededError, InvalidArgumentError
from ting_common.log import request_id_var
from ting_gateway.auth import Auth
from ting_gateway.live import LiveService, parse_start
from ting_gateway.service import Gateway


def _authorization(context: grpc.aio.ServicerContext) -> str | None:  # type: ignore[type-arg]
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            return value if isinstance(value, str) else value.decode()
    return None


class PipelineServicer(pb_grpc.PipelineServiceServicer):
    """Implements the PipelineService RPCs over a :class:`Gateway`."""

    def __init__(self, gateway: Gateway, auth: Auth, live: LiveService | None = None) -> None:
        self.gateway = gateway
        self.auth = auth
        self.live = live or LiveService(gateway)

    def _caller(self, context: grpc.aio.ServicerContext) -> str:  # type: ignore[type-arg]
        return self.auth.caller(_authorization(context))

    async def Process(
        self,
        request: pb.ProcessRequest,
        context: grpc.aio.ServicerContext,  # type: ignore[type-arg]
    ) -> pb.ProcessResponse:
        caller = self._caller(context)
        with self.auth.slot(caller):
            return await self.gateway.process(request.config, request.audio, request_id_var.get())

    async def CreateJob(
        self,
        request: pb.CreateJobRequest,
        context: grpc.aio.ServicerContext,  # type: ignore[type-arg]
    ) -> pb.CreateJobResponse:
        self._caller(context)
        return pb.CreateJobResponse(job=await self.gateway.create_job(request))

    async def GetJob(
        self,
        request: pb.GetJobRequest,
        context: grpc.aio.ServicerContext,  # type: ignore[type-arg]
    ) -> pb.GetJobResponse:
        self._caller(context)
        if not request.job_id:
            raise InvalidArgumentError("job_id is required")
        return pb.GetJobResponse(job=await self.gateway.get_job(request.job_id, request.view))

    async def ListJobs(
        self,
        request: pb.ListJobsRequest,
        context: grpc.aio.ServicerContext,  # type: ignore[type-arg]
    ) -> pb.ListJobsResponse:
        self._caller(context)
        return await self.gateway.list_jobs(request)

    async def CancelJob(
        self,
        request: pb.CancelJobRequest,
        context: grpc.aio.ServicerContext,  # type: ignore[type-arg]
    ) -> pb.CancelJobResponse:
        self._caller(context)
        if not request.job_id:
            raise InvalidArgumentError("job_id is required")
        return pb.CancelJobResponse(job=await self.gateway.cancel_job(request.job_id))

    async def WatchJob(
        self,
        request: pb.WatchJobRequest,
        context: grpc.aio.ServicerContext,  # type: ignore[type-arg]
    ) -> AsyncIterator[pb.WatchJobResponse]:
        self._caller(context)
        if not request.job_id:
            raise InvalidArgumentError("job_id is required")
        async for event in self.gateway.watch_job(request.job_id):
            yield pb.WatchJobResponse(event=event)

    async def RenameSpeakers(
        self,
        request: pb.RenameSpeakersRequest,
        context: grpc.aio.ServicerContext,  # type: ignore[type-arg]
    ) -> pb.RenameSpeakersResponse:
        self._caller(context)
        if not request.job_id:
            raise InvalidArgumentError("job_id is required")
        job = await self.gateway.rename_speakers(request.job_id, dict(request.speaker_names))
        return pb.RenameSpeakersResponse(job=job)

    async def StreamProcess(
        self,
        request_iterator: AsyncIterator[pb.StreamProcessRequest],
        context: grpc.aio.ServicerContext,  # type: ignore[type-arg]
    ) -> AsyncIterator[pb.StreamProcessResponse]:
        self._caller(context)
        with self.live.slot():
            requests = aiter(request_iterator)
            idle = self.live.settings.idle_timeout_s
            try:
                first = await asyncio.wait_for(anext(requests, None), idle)
            except TimeoutError:
                raise DeadlineExceededError(f"no config within {idle:g} s of the call's start") from None
            if first is None:
                return
            if not first.HasField("config"):
                raise InvalidArgumentError("the first StreamProcessRequest must carry config, not audio")
            session = self.live.session(parse_start(start_message(first.config)), request_id_var.get())
            async with contextlib.aclosing(session.events(_audio(requests))) as events:
                async for event in events:
                    yield live_response(event)


async def _audio(requests: AsyncIterator[pb.StreamProcessRequest]) -> AsyncIterator[bytes]:
    """The audio chunks after the config, until the client half-closes."""
    async for request in requests:
        if request.HasField("config"):
            raise InvalidArgumentError("config may only be sent once, in the first message")
        yield request.audio_content


def start_message(config: pb.StreamProcessConfig) -> dict[str, Any]:
    """``config`` as the WebSocket's start message, so both transports share one validation."""
    fmt = config.audio_format
    encoding = audio_pb2.AudioEncoding.Name(fmt.encoding).removeprefix("AUDIO_ENCODING_").lower()
    message: dict[str, Any] = {
        "type": "start",
        "encoding": "linear16" if encoding == "unspecified" else encoding,
        "sample_rate": fmt.sample_rate_hertz or 16_000,
        "channels": fmt.channel_count or 1,
        "language": config.language_code,
        "task": "translate" if config.task == asr_pb.TASK_TRANSLATE else "transcribe",
        "model": config.model,
        "interim_results": config.interim_results,
        "translate": list(config.translate_language_codes),
        "summarize": config.summarize,
        "save": config.save if config.HasField("save") else True,
        "title": config.title,
    }
    if config.silence_ms:
        message["silence_s"] = config.silence_ms / 1000
    if config.max_utterance_ms:
        message["max_utterance_s"] = config.max_utterance_ms / 1000
    if config.vad_threshold:
        message["vad_threshold"] = config.vad_threshold
    return message


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def live_response(event: dict[str, Any]) -> pb.StreamProcessResponse:
    """One event of :meth:`LiveSession.events` as a ``StreamProcessResponse``."""
    kind = event["type"]
    if kind == "ready":
        return pb.StreamProcessResponse(
            ready=pb.LiveReady(
                session_id=event["session_id"],
                request_id=event["request_id"],
                idle_timeout_ms=_ms(event["idle_timeout_s"]),
                max_duration_ms=_ms(event["max_duration_s"]),
            )
        )
    if kind == "speech_start":
        return pb.StreamProcessResponse(speech_start=pb.LiveSpeechActivity(offset_ms=_ms(event["offset_s"])))
    if kind == "speech_end":
        return pb.StreamProcessResponse(speech_end=pb.LiveSpeechActivity(offset_ms=_ms(event["offset_s"])))
    if kind == "partial":
        return pb.StreamProcessResponse(
            partial=pb.LivePartial(
                utterance=event["utterance"],
                text=event["text"],
                stable_text=event["stable_text"],
                stability=event["stability"],
                start_ms=_ms(event["start_s"]),
                end_ms=_ms(event["end_s"]),
            )
        )
    if kind == "final":
        words = [
            audio_pb2.Word(
                word=w["word"], start_ms=_ms(w["start_s"]), end_ms=_ms(w["end_s"]), probability=w["probability"]
            )
            for w in event["words"]
        ]
        return pb.StreamProcessResponse(
            final=pb.LiveFinal(
                utterance=event["utterance"],
                text=event["text"],
                start_ms=_ms(event["start_s"]),
                end_ms=_ms(event["end_s"]),
                language_code=event["language"],
                words=words,
            )
        )
    if kind == "translation":
        return pb.StreamProcessResponse(
            translation=pb.LiveTranslation(
                utterance=event["utterance"],
                language_code=event["language"],
                text=event["text"],
                same_language=event.get("same_language", False),
            )
        )
    if kind == "error":
        return pb.StreamProcessResponse(
            error=pb.LiveError(
                code=event["code"],
                http_status=event["http_status"],
                message=event["message"],
                utterance=event.get("utterance", 0),
                language_code=event.get("language", ""),
            )
        )
    if kind == "done":
        state = event.get("job_state")
        return pb.StreamProcessResponse(
            done=pb.LiveDone(
                job_id=event["job_id"] or "",
                duration_ms=_ms(event["duration_s"]),
                utterances=event["utterances"],
                reason=event["reason"],
                job_state=f"JOB_STATE_{state}" if state else pb.JOB_STATE_UNSPECIFIED,
            )
        )
    raise ValueError(f"unknown live event {kind!r}")
