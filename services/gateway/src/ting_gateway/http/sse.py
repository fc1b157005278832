"""Server-Sent Events of a job: ``event: job`` + ``data: <JobEvent as proto3 JSON>`` per event.

The stream is :meth:`Gateway.watch_job` as text: a snapshot first, an event per change, heartbeats, and the final
event (carrying the whole job), after which the stream ends. A browser's ``EventSource`` reconnects when a stream
ends, so clients close it on the event whose ``state`` is final. An error after the stream started (the job was
deleted) is sent as ``event: error`` with the REST error body, and the stream ends.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Final

from fastapi.responses import StreamingResponse
from google.protobuf import json_format

from ting.gateway.v1 import pipeline_service_pb2 as pb
from ting_common.errors import TingError
from ting_gateway.http.common import error_body, error_of

logger = logging.getLogger(__name__)

SSE_HEADERS: Final = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}


async def close(events: AsyncIterator[pb.JobEvent]) -> None:
    """Close an async generator (stops the watch loop at once, not at its next wake-up)."""
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()


def sse_message(event: str, data: str, event_id: int | None = None) -> str:
    """One SSE message (``data`` must be a single line, as compact JSON is)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {data}\n\n"


async def job_event_stream(events: AsyncIterator[pb.JobEvent], first: pb.JobEvent) -> AsyncIterator[str]:
    """The SSE text of ``first`` and then of every event ``events`` yields."""
    yield "retry: 3000\n\n"
    count = 0
    event: pb.JobEvent | None = first
    try:
        while event is not None:
            count += 1
            yield sse_message("job", json_format.MessageToJson(event, indent=None), count)
            event = await anext(events, None)
    except TingError as exc:
        body = error_body(exc.http_code, exc.message, exc.grpc_code.name, openai=False)
        yield sse_message("error", json.dumps(body))
    except Exception as exc:  # the stream has started: report in-band, never a traceback
        logger.exception("job event stream failed")
        err = error_of(exc)
        yield sse_message("error", json.dumps(error_body(500, err.message, "INTERNAL", openai=False)))
    finally:
        await close(events)


async def job_events_response(events: AsyncIterator[pb.JobEvent]) -> StreamingResponse:
    """A streaming SSE response over a job's events; the first event is awaited here, so an unknown job is
    an ordinary 404 (raised before any byte is sent)."""
    try:
        first = await anext(events)
    except BaseException:
        await close(events)
        raise
    return StreamingResponse(job_event_stream(events, first), media_type="text/event-stream", headers=SSE_HEADERS)
