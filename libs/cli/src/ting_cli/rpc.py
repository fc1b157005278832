"""What every ``ting`` command needs to talk to a server: a channel, call metadata, one-line error text, the progress
rule."""

from __future__ import annotations

import sys
import uuid

import grpc

DEFAULT_MAX_MESSAGE = 256 * 1024 * 1024


def open_channel(server: str, max_message: int = DEFAULT_MAX_MESSAGE) -> grpc.Channel:
    """An insecure channel to ``server`` that sends and receives messages up to ``max_message`` bytes."""
    return grpc.insecure_channel(
        server,
        options=[("grpc.max_send_message_length", max_message), ("grpc.max_receive_message_length", max_message)],
    )


def describe_rpc_error(exc: grpc.RpcError, server: str, *, title: str, service: str) -> str:
    """One line for a failed call to the ``title`` server (e.g. "ASR") that ``ting serve <service>`` starts.

    Only a failed connection reads "cannot reach"; an UNAVAILABLE the server itself sends (an LLM endpoint
    down, say) keeps its own message.
    """
    code = exc.code() if isinstance(exc, grpc.Call) else None
    details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
    if code == grpc.StatusCode.UNAVAILABLE and details and "failed to connect" in details.lower():
        return f"cannot reach the {title} server at {server} ({details}); start one with `ting serve {service}`"
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return "the server did not finish before the timeout (--timeout)"
    return f"{details} [{code.name if code is not None else 'ERROR'}]"


def want_progress(mode: str, duration_s: float, min_seconds: float) -> bool:
    """``--progress always|never|auto``: auto draws a bar for audio of ``min_seconds`` or more on a terminal."""
    if mode == "never":
        return False
    if mode == "always":
        return True
    return duration_s >= min_seconds and sys.stderr.isatty()


def call_metadata(api_key: str = "") -> tuple[tuple[str, str], ...]:
    """A fresh ``x-request-id`` and, with ``api_key``, ``authorization: Bearer KEY``."""
    metadata = [("x-request-id", uuid.uuid4().hex)]
    if api_key:
        metadata.append(("authorization", f"Bearer {api_key}"))
    return tuple(metadata)
