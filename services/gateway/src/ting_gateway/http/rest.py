"""The REST API under ``/v1``: uploads, jobs (create, list, get, cancel, events, artifacts, stems, share),
signed links, and synchronous processing. Every body is proto3 JSON of the messages in
``ting/gateway/v1/pipeline_service.proto`` (camelCase names, enums by name, int64 as strings), except where a
route says otherwise.

Auth: ``Authorization: Bearer <key>`` when the gateway has API keys (``TING_GATEWAY_API_KEYS``). Routes opened by
a signed link (``/v1/files/...``, ``/v1/shared/{id}``, and ``/v1/jobs/{id}/events`` or ``/v1/jobs/{id}/audio`` with
``expires`` and ``sig``) need no key: the signature is the permission, for one object or job until it expires.

Speakers: the multipart fields ``diarize``, ``speakers``, ``min_speakers`` and ``max_speakers`` of ``POST /v1/jobs``
and ``POST /v1/process`` turn on speaker diarization (``config.recognition.diarization``, with word times);
``PUT /v1/jobs/{id}/speakers`` names a finished job's speakers.
"""

# No `from __future__ import annotations`: FastAPI resolves the route signatures, which use the local `Caller`
# alias, at runtime.

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, Final
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, File, Form, Query, Request, Security, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.datastructures import UploadFile as StarletteUpload

from ting.audio.v1 import audio_pb2
from ting.gateway.v1 import pipeline_service_pb2 as pb
from ting_common.errors import InvalidArgumentError, NotFoundError, PermissionDeniedError, TingError
from ting_common.log import request_id_var
from ting_gateway.http.common import (
    HttpContext,
    PipelineForm,
    enum_value,
    new_id,
    parse_bool,
    parse_json_message,
    parse_labels,
    read_upload,
    safe_filename,
    store_upload,
    to_json,
)
from ting_gateway.http.sse import job_events_response
from ting_gateway.pipeline import STEM_NAMES, validate_config
from ting_gateway.service import check_job_request
from ting_gateway.storage import StoredObject
from ting_gateway.storage.links import link_query, verify

logger = logging.getLogger(__name__)

bearer = HTTPBearer(auto_error=False, description="An API key of the gateway (`TING_GATEWAY_API_KEYS`).")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]
"""Declares the bearer scheme in OpenAPI; the raw header is checked by :meth:`HttpContext.caller`."""

TEXT_FORMATS: Final = frozenset(
    {
        pb.TRANSCRIPT_FORMAT_TXT,
        pb.TRANSCRIPT_FORMAT_JSON,
        pb.TRANSCRIPT_FORMAT_SRT,
        pb.TRANSCRIPT_FORMAT_VTT,
        pb.TRANSCRIPT_FORMAT_TSV,
    }
)
_FIELD_DOCS: Final = {
    "file": "The recording (audio or video; see the 415 rule in the API description).",
    "config": "A `PipelineConfig` as proto3 JSON; the convenience fields below are applied on top of it.",
    "language": "Spoken language (ISO 639-1, e.g. `es`); empty: detect.",
    "model": "ASR model name; empty: the ASR service's default.",
    "translate": "Target languages: repeat the field or send a comma list (`en,de`).",
    "summarize": "`true` to summarize the transcript.",
    "separate": "`true` to separate stems (vocals, accompaniment).",
    "formats": "Comma list of output formats (srt, vtt, txt, json, tsv); default `srt,vtt,txt,json`.",
    "diarize": "`true` to label speakers (S1, S2, ... in order of appearance); turns on word times too.",
    "speakers": "The exact number of speakers when known (1..20); implies `diarize`.",
    "min_speakers": "At least this many speakers (1..20); implies `diarize`.",
    "max_speakers": "At most this many speakers (1..20); implies `diarize`.",
}
MAX_SPEAKERS: Final = 20
"""The largest speaker count a form field may ask for (the ASR service's bound)."""
_JOB_FORM_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": _FIELD_DOCS["file"]},
        "config": {"type": "string", "description": _FIELD_DOCS["config"]},
        "language": {"type": "string", "description": _FIELD_DOCS["language"]},
        "model": {"type": "string", "description": _FIELD_DOCS["model"]},
        "translate": {"type": "array", "items": {"type": "string"}, "description": _FIELD_DOCS["translate"]},
        "summarize": {"type": "boolean", "description": _FIELD_DOCS["summarize"]},
        "separate": {"type": "boolean", "description": _FIELD_DOCS["separate"]},
        "formats": {"type": "string", "description": _FIELD_DOCS["formats"]},
        "diarize": {"type": "boolean", "description": _FIELD_DOCS["diarize"]},
        "speakers": {"type": "integer", "description": _FIELD_DOCS["speakers"]},
        "min_speakers": {"type": "integer", "description": _FIELD_DOCS["min_speakers"]},
        "max_speakers": {"type": "integer", "description": _FIELD_DOCS["max_speakers"]},
        "display_name": {"type": "string", "description": "A name for the job (at most 256 characters)."},
        "request_id": {"type": "string", "description": "Idempotency key (at most 128 characters)."},
        "labels": {"type": "string", "description": 'Labels as a JSON object: `{"team": "news"}`.'},
        "callback_url": {"type": "string", "description": "Where the final JobEvent is POSTed."},
    },
}
_JOB_JSON_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "description": "A `CreateJobRequest` as proto3 JSON; the audio is already in storage (`POST /v1/uploads`).",
    "required": ["audio"],
    "properties": {
        "audio": {"type": "object", "properties": {"uri": {"type": "string"}}},
        "config": {"type": "object", "description": "A `PipelineConfig` (proto3 JSON)."},
        "displayName": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "requestId": {"type": "string"},
        "callbackUrl": {"type": "string"},
    },
    "example": {
        "audio": {"uri": "file:///srv/ting/uploads/3f.../talk.wav"},
        "config": {
            "translation": {"targetLanguageCodes": ["en"]},
            "summary": {},
            "output": {"formats": ["TRANSCRIPT_FORMAT_SRT"]},
        },
    },
}


