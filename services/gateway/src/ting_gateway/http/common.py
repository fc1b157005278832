"""What the REST and OpenAI-compatible routers share: the context, auth, error bodies, uploads and form fields.

Error bodies. Every error leaves the gateway as JSON, never a traceback:

* REST (``/v1/...``): ``{"error": {"code": "<gRPC code name>", "message": "..."}}`` with the domain error's
  ``http_code`` (``ting_common.errors``).
* OpenAI-compatible (``/v1/audio/...``, ``/v1/models``): OpenAI's shape,
  ``{"error": {"message": "...", "type": "...", "param": null, "code": "..."}}``.

Uploads (the 415 rule). A file part is accepted when its content type is ``audio/*``, ``video/*`` or
``application/ogg``; or when it is ``application/octet-stream`` or missing and the file name has no extension or
a known audio/video extension (:data:`MEDIA_EXTENSIONS`). Anything else (``text/plain``, ``image/png``,
``application/pdf``, or an octet stream named ``notes.txt``) is refused with 415 before it is stored. Whether an
accepted file really is audio is decided by the decoder: unreadable audio is a 400.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any, Final

from fastapi import Request
from google.protobuf import json_format
from google.protobuf.message import Message
from starlette.datastructures import UploadFile

from ting.gateway.v1 import pipeline_service_pb2 as pb
from ting_common.errors import (
    InvalidArgumentError,
    ResourceExhaustedError,
    TingError,
    UnsupportedMediaError,
)
from ting_gateway.auth import Auth
from ting_gateway.config import GatewaySettings
from ting_gateway.render import FORMAT_BY_NAME
from ting_gateway.service import Gateway
from ting_gateway.storage import StoredObject

MEDIA_EXTENSIONS: Final = frozenset(
    {
        "wav", "wave", "mp3", "mpga", "mpeg", "flac", "ogg", "oga", "opus", "m4a", "mp4", "aac", "webm", "mkv",
        "mka", "mov", "wma", "aif", "aiff", "amr", "3gp", "caf", "au", "weba",
    }
)  # fmt: skip
"""File-name extensions accepted for an ``application/octet-stream`` (or untyped) file part."""

OCTET_TYPES: Final = frozenset({"", "application/octet-stream", "binary/octet-stream"})
DEFAULT_FORMATS: Final = "srt,vtt,txt,json"
BODY_SLACK_BYTES: Final = 64 * 1024
"""Room for the multipart framing and form fields above ``max_upload_bytes`` in the early Content-Length check."""

_READ_CHUNK: Final = 1 << 20
_SAFE_NAME: Final = re.compile(r"[^A-Za-z0-9._-]+")

HTTP_CODE_NAMES: Final[dict[int, str]] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    409: "FAILED_PRECONDITION",
    413: "RESOURCE_EXHAUSTED",
    415: "INVALID_ARGUMENT",
    422: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


@dataclass(frozen=True)
class HttpContext:
    """What every route needs: the settings, the gateway core and the auth checker."""

    settings: GatewaySettings
    gateway: Gateway
    auth: Auth

    def caller(self, request: Request) -> str:
        """The caller of ``request`` (UNAUTHENTICATED when keys are configured and it has no valid one)."""
        return self.auth.caller(request.headers.get("authorization"))


# -- error bodies ---------------------------------------------------------------------------------------------


def is_openai_path(path: str) -> bool:
    """Whether ``path`` belongs to the OpenAI-compatible surface (its error bodies follow OpenAI's shape)."""
    return path.startswith(("/v1/audio/", "/v1/models"))


def error_body(status: int, message: str, code: str, *, openai: bool) -> dict[str, Any]:
    """The JSON body of an error response (REST or OpenAI shape)."""
    if not openai:
        return {"error": {"code": code, "message": message}}
    if status == 401:
        kind, code = "invalid_request_error", "invalid_api_key"
    elif status == 429:
        kind = "rate_limit_error"
    elif status == 403:
        kind = "permission_error"
    elif status >= 500:
        kind = "server_error"
    else:
        kind = "invalid_request_error"
    return {"error": {"message": message, "type": kind, "param": None, "code": code.lower()}}


def error_headers(status: int) -> dict[str, str]:
    """Headers an error response carries (the auth challenge on 401)."""
    return {"WWW-Authenticate": 'Bearer realm="ting"'} if status == 401 else {}


# -- protobuf JSON --------------------------------------------------------------------------------------------


def to_json(message: Message) -> dict[str, Any]:
    """proto3 JSON of ``message`` as a dict (camelCase names, enums by name, int64 as strings)."""
    return json_format.MessageToDict(message)


def parse_json_message(text: str | dict[str, Any], message: Message, field: str) -> None:
    """Fill ``message`` from proto3 JSON (a string or a parsed dict); INVALID_ARGUMENT when it does not fit."""
    try:
        data = json.loads(text) if isinstance(text, str) else text
        if not isinstance(data, dict):
            raise InvalidArgumentError(f"{field}: expected a JSON object")
        json_format.ParseDict(data, message)
    except (ValueError, json_format.ParseError) as exc:
        raise InvalidArgumentError(f"{field}: not valid JSON for {message.DESCRIPTOR.name}: {exc}") from None


def enum_value(enum: Any, prefix: str, name: str, field: str) -> int:
    """An enum value from its name, with or without the prefix, any case (``succeeded`` -> JOB_STATE_SUCCEEDED)."""
    wanted = name.strip().upper()
    if not wanted.startswith(prefix):
        wanted = prefix + wanted
    try:
        value: int = enum.Value(wanted)
    except ValueError:
        names: list[str] = list(enum.keys())
        choices = ", ".join(n.removeprefix(prefix) for n in names if not n.endswith("UNSPECIFIED"))
        raise InvalidArgumentError(f"{field}: '{name}' is not one of {choices}") from None
    return value


# -- uploads --------------------------------------------------------------------------------------------------


def safe_filename(name: str | None) -> str:
    """A storage-safe base name for an uploaded file (``../My talk (1).wav`` -> ``My_talk_1_.wav``)."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _SAFE_NAME.sub("_", base).lstrip("._")[:120]
    return cleaned or "upload"


def media_type_of(upload: UploadFile) -> str:
    """The upload's media type, checked against the 415 rule (see the module's docstring); lower case."""
    media = (upload.content_type or "").split(";", 1)[0].strip().lower()
    name = upload.filename or ""
    ext = name.rsplit(".", 1)[-1].lower() if "." in name.rsplit("/", 1)[-1] else ""
    if media.startswith(("audio/", "video/")) or media == "application/ogg":
        return media
    if media in OCTET_TYPES and (not ext or ext in MEDIA_EXTENSIONS):
        return "application/octet-stream"
    shown = media or "no content type"
    raise UnsupportedMediaError(
        f"'{name or 'file'}' ({shown}) is not audio or video; send audio/*, video/*, application/ogg, or "
        f"application/octet-stream with a media extension ({', '.join(sorted(MEDIA_EXTENSIONS))})"
    )


async def store_upload(ctx: HttpContext, upload: UploadFile, key: str) -> StoredObject:
    """Stream an uploaded file part to storage at ``key`` (in a worker thread, never read whole); 415 for a
    part that is not media, 413 over the upload limit, 400 for an empty file (nothing is kept then)."""
    media = media_type_of(upload)
    storage = ctx.gateway.storage

    def put() -> StoredObject:
        upload.file.seek(0)
        return storage.put(key, upload.file, content_type=media, max_bytes=ctx.settings.max_upload_bytes)

    stored = await asyncio.to_thread(put)
    if stored.size_bytes == 0:
        await asyncio.to_thread(storage.delete_prefix, key)
        raise InvalidArgumentError(f"'{upload.filename or 'file'}' is empty (0 bytes)")
    return stored


async def read_upload(ctx: HttpContext, upload: UploadFile) -> bytes:
    """An uploaded file part in memory, for synchronous work (which needs the bytes anyway): 415 / 413 / 400
    as :func:`store_upload`, read in chunks so an oversize part stops at the limit."""
    media_type_of(upload)
    limit = ctx.settings.max_upload_bytes
    chunks: list[bytes] = []
    total = 0
    await upload.seek(0)
    while chunk := await upload.read(_READ_CHUNK):
        total += len(chunk)
        if total > limit:
            raise ResourceExhaustedError(
                f"'{upload.filename or 'file'}' is over the upload limit of {ctx.settings.max_upload_mb:g} MiB"
            )
        chunks.append(chunk)
    if not total:
        raise InvalidArgumentError(f"'{upload.filename or 'file'}' is empty (0 bytes)")
    return b"".join(chunks)


def new_id() -> str:
    """A new opaque id (a UUID)."""
    return str(uuid.uuid4())


# -- convenience form fields -> PipelineConfig ---------------------------------------------------------------


def split_list(values: list[str] | None) -> list[str]:
    """Repeated and/or comma-separated form values as one list (``["de,fr", "ja"]`` -> ``[de, fr, ja]``)."""
    out: list[str] = []
    for value in values or []:
        out += [part.strip() for part in value.split(",") if part.strip()]
    return out


def parse_bool(value: str | None, field: str) -> bool:
    """A form boolean: true/false, 1/0, yes/no, on/off (empty: false)."""
    text = (value or "").strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    raise InvalidArgumentError(f"{field}: '{value}' is not a boolean (use true or false)")


@dataclass
class PipelineForm:
    """The convenience form fields of ``POST /v1/jobs`` and ``POST /v1/process``."""

    config: str | None = None
    language: str | None = None
    model: str | None = None
    translate: list[str] | None = None
    summarize: str | None = None
    separate: str | None = None
    formats: str | None = None

    def pipeline_config(self) -> pb.PipelineConfig:
        """``config`` (proto3 JSON; empty: defaults) with the convenience fields applied on top."""
        config = pb.PipelineConfig()
        if self.config and self.config.strip():
            parse_json_message(self.config, config, "config")
        if self.language:
            config.recognition.language_code = self.language.strip()
        if self.model:
            config.recognition.model = self.model.strip()
        targets = split_list(self.translate)
        if targets:
            config.translation.target_language_codes.extend(targets)
        if parse_bool(self.summarize, "summarize"):
            config.summary.SetInParent()
        if parse_bool(self.separate, "separate"):
            config.separation.SetInParent()
        if self.formats is not None or not config.output.formats:
            names = split_list([self.formats if self.formats is not None else DEFAULT_FORMATS])
            del config.output.formats[:]
            for name in names:
                value = FORMAT_BY_NAME.get(name.lower().lstrip("."))
                if value is None:
                    raise InvalidArgumentError(
                        f"formats: '{name}' is not a format; use {', '.join(sorted(FORMAT_BY_NAME))}"
                    )
                config.output.formats.append(value)  # type: ignore[arg-type]
        return config


def parse_labels(text: str | None) -> dict[str, str]:
    """The ``labels`` form field: a JSON object of strings."""
    if not text or not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        raise InvalidArgumentError('labels: not valid JSON; send an object like {"team": "news"}') from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise InvalidArgumentError("labels: expected a JSON object of string values")
    return {str(k): v for k, v in data.items()}


def error_of(exc: BaseException) -> TingError:
    """``exc`` as a domain error (anything unexpected becomes a generic INTERNAL)."""
    from ting_common.errors import InternalError

    if isinstance(exc, TingError):
        return exc
    return InternalError("internal error; the server log has the details (see the request id)")
