"""The gateway's OpenAI-compatible audio API, driven by the official ``openai`` SDK against real services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import SAMPLES
from tests.integration.gateway_stack import Services, gateway_settings, running_gateway
from tests.integration.test_gateway_rest import head_of_wav

pytestmark = pytest.mark.integration

SPANISH = (SAMPLES / "es_weather.wav").read_bytes()
KEY = "sk-ting-test-key"
FILE = ("es_weather.wav", SPANISH, "audio/wav")
SHORT = ("es_start.wav", head_of_wav(SPANISH, 6.0), "audio/wav")  # "Buenos días a todos. Hoy vamos a..."


@pytest.fixture(scope="module")
async def gateway(services: Services, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    settings = gateway_settings(
        services, tmp_path_factory.mktemp("gw-openai"), api_keys=KEY, workers=0, link_secret="x" * 32
    )
    async with running_gateway(settings) as app:
        yield app


@pytest.fixture(scope="module")
async def client(gateway: Any) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        api_key=KEY, base_url=f"http://127.0.0.1:{gateway.http_port}/v1", max_retries=0, timeout=120
    ) as sdk:
        yield sdk


async def test_transcription_json(client: openai.AsyncOpenAI) -> None:
    result = await client.audio.transcriptions.create(model="whisper-1", file=FILE, language="es")
    text = result.text.lower()
    assert "buenos" in text and "madrid" in text, text


@pytest.mark.parametrize("fmt", ["text", "srt", "vtt"])
async def test_transcription_as_text_bodies(client: openai.AsyncOpenAI, fmt: str) -> None:
    body = await client.audio.transcriptions.create(model="whisper-1", file=SHORT, response_format=fmt)  # type: ignore[call-overload]
    assert isinstance(body, str) and "buenos" in body.lower(), body
    if fmt == "text":
        assert "-->" not in body and body.endswith("\n")
    elif fmt == "srt":
        assert body.startswith("1\n00:00:") and " --> " in body and "," in body.split(" --> ")[0]
    else:
        assert body.startswith("WEBVTT") and " --> " in body


async def test_transcription_verbose_json_with_words(client: openai.AsyncOpenAI) -> None:
    result = await client.audio.transcriptions.create(
        model="whisper-1",
        file=FILE,
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
        temperature=0.0,
    )
    assert result.language == "spanish"
    assert 10.0 < result.duration < 13.0
    assert "madrid" in result.text.lower()
    assert result.segments and result.words
    first = result.segments[0]
    assert first.id == 0 and first.start >= 0 and first.end > first.start and first.text.strip()
    assert first.tokens == [] and first.seek == 0 and first.temperature == 0.0
    assert isinstance(first.avg_logprob, float) and 0 <= first.no_speech_prob <= 1
    starts = [w.start for w in result.words]
    assert starts == sorted(starts) and all(w.end >= w.start for w in result.words)
    assert any("madrid" in w.word.lower() for w in result.words)


async def test_verbose_json_with_word_timestamps_only(gateway: Any) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.http_port}", timeout=120) as http:
        response = await http.post(
            "/v1/audio/transcriptions",
            headers={"Authorization": f"Bearer {KEY}"},
            files={"file": SHORT},
            data={"model": "whisper-1", "response_format": "verbose_json", "timestamp_granularities[]": "word"},
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"task", "language", "duration", "text", "words"}
    assert body["task"] == "transcribe" and body["words"][0].keys() == {"word", "start", "end"}


@pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")  # the SDK marks translations deprecated
async def test_translation_into_english(client: openai.AsyncOpenAI) -> None:
    result = await client.audio.translations.create(model="whisper-1", file=FILE)
    text = result.text.lower()
    assert "madrid" in text and ("today" in text or "good" in text), text
    verbose = await client.audio.translations.create(model="whisper-1", file=FILE, response_format="verbose_json")
    assert verbose.language == "english" and verbose.task == "translate"  # type: ignore[attr-defined]
    assert verbose.segments


async def test_models_lists_the_asr_models(client: openai.AsyncOpenAI) -> None:
    models = [m async for m in client.models.list()]
    ids = [m.id for m in models]
    assert ids[0] == "whisper-1" and len(ids) >= 2
    assert all(m.object == "model" for m in models)


async def test_a_bad_key_is_an_authentication_error(gateway: Any) -> None:
    async with openai.AsyncOpenAI(
        api_key="sk-wrong", base_url=f"http://127.0.0.1:{gateway.http_port}/v1", max_retries=0
    ) as wrong:
        with pytest.raises(openai.AuthenticationError) as caught:
            await wrong.audio.transcriptions.create(model="whisper-1", file=FILE)
        assert caught.value.status_code == 401
        body: Any = caught.value.body
        assert body["code"] == "invalid_api_key" and body["type"] == "invalid_request_error"
        with pytest.raises(openai.AuthenticationError):
            await wrong.models.list()


async def test_bad_requests_are_openai_errors(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.audio.transcriptions.create(model="whisper-1", file=FILE, response_format="bogus")  # type: ignore[arg-type]
    assert "response_format must be one of" in caught.value.message
    with pytest.raises(openai.BadRequestError) as caught:
        await client.audio.transcriptions.create(model="whisper-1", file=FILE, language="english!")
    assert "not a language code" in caught.value.message
    with pytest.raises(openai.NotFoundError):
        await client.audio.transcriptions.create(model="no-such-model", file=FILE)
    with pytest.raises(openai.APIStatusError) as unsupported:
        await client.audio.transcriptions.create(model="whisper-1", file=("notes.txt", b"hello", "text/plain"))
    assert unsupported.value.status_code == 415
    body: Any = unsupported.value.body
    assert set(body) == {"message", "type", "param", "code"}