def content_disposition(kind: str, filename: str) -> str:
    """A ``Content-Disposition`` value with an ASCII fallback and the UTF-8 name (RFC 6266)."""
    ascii_name = safe_filename(filename)
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def iso(dt: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` (as proto3 JSON writes timestamps)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SpeakerNames(BaseModel):
    """The body of `PUT /v1/jobs/{id}/speakers`."""

    speaker_names: dict[str, str]


def speaker_count(value: str | None, field: str) -> int:
    """A speaker-count form field: empty or 0 is unset, else a whole number 1..MAX_SPEAKERS."""
    text = (value or "").strip()
    if not text:
        return 0
    try:
        count = int(text)
    except ValueError:
        raise InvalidArgumentError(f"{field}: '{value}' is not a whole number") from None
    if not 0 <= count <= MAX_SPEAKERS:
        raise InvalidArgumentError(f"{field}: must be 1..{MAX_SPEAKERS}, got {count}")
    return count


def apply_speaker_fields(
    config: pb.PipelineConfig,
    diarize: str | None,
    speakers: str | None = None,
    min_speakers: str | None = None,
    max_speakers: str | None = None,
) -> None:
    """The speaker form fields on top of ``config``: ``diarize`` (or any count) turns diarization on with the
    counts given; fields left out keep what ``config`` says. Diarization turns word times on (speaker changes
    land between words, not within a segment's span)."""
    exact = speaker_count(speakers, "speakers")
    low = speaker_count(min_speakers, "min_speakers")
    high = speaker_count(max_speakers, "max_speakers")
    if low and high and low > high:
        raise InvalidArgumentError(f"min_speakers ({low}) is larger than max_speakers ({high})")
    if exact and not (low or 1) <= exact <= (high or MAX_SPEAKERS):
        raise InvalidArgumentError(f"speakers ({exact}) lies outside min_speakers..max_speakers")
    diarization = config.recognition.diarization
    if parse_bool(diarize, "diarize") or exact or low or high:
        diarization.enable_speaker_diarization = True
    if exact:
        diarization.speaker_count = exact
    if low:
        diarization.min_speaker_count = low
    if high:
        diarization.max_speaker_count = high
    if diarization.enable_speaker_diarization:
        config.recognition.enable_word_time_offsets = True


def check_link(ctx: HttpContext, key: str, expires: str | None, sig: str | None) -> None:
    """Accept a signed link to ``key`` or raise PERMISSION_DENIED (bad signature, expired, missing)."""
    if not expires or not sig:
        raise PermissionDeniedError("this link needs its 'expires' and 'sig' parameters")
    try:
        expires_at = int(expires)
    except ValueError:
        raise PermissionDeniedError("bad signature") from None
    verify(key, expires_at, sig, ctx.settings.link_secret.encode())


def share_key(job_id: str) -> str:
    """What a share link to a job signs."""
    return f"share/{job_id}"


def process_json(response: pb.ProcessResponse) -> dict[str, Any]:
    """A ProcessResponse as JSON where each artifact carries its ``text`` instead of base64 ``content``."""
    body = to_json(response)
    artifacts = body.get("result", {}).get("artifacts", [])
    for entry, artifact in zip(artifacts, response.result.artifacts, strict=True):
        entry.pop("content", None)
        if artifact.format in TEXT_FORMATS:
            entry["text"] = artifact.content.decode("utf-8", "replace")
    return body


def public_job(job: pb.Job) -> dict[str, Any]:
    """A job as a share link shows it: results and download links, no storage locations or callback."""
    shown = pb.Job()
    shown.CopyFrom(job)
    for name in ("input_uri", "output_uri_prefix", "callback_url", "request_id"):
        shown.ClearField(name)
    for artifact in shown.result.artifacts:
        artifact.ClearField("location")
    for stem in shown.result.stems:
        stem.ClearField("uri")
    return to_json(shown)


async def stream_object(
    ctx: HttpContext, uri: str, filename: str, content_type: str = "", *, disposition: str = "attachment"
) -> StreamingResponse:
    """A stored object as a streaming download (NOT_FOUND before any byte when it is missing)."""
    storage = ctx.gateway.storage
    stored: StoredObject = await asyncio.to_thread(storage.stat, uri)
    chunks: Iterator[bytes] = await asyncio.to_thread(storage.iter_chunks, uri, 256 * 1024)
    return StreamingResponse(
        chunks,
        media_type=content_type or stored.content_type or "application/octet-stream",
        headers={
            "Content-Disposition": content_disposition(disposition, filename),
            "Content-Length": str(stored.size_bytes),
            "Cache-Control": "private, max-age=300",
        },
    )


def rest_router(ctx: HttpContext) -> APIRouter:
    """The ``/v1`` REST routes (the OpenAI-compatible ones live in :mod:`.openai_api`)."""
    router = APIRouter(prefix="/v1")
    gateway = ctx.gateway
    settings = ctx.settings

    def caller(request: Request, _: Bearer) -> str:
        return ctx.caller(request)

    Caller = Annotated[str, Depends(caller)]

    # -- uploads ----------------------------------------------------------------------------------------------

    @router.post("/uploads", status_code=201, tags=["uploads"], summary="Store a file for later jobs")
    async def upload(_: Caller, file: Annotated[UploadFile, File(description=_FIELD_DOCS["file"])]) -> dict[str, Any]:
        """Streams the file to storage at ``uploads/<uuid>/<safe file name>`` and returns
        ``{"uri", "size_bytes", "content_type"}``; pass ``uri`` as ``audio.uri`` to ``POST /v1/jobs`` (JSON)."""
        key = f"uploads/{new_id()}/{safe_filename(file.filename)}"
        stored = await store_upload(ctx, file, key)
        return {"uri": stored.uri, "size_bytes": stored.size_bytes, "content_type": stored.content_type}

    # -- jobs -------------------------------------------------------------------------------------------------

    @router.post(
        "/jobs",
        status_code=201,
        tags=["jobs"],
        summary="Create a job (upload a file, or name one already in storage)",
        response_description="The job (QUEUED), proto3 JSON.",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {"schema": _JOB_FORM_SCHEMA},
                    "application/json": {"schema": _JOB_JSON_SCHEMA},
                },
            }
        },
    )
    async def create_job(request: Request, _: Caller) -> JSONResponse:
        """Multipart: the ``file`` is streamed to storage at ``jobs/<id>/input`` and the job queued, with the
        pipeline from ``config`` and/or the convenience fields (``language``, ``translate``, ``summarize``,
        ``separate``, ``formats``...). JSON: a ``CreateJobRequest`` whose ``audio.uri`` is in storage."""
        media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media == "application/json":
            return JSONResponse(to_json(await _create_from_json(request)), status_code=201)
        if media != "multipart/form-data":
            raise InvalidArgumentError("send multipart/form-data (a file) or application/json (audio.uri)")
        async with request.form(max_files=1, max_fields=200) as form:
            file = form.get("file")
            if not isinstance(file, StarletteUpload):
                raise InvalidArgumentError("file: a file part is required")

            def text(name: str) -> str | None:
                value = form.get(name)
                return value if isinstance(value, str) else None

            pipeline = PipelineForm(
                config=text("config"),
                language=text("language"),
                model=text("model"),
                translate=[v for v in form.getlist("translate") if isinstance(v, str)],
                summarize=text("summarize"),
                separate=text("separate"),
                formats=text("formats"),
            )
            job_config = pipeline.pipeline_config()
            apply_speaker_fields(
                job_config, text("diarize"), text("speakers"), text("min_speakers"), text("max_speakers")
            )
            job_request = pb.CreateJobRequest(
                config=job_config,
                request_id=text("request_id") or "",
                display_name=text("display_name") or file.filename or "",
                labels=parse_labels(text("labels")),
                callback_url=text("callback_url") or "",
            )
            check_job_request(job_request)
            job_id = new_id()
            prefix = f"jobs/{job_id}/"
            stored = await store_upload(ctx, file, f"{prefix}input")
        job_request.audio.uri = stored.uri
        try:
            job = await gateway.enqueue(job_request, job_id, stored.uri, prefix)
        except BaseException:
            with contextlib.suppress(TingError):
                await asyncio.to_thread(gateway.storage.delete_prefix, prefix)
            raise
        if job.id != job_id:  # a repeated request_id: the first job stands, this copy goes
            with contextlib.suppress(TingError):
                await asyncio.to_thread(gateway.storage.delete_prefix, prefix)
        return JSONResponse(to_json(job), status_code=201)

    async def _create_from_json(request: Request) -> pb.Job:
        try:
            data = await request.json()
        except ValueError:
            raise InvalidArgumentError("the body is not valid JSON") from None
        job_request = pb.CreateJobRequest()
        parse_json_message(data, job_request, "body")
        if job_request.audio.WhichOneof("source") is None:
            raise InvalidArgumentError("audio.uri is required (upload with POST /v1/uploads first)")
        return await gateway.create_job(job_request)

    @router.get("/jobs", tags=["jobs"], summary="List jobs", response_description="A ListJobsResponse.")
    async def list_jobs(
        _: Caller,
        state: Annotated[list[str], Query(description="Job states to include (repeat): QUEUED, SUCCEEDED...")] = [],  # noqa: B006
        label: Annotated[list[str], Query(description="`key=value` (or `key`: any value); repeat for AND")] = [],  # noqa: B006
        page_size: Annotated[int, Query(ge=0, le=1000, description="1..1000; 0: 50")] = 0,
        page_token: Annotated[str, Query(description="`nextPageToken` of the previous page")] = "",
        order_by: Annotated[str, Query(description="CREATE_TIME_DESC (default), CREATE_TIME_ASC, ...")] = "",
        view: Annotated[str, Query(description="BASIC (default) or FULL")] = "",
    ) -> dict[str, Any]:
        """A page of jobs, newest first by default; BASIC view (no config, no result) unless ``view=FULL``."""
        request = pb.ListJobsRequest(page_size=page_size, page_token=page_token)
        for name in state:
            for part in name.split(","):
                if part.strip():
                    request.filter.states.append(enum_value(pb.JobState, "JOB_STATE_", part, "state"))  # type: ignore[arg-type]
        for item in label:
            key, _, value = item.partition("=")
            request.filter.labels[key.strip()] = value.strip()
        if order_by:
            request.order_by = enum_value(pb.JobOrderBy, "JOB_ORDER_BY_", order_by, "order_by")  # type: ignore[assignment]
        if view:
            request.view = enum_value(pb.JobView, "JOB_VIEW_", view, "view")  # type: ignore[assignment]
        return to_json(await gateway.list_jobs(request))

    @router.get("/jobs/{job_id}", tags=["jobs"], summary="Get a job", response_description="The Job.")
    async def get_job(
        _: Caller, job_id: str, view: Annotated[str, Query(description="FULL (default) or BASIC")] = ""
    ) -> dict[str, Any]:
        """The job with fresh download links (``result.artifacts[].url``)."""
        wanted = enum_value(pb.JobView, "JOB_VIEW_", view, "view") if view else pb.JOB_VIEW_FULL
        return to_json(await gateway.get_job(job_id, wanted))

    @router.post("/jobs/{job_id}/cancel", tags=["jobs"], summary="Cancel a job", response_description="The Job.")
    async def cancel_job(_: Caller, job_id: str) -> dict[str, Any]:
        """QUEUED -> CANCELLED at once; RUNNING -> CANCELLING until its step stops; a final job is unchanged."""
        return to_json(await gateway.cancel_job(job_id))

    @router.put(
        "/jobs/{job_id}/speakers", tags=["jobs"], summary="Name a job's speakers", response_description="The Job."
    )
    async def rename_speakers(_: Caller, job_id: str, body: SpeakerNames) -> dict[str, Any]:
        """Merge `{"speaker_names": {"S1": "Alice"}}` into the job's names (an empty name removes one) and render
        its subtitles, text and JSON again with them. 409 while the job is still running."""
        return to_json(await gateway.rename_speakers(job_id, body.speaker_names))

    @router.get(
        "/jobs/{job_id}/events",
        tags=["jobs"],
        summary="Watch a job (Server-Sent Events)",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": "`event: job` messages."}},
    )
    async def job_events(
        request: Request,
        job_id: str,
        expires: Annotated[str | None, Query(description="Of a share link: opens the stream without a key")] = None,
        sig: Annotated[str | None, Query(description="Of a share link")] = None,
        _: Bearer = None,
    ) -> StreamingResponse:
        """``event: job`` / ``data: <JobEvent JSON>`` per change, ending after the final event (which carries the
        whole job). A browser's EventSource cannot send a key: it may pass a share link's ``expires`` and
        ``sig`` instead (``GET /v1/jobs/{id}/share``)."""
        if expires or sig:
            check_link(ctx, share_key(job_id), expires, sig)
        else:
            ctx.caller(request)
        return await job_events_response(gateway.watch_job(job_id))

    @router.get(
        "/jobs/{job_id}/audio",
        tags=["jobs"],
        summary="Download a job's recording",
        response_class=StreamingResponse,
        responses={200: {"content": {"audio/*": {}, "video/*": {}}, "description": "The stored input."}},
    )
    async def job_audio(
        request: Request,
        job_id: str,
        expires: Annotated[str | None, Query(description="Of a share link: opens the recording without a key")] = None,
        sig: Annotated[str | None, Query(description="Of a share link")] = None,
        _: Bearer = None,
    ) -> StreamingResponse:
        """The job's input as it was stored (the web page draws its waveform under the speaker timeline); with a
        share link's ``expires`` and ``sig`` instead of a key, like ``/v1/jobs/{id}/events``. 404 once the
        input is gone (retention)."""
        if expires or sig:
            check_link(ctx, share_key(job_id), expires, sig)
        else:
            ctx.caller(request)
        job = await gateway.get_job(job_id, pb.JOB_VIEW_BASIC)
        if not job.input_uri:
            raise NotFoundError(f"job '{job_id}' has no stored recording")
        name = job.display_name or "input"
        return await stream_object(ctx, job.input_uri, name, disposition="inline")

    async def _artifact(job_id: str, filename: str) -> pb.Artifact:
        job = await gateway.get_job(job_id)
        for artifact in job.result.artifacts:
            if artifact.filename == filename and artifact.uri:
                return artifact
        names = ", ".join(a.filename for a in job.result.artifacts) or "none yet"
        raise NotFoundError(f"job '{job_id}' has no artifact '{filename}' (it has: {names})")

    @router.get(
        "/jobs/{job_id}/artifacts/{filename}",
        tags=["jobs"],
        summary="Download an artifact",
        response_class=StreamingResponse,
    )
    async def artifact(_: Caller, job_id: str, filename: str) -> StreamingResponse:
        """The stored file (``transcript.srt``, ``translation.en.vtt``, ``summary.json``...) with its content type."""
        found = await _artifact(job_id, filename)
        return await stream_object(ctx, found.uri, found.filename, found.content_type)

    @router.get(
        "/jobs/{job_id}/stems/{name}",
        tags=["jobs"],
        summary="Download a separated stem",
        response_class=StreamingResponse,
    )
    async def stem(_: Caller, job_id: str, name: str) -> StreamingResponse:
        """A stem by name (``vocals``, ``accompaniment``...; with or without its extension)."""
        job = await gateway.get_job(job_id)
        base = name.rsplit(".", 1)[0].lower()
        for entry in job.result.stems:
            stem_name = STEM_NAMES.get(entry.stem, "")
            if stem_name == base and entry.uri:
                ext = entry.uri.rsplit(".", 1)[-1] if "." in entry.uri.rsplit("/", 1)[-1] else "wav"
                content_type = "audio/flac" if ext == "flac" else "audio/wav"
                return await stream_object(ctx, entry.uri, f"{stem_name}.{ext}", content_type)
        names = ", ".join(STEM_NAMES.get(s.stem, "?") for s in job.result.stems) or "none"
        raise NotFoundError(f"job '{job_id}' has no stem '{name}' (it has: {names})")

    @router.get("/jobs/{job_id}/share", tags=["jobs"], summary="A signed, expiring read-only link to a job")
    async def share(_: Caller, job_id: str) -> dict[str, Any]:
        """``{"url", "expire_time", "query": {"expires", "sig"}}``: ``url`` opens the web page read-only for this
        job (no key needed) until ``expire_time``; ``query`` also opens its event stream."""
        await gateway.get_job(job_id, pb.JOB_VIEW_BASIC)
        query = link_query(share_key(job_id), settings.link_expiry_s, settings.link_secret.encode())
        url = f"{settings.public_url}/s/{quote(job_id, safe='')}?{urlencode(query)}"
        expire = datetime.fromtimestamp(int(query["expires"]), UTC)
        return {"url": url, "expire_time": iso(expire), "query": query}

    @router.get("/shared/{job_id}", tags=["shared"], summary="A shared job (signed link, no key)")
    async def shared(
        job_id: str, expires: Annotated[str | None, Query()] = None, sig: Annotated[str | None, Query()] = None
    ) -> dict[str, Any]:
        """The job as the read-only page shows it (results, download links); 403 for a bad or expired link."""
        check_link(ctx, share_key(job_id), expires, sig)
        return public_job(await gateway.get_job(job_id))

    @router.get("/files/{key:path}", tags=["shared"], summary="A stored file (signed link, no key)")
    async def signed_file(
        key: str, expires: Annotated[str | None, Query()] = None, sig: Annotated[str | None, Query()] = None
    ) -> StreamingResponse:
        """What ``Artifact.url`` points at with local storage: the object at ``key`` while the link is valid
        (403 for a bad or expired signature, 404 when the object is gone)."""
        check_link(ctx, key, expires, sig)
        uri = gateway.storage.uri(key)
        return await stream_object(ctx, uri, key.rsplit("/", 1)[-1])

    # -- synchronous ------------------------------------------------------------------------------------------

    @router.post("/process", tags=["process"], summary="Run a pipeline and wait for the result")
    async def process(
        caller_id: Caller,
        file: Annotated[UploadFile, File(description=_FIELD_DOCS["file"])],
        config: Annotated[str | None, Form(description=_FIELD_DOCS["config"])] = None,
        language: Annotated[str | None, Form(description=_FIELD_DOCS["language"])] = None,
        model: Annotated[str | None, Form(description=_FIELD_DOCS["model"])] = None,
        translate: Annotated[list[str] | None, Form(description=_FIELD_DOCS["translate"])] = None,
        summarize: Annotated[str | None, Form(description=_FIELD_DOCS["summarize"])] = None,
        separate: Annotated[str | None, Form(description=_FIELD_DOCS["separate"])] = None,
        formats: Annotated[str | None, Form(description=_FIELD_DOCS["formats"])] = None,
        diarize: Annotated[str | None, Form(description=_FIELD_DOCS["diarize"])] = None,
        speakers: Annotated[str | None, Form(description=_FIELD_DOCS["speakers"])] = None,
        min_speakers: Annotated[str | None, Form(description=_FIELD_DOCS["min_speakers"])] = None,
        max_speakers: Annotated[str | None, Form(description=_FIELD_DOCS["max_speakers"])] = None,
    ) -> dict[str, Any]:
        """A ``ProcessResponse`` (proto3 JSON), except that each artifact has ``text`` (its content as UTF-8)
        instead of base64 ``content``. Short audio only (``max_sync_audio_s``); longer audio needs a job. Counts
        against the caller's concurrent-request limit (429 when reached)."""
        form = PipelineForm(config, language, model, translate, summarize, separate, formats)
        pipeline = form.pipeline_config()
        apply_speaker_fields(pipeline, diarize, speakers, min_speakers, max_speakers)
        validate_config(pipeline)
        data = await read_upload(ctx, file)
        with ctx.auth.slot(caller_id):
            response = await gateway.process(pipeline, audio_pb2.AudioSource(content=data), request_id_var.get())
        return process_json(response)

    return router
