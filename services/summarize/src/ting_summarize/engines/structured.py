"""Structured output for the ``llm`` engine: ``response_format`` as a JSON schema, with a JSON-mode fallback.

OpenAI (structured outputs) and llama.cpp's server (grammar-constrained sampling) accept
``response_format={"type": "json_schema", "json_schema": {"name", "schema", "strict": true}}`` and then can only
produce JSON of that schema. Endpoints that do not know it answer HTTP 400
(:class:`ting_common.llm.ResponseFormatRejectedError`); :class:`SchemaLLMClient` then asks again with
``{"type": "json_object"}`` (the schema stays in the prompt) and remembers the answer in a :class:`SchemaSupport`
that outlives the client, so an endpoint is probed once, not once per request. The answer is validated with
pydantic and asked again, a bounded number of times, either way (:meth:`ting_common.llm.LLMClient.complete_json`).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ting_common.llm import (
    Completion,
    JSONCompletion,
    LLMClient,
    LLMSettings,
    Message,
    ModelT,
    ResponseFormatRejectedError,
    RetryPolicy,
)

__all__ = ["SchemaLLMClient", "SchemaSupport", "json_schema_format", "strict_schema"]

logger = logging.getLogger(__name__)


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of an inlined JSON schema in OpenAI's strict form: every object lists all its properties as
    required and forbids others (optional fields of the pydantic model are still accepted when validating)."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: walk(v) for k, v in node.items()}
            if isinstance(out.get("properties"), dict):
                out["required"] = list(out["properties"])
                out["additionalProperties"] = False
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    result: dict[str, Any] = walk(copy.deepcopy(schema))
    return result


def json_schema_format(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The ``response_format`` of a strict JSON-schema answer named ``name`` (letters, digits, ``_``, ``-``)."""
    return {"type": "json_schema", "json_schema": {"name": name, "schema": strict_schema(schema), "strict": True}}


class SchemaSupport:
    """Whether one endpoint accepts ``json_schema`` answers: unknown (None) until the first answer, then kept.

    Shared by the clients of one engine (each summary opens its own); thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: bool | None = None

    @property
    def value(self) -> bool | None:
        """True: accepted; False: rejected with a 400 (use JSON mode); None: not asked yet."""
        with self._lock:
            return self._value

    def set(self, value: bool) -> None:
        """Record what the endpoint said."""
        with self._lock:
            self._value = value


class SchemaLLMClient(LLMClient):
    """:class:`~ting_common.llm.LLMClient` whose ``json_schema`` requests fall back to JSON mode where the
    endpoint does not support them (learnt from the first request, kept in ``support``)."""

    def __init__(self, settings: LLMSettings, retry: RetryPolicy | None, support: SchemaSupport) -> None:
        super().__init__(settings, retry)
        self.support = support
        self._probe = asyncio.Lock()  # while support is unknown, one json_schema request at a time
        self.fallbacks = 0  # requests re-sent in JSON mode after a 400 to json_schema

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        json_mode: bool | None = None,
        response_format: Mapping[str, Any] | None = None,
    ) -> Completion:
        """One chat completion; a ``json_schema`` response format (with JSON mode on) is asked for where the
        endpoint takes it, and replaced by JSON mode where it does not."""
        json_on = self.settings.json_mode if json_mode is None else json_mode
        if response_format is None or not json_on or self.support.value is False:
            return await super().complete(messages, max_tokens=max_tokens, json_mode=json_mode)
        if self.support.value is None:
            async with self._probe:
                if self.support.value is None:
                    return await self._probe_schema(messages, max_tokens, response_format)
        if self.support.value:
            return await super().complete(messages, max_tokens=max_tokens, response_format=response_format)
        return await super().complete(messages, max_tokens=max_tokens, json_mode=json_mode)

    async def _probe_schema(
        self, messages: Sequence[Message], max_tokens: int, response_format: Mapping[str, Any]
    ) -> Completion:
        """The first json_schema request to this endpoint: on a 400/422, the same request in JSON mode."""
        try:
            completion = await super().complete(messages, max_tokens=max_tokens, response_format=response_format)
        except ResponseFormatRejectedError as exc:
            logger.info(
                "the LLM endpoint rejected response_format json_schema; asking in JSON mode",
                extra={"base_url": self.base_url, "reason": str(exc)[:200]},
            )
            self.fallbacks += 1
            answer = await super().complete(messages, max_tokens=max_tokens, json_mode=True)
            # A JSON-mode request that went through says the 400 was about json_schema, not the request itself
            # (too long, bad model...): only then is the endpoint marked as not taking schemas.
            self.support.set(False)
            return answer
        self.support.set(True)
        return completion

    async def complete_schema(
        self,
        messages: Sequence[Message],
        model: type[ModelT],
        response_format: dict[str, Any],
        *,
        max_tokens: int,
        answer_attempts: int,
        check: Callable[[ModelT], None] | None = None,
        what: str = "answer",
    ) -> JSONCompletion[ModelT]:
        """:meth:`~ting_common.llm.LLMClient.complete_json` with every request asking for ``response_format``."""
        return await self.complete_json(
            messages,
            model,
            max_tokens=max_tokens,
            answer_attempts=answer_attempts,
            check=check,
            what=what,
            response_format=response_format,
        )
