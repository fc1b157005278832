"""Translation through any OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, llama.cpp server, ...).

Wire protocol with the model: the user message is a JSON object with the numbered segments
(``{"cues": [{"i": 1, "text": "..."}], "context": [...]}``) and the model must answer one JSON object
``{"cues": [{"i": 1, "text": "..."}], "source_language": "en"}`` with the same numbers. ``response_format`` is
``json_object`` by default (llama.cpp, vLLM, Ollama and OpenAI constrain the output to JSON then).

Transport (one chat completion, retries on 429/5xx/timeouts honouring ``Retry-After``, errors mapped to
domain errors that name the ``TING_TRANSLATE_LLM_*`` setting to fix) is :class:`ting_common.llm.LLMClient`;
this module owns the prompt and the answer format. Retries are counted in the report.
"""

from __future__ import annotations

import json
from typing import Any

from ting_common.llm import LLMClient, LLMSettings, MalformedJSONError, RetryPolicy, extract_json
from ting_translate.engines import (
    EngineDescription,
    EngineReply,
    MalformedAnswerError,
    TranslationRequest,
)
from ting_translate.languages import ISO_639_1, language_name

__all__ = ["OpenAIChatEngine", "parse_answer"]

# Tokens of the system prompt and JSON scaffolding, reserved out of the context window.
PROMPT_OVERHEAD_TOKENS = 400

SYSTEM_PROMPT = """You are a professional translator{kind}.
Translate every item of "cues" {source}into {target}.
Answer with one JSON object only, exactly:
{{"source_language": "<ISO 639-1 code of the input>", "cues": [{{"i": <number>, "text": "<translation>"}}]}}
Rules:
- exactly one output item per input item, with the same "i" numbers, in the same order;
- never merge, split, skip or add items;
- keep every placeholder such as ⟦0⟧ exactly as written, once, where it belongs in the translation;
- keep line breaks inside an item where they make sense;
- "context" items are earlier text for reference only: do not translate or output them.{extra}"""


def parse_answer(content: str) -> tuple[dict[int, str], str]:
    """Parse the model's JSON answer into (number -> text, detected language); raises MalformedAnswerError."""
    try:
        data: Any = extract_json(content)
    except MalformedJSONError as exc:
        raise MalformedAnswerError(str(exc)) from exc
    items = data.get("cues") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise MalformedAnswerError("the answer has no 'cues' list")
    out: dict[int, str] = {}
    for item in items:
        if not isinstance(item, dict):
            raise MalformedAnswerError("an answer item is not an object")
        number = item.get("i", item.get("id", item.get("index")))
        value = item.get("text", item.get("translation"))
        if isinstance(number, str) and number.strip().isdigit():
            number = int(number)
        if not isinstance(number, int) or isinstance(number, bool) or not isinstance(value, str):
            raise MalformedAnswerError("an answer item lacks an integer 'i' or a string 'text'")
        if number in out:
            raise MalformedAnswerError(f"the answer repeats item {number}")
        out[number] = value
    language = data.get("source_language", "") if isinstance(data, dict) else ""
    return out, language if isinstance(language, str) and language.lower() in ISO_639_1 else ""


class OpenAIChatEngine:
    """:class:`~ting_translate.engines.TranslationEngine` over an OpenAI-compatible ``/chat/completions``."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str = "",
        timeout_s: float = 60.0,
        context_tokens: int = 8192,
        max_output_tokens: int = 4096,
        temperature: float = 0.0,
        json_mode: bool = True,
        retry: RetryPolicy | None = None,
        name: str = "llm",
        default_cues_per_chunk: int = 20,
    ) -> None:
        self._name = name
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.context_tokens = context_tokens
        self.max_output_tokens = max_output_tokens
        self.default_cues_per_chunk = default_cues_per_chunk
        self._llm = LLMClient(
            LLMSettings(
                base_url=base_url,
                model=model,
                api_key=api_key,
                timeout_s=timeout_s,
                temperature=temperature,
                json_mode=json_mode,
                env_prefix="TING_TRANSLATE_LLM_",
            ),
            retry,
        )

    @property
    def name(self) -> str:
        """Engine name for ``TranslationConfig.engine``."""
        return self._name

    @property
    def model(self) -> str:
        """The model name sent to the endpoint."""
        return self._llm.model

    @property
    def chunk_token_budget(self) -> int:
        """Input tokens per request: a third of what is left after the prompt (the answer may be twice as long)."""
        return max(64, min(self.max_output_tokens // 2, (self.context_tokens - PROMPT_OVERHEAD_TOKENS) // 3))

    def describe(self) -> EngineDescription:
        """Facts for ``ListEngines``: any ISO 639-1 pair, detection, glossary, context and formality."""
        codes = sorted(ISO_639_1)
        return EngineDescription(
            name=self._name,
            description=f"OpenAI-compatible chat LLM at {self.base_url} (any language pair the model knows)",
            model=self._llm.model,
            device="remote",
            source_languages=codes,
            target_languages=codes,
            supports_language_detection=True,
            supports_glossary=True,
            supports_context=True,
            supports_formality=True,
            default_cues_per_chunk=self.default_cues_per_chunk,
        )

    def supports(self, source: str, target: str) -> bool:
        """Every ISO 639-1 pair (the model's competence is the operator's choice)."""
        return target.split("-")[0] in ISO_639_1 and (not source or source.split("-")[0] in ISO_639_1)

    async def ready(self) -> bool:
        """True when ``GET /models`` answers within a short timeout."""
        return await self._llm.ready()

    async def close(self) -> None:
        """Close the HTTP connection pool."""
        await self._llm.close()

    def messages(self, request: TranslationRequest) -> list[dict[str, str]]:
        """The chat messages for one chunk."""
        options = request.options
        extra: list[str] = []
        if options.glossary:
            terms = "; ".join(f'"{g.term}" -> "{g.translation}"' for g in options.glossary)
            extra.append(f"\n- always translate these terms this way: {terms};")
        if options.formality:
            extra.append(f"\n- use the {options.formality} register;")
        if options.domain:
            extra.append(f"\n- the domain is {options.domain};")
        if options.context:
            extra.append(f"\n- background (do not translate): {options.context}")
        if options.subtitles:
            extra.append("\n- these are subtitle cues: keep each translation about as short as its source.")
        system = SYSTEM_PROMPT.format(
            kind=" of subtitles" if options.subtitles else "",
            source=f"from {language_name(request.source_language)} " if request.source_language else "",
            target=language_name(request.target_language),
            extra="".join(extra),
        )
        user: dict[str, object] = {
            "target_language": request.target_language,
            "cues": [{"i": i, "text": text} for i, text in enumerate(request.segments, start=1)],
        }
        if request.context:
            user = {"context": list(request.context), **user}
        return [
            {"role": "system", "content": system},
            {"role": "user", "content": json.dumps(user, ensure_ascii=False)},
        ]

    async def translate(self, request: TranslationRequest) -> EngineReply:
        """Translate one chunk; the answer's numbering is checked by the caller."""
        messages = self.messages(request)
        size = sum(len(s) for s in request.segments)
        max_tokens = min(self.max_output_tokens, max(256, 3 * size))
        completion = await self._llm.complete(messages, max_tokens=max_tokens)
        attempts = completion.attempts
        if not completion.content:
            raise MalformedAnswerError("the LLM returned an empty answer", attempts=attempts)
        try:
            translations, language = parse_answer(completion.content)
        except MalformedAnswerError as exc:
            exc.attempts = attempts
            raise
        return EngineReply(
            translations=translations,
            attempts=attempts,
            detected_language=language.lower(),
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
        )
