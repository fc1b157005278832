"""``GET /v1/stream``: a live stream over a WebSocket (the protocol is in the README, "Live streaming").

The transport only: the socket is accepted, the key checked (``Authorization: Bearer <key>`` or ``?api_key=``, as
browsers cannot set headers on a WebSocket), a slot taken, the start message parsed, then the session of
:mod:`ting_gateway.live` runs over the binary frames until ``{"type": "stop"}``; each of its events leaves as one
text frame. A fatal error leaves as one ``error`` event, then the close code says what kind it was: 1008 the
client's fault (bad key, start or audio, idle), 1013 try again later (RESOURCE_EXHAUSTED), 1011 the server's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any, Final

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from ting_common.errors import DeadlineExceededError, InternalError, InvalidArgumentError, TingError
from ting_common.log import request_id_var
from ting_gateway.http.common import HttpContext
from ting_gateway.live import ClientGone, LiveService, parse_start

logger = logging.getLogger(__name__)

CLOSE_NORMAL: Final = 1000
CLOSE_POLICY: Final = 1008
CLOSE_INTERNAL: Final = 1011
CLOSE_TRY_LATER: Final = 1013
CLIENT_CODES: Final = frozenset({"DEADLINE_EXCEEDED"})  # the idle timeout: the client sent nothing


def close_code(error: TingError) -> int:
    """The close code after a fatal ``error`` event."""
    name = error.grpc_code.name
    if name == "RESOURCE_EXHAUSTED":
        return CLOSE_TRY_LATER
    if error.http_code < 500 or name in CLIENT_CODES:
        return CLOSE_POLICY
    return CLOSE_INTERNAL


def error_event(error: TingError) -> dict[str, Any]:
    """A fatal error as the protocol's ``error`` event."""
    return {
        "type": "error",
        "code": error.grpc_code.name,
        "http_status": error.http_code,
        "message": error.message,
        "fatal": True,
    }


def _json_message(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        raise InvalidArgumentError("a text frame must be a JSON object (start or stop)") from None
    if not isinstance(data, dict):
        raise InvalidArgumentError("a text frame must be a JSON object (start or stop)")
    return data


async def _receive(websocket: WebSocket) -> tuple[bytes | None, dict[str, Any] | None]:
    """The next frame: audio bytes, or a parsed JSON object; :class:`ClientGone` when the client left."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise ClientGone()
    data = message.get("bytes")
    if data is not None:
        return data, None
    return None, _json_message(message.get("text") or "")


async def _audio(websocket: WebSocket) -> AsyncIterator[bytes]:
    """The binary frames after the start message, until ``stop``."""
    while True:
        data, control = await _receive(websocket)
        if data is not None:
            yield data
            continue
        assert control is not None
        kind = control.get("type")
        if kind == "stop":
            return
        if kind == "start":
            raise InvalidArgumentError("start may only be sent once, as the first message")
        raise InvalidArgumentError(f'unknown message type {kind!r}: send binary audio frames, then {{"type": "stop"}}')


def live_router(ctx: HttpContext, live: LiveService) -> APIRouter:
    """The WebSocket route of live streams."""
    router = APIRouter()

    @router.websocket("/v1/stream")
    async def stream(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            authorization = websocket.headers.get("authorization")
            api_key = websocket.query_params.get("api_key")
            if api_key and not authorization:
                authorization = f"Bearer {api_key}"
            ctx.auth.caller(authorization)
            with live.slot():
                try:
                    async with asyncio.timeout(live.settings.idle_timeout_s):
                        _, start = await _receive(websocket)
                except TimeoutError:
                    raise DeadlineExceededError(
                        f"no start message within {live.settings.idle_timeout_s:g} s of connecting"
                    ) from None
                if start is None:
                    raise InvalidArgumentError('the first message must be the JSON start message ({"type": "start"})')
                session = live.session(parse_start(start), request_id_var.get())
                async with contextlib.aclosing(session.events(_audio(websocket))) as events:
                    async for event in events:
                        await websocket.send_text(json.dumps(event, ensure_ascii=False))
            await websocket.close(CLOSE_NORMAL)
        except (ClientGone, WebSocketDisconnect, OSError) as exc:
            logger.info("live stream client left (%s)", type(exc).__name__)
        except TingError as exc:
            await _fail(websocket, exc)
        except Exception:
            logger.exception("live stream failed")
            await _fail(websocket, InternalError("internal error; the server log has the details (see the request id)"))

    return router


async def _fail(websocket: WebSocket, error: TingError) -> None:
    if error.http_code >= 500:
        logger.warning("live stream ended with %s: %s", error.grpc_code.name, error.message)
    with contextlib.suppress(Exception):
        await websocket.send_text(json.dumps(error_event(error), ensure_ascii=False))
        await websocket.close(close_code(error), reason=error.grpc_code.name)
