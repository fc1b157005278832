"""A scripted, fault-injecting OpenAI-compatible HTTP server for the LLM engines' tests and the benchmarks.

It speaks the real wire format (``POST /v1/chat/completions``, ``GET /v1/models``; HTTP/1.1 keep-alive) on an
asyncio socket server. By default it "translates" deterministically: it reads the numbered cues of the user
message (``{"cues": [{"i": 1, "text": ...}]}``) and answers each with ``"«target» " + text`` (placeholders kept),
so a test can check alignment exactly. ``script`` holds one-shot faults consumed request by request (429 with
Retry-After, 500, a delay longer than the client timeout, a 400, malformed content); ``transform`` rewrites
every answer's cue list (e.g. drop a cue whenever a chunk has more than one). ``responder`` replaces the
translation: it gets the request body and returns the message content (the summarization tests script JSON
summaries with it). ``response_formats`` records each chat request's ``response_format`` (None when absent);
with ``reject_json_schema`` set, a request asking for ``{"type": "json_schema"}`` gets the 400 an endpoint
without structured outputs gives (before any scripted fault is used).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Fault", "FaultServer", "echo_text"]

Cues = list[dict[str, Any]]


def echo_text(target: str, text: str) -> str:
    """The fault server's deterministic "translation"."""
    return f"«{target}» {text}"


@dataclass
class Fault:
    """One scripted answer: an HTTP status (with headers/body), a delay, or replaced message content."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    delay_s: float = 0.0
    content: str | None = None  # 200 with this exact message content


@dataclass
class Seen:
    """A request the server received."""

    at: float
    path: str
    body: dict[str, Any]


class FaultServer:
    """Start with ``await server.start()``; ``base_url`` is ``http://127.0.0.1:PORT/v1``."""

    def __init__(self) -> None:
        self.script: deque[Fault] = deque()
        self.transform: Callable[[Cues], Cues] | None = None
        self.responder: Callable[[dict[str, Any]], str] | None = None
        self.requests: list[Seen] = []
        self.response_formats: list[dict[str, Any] | None] = []  # per chat request, in order
        self.reject_json_schema = False  # answer json_schema requests with 400, as endpoints without it do
        self.delay_s = 0.0  # added to every chat completion (to observe concurrency)
        self.in_flight = 0
        self.max_in_flight = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI base URL of this server."""
        return f"http://127.0.0.1:{self.port}/v1"

    def reset(self) -> None:
        """Forget faults, transform, responder and recorded requests."""
        self.script.clear()
        self.transform = None
        self.responder = None
        self.requests.clear()
        self.response_formats.clear()
        self.reject_json_schema = False
        self.delay_s = 0.0
        self.max_in_flight = 0

    async def start(self) -> None:
        """Listen on a free loopback port."""
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, v in (x.split(":", 1) for x in lines[1:] if ":" in x)}
                size = int(headers.get("content-length", "0"))
                raw = await reader.readexactly(size) if size else b""
                status, extra, payload = await self._answer(method, path, raw)
                data = json.dumps(payload).encode()
                reason = {200: "OK", 400: "Bad Request", 429: "Too Many Requests", 500: "Internal Server Error"}
                out = [f"HTTP/1.1 {status} {reason.get(status, 'Status')}", "Content-Type: application/json"]
                out += [f"{k}: {v}" for k, v in extra.items()]
                out.append(f"Content-Length: {len(data)}")
                writer.write(("\r\n".join(out) + "\r\n\r\n").encode() + data)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def _answer(self, method: str, path: str, raw: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
        body = json.loads(raw) if raw else {}
        self.requests.append(Seen(time.monotonic(), path, body))
        if method == "GET" and path.endswith("/models"):
            return 200, {}, {"object": "list", "data": [{"id": "fault-echo", "object": "model", "owned_by": "tests"}]}
        if not path.endswith("/chat/completions"):
            return 404, {}, {"error": {"message": f"no route {path}", "type": "not_found"}}
        response_format = body.get("response_format")
        self.response_formats.append(response_format)
        wants_schema = isinstance(response_format, dict) and response_format.get("type") == "json_schema"
        if self.reject_json_schema and wants_schema:
            message = "response_format type 'json_schema' is not supported; use 'json_object'"
            return 400, {}, {"error": {"message": message, "type": "invalid_request_error"}}
        fault = self.script.popleft() if self.script else Fault()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if fault.delay_s or self.delay_s:
                await asyncio.sleep(fault.delay_s + self.delay_s)
        finally:
            self.in_flight -= 1
        if fault.status != 200:
            return fault.status, fault.headers, fault.body or {"error": {"message": f"scripted {fault.status}"}}
        if fault.content is not None:
            content = fault.content
        elif self.responder is not None:
            content = self.responder(body)
        else:
            content = self._translate(body)
        return 200, fault.headers, _completion(body.get("model", ""), content)

    def _translate(self, body: dict[str, Any]) -> str:
        user = json.loads(body["messages"][-1]["content"])
        target = str(user.get("target_language", "xx"))
        cues: Cues = [{"i": c["i"], "text": echo_text(target, c["text"])} for c in user["cues"]]
        if self.transform is not None:
            cues = self.transform(cues)
        return json.dumps({"source_language": "en", "cues": cues}, ensure_ascii=False)


def _completion(model: str, content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fault",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }
