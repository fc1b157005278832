"""The real translation gRPC server on loopback with the CTranslate2 engine on the tiny word-by-word model.

The model (``tests/unit/test_translate_ct2_engine.py``) upper-cases every token it knows, so each translated cue
must be exactly its own source cue, upper-cased: that proves loading, batching, chunking, reassembly and cue
alignment end to end, without real weights (quality is measured by ``bench/translate.py --ct2-model``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from ting.translation.v1 import translation_service_pb2 as pb
from ting.translation.v1 import translation_service_pb2_grpc as pb_grpc
from ting_common.errors import FailedPreconditionError
from ting_translate.server import create_server
from ting_translate.subtitles import Cue, SubtitleFormat, decode_document, parse_document, render

from ..unit.test_translate_ct2_engine import MARIAN_EN_ES, WORDS, build_tiny_model, expected, vocabulary_of
from .test_translate_service import SUBTITLES, eval_file, expect, settings

pytestmark = pytest.mark.integration

GENERATED = [
    Cue(k + 1, 1000 + 2500 * k, 3000 + 2500 * k, text)
    for k, text in enumerate(
        [
            "Good evening, everyone,\nand thank you for coming.",
            "Hello world!",
            "- Hello?\n- Good evening.",
            "<i>The city trees.</i>",
            "Thank you.",
        ]
        * 6
    )
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Marian-style en->es model, knowing every word of the generated cues and of talk_en.srt."""
    texts = [c.text for c in GENERATED]
    talk = SUBTITLES / "talk_en.srt"
    if talk.exists():
        texts += [c.text for c in parse_document(decode_document(talk.read_bytes()))[0]]
    words = [*WORDS, *vocabulary_of(texts)]
    return build_tiny_model(tmp_path_factory.mktemp("ct2") / "opus-mt-tiny", words, model_info=MARIAN_EN_ES)


@pytest.fixture(scope="module")
async def address(model_dir: Path) -> AsyncIterator[str]:
    # Both engines configured: the LLM one (never reached here) is first, so ct2 is the default only by setting.
    app, port = create_server(
        settings(
            llm_base_url="http://127.0.0.1:9/v1",
            ct2_model_path=model_dir,
            ct2_device="cpu",
            ct2_max_batch_size=3,
            ct2_beam_size=2,
            default_engine="ct2",
        )
    )
    await app.start()
    yield f"127.0.0.1:{port}"
    await app.drain(0)


async def call_subtitles(address: str, request: pb.TranslateSubtitlesRequest) -> pb.TranslateSubtitlesResponse:
    async with grpc.aio.insecure_channel(address) as ch:
        return await pb_grpc.TranslationServiceStub(ch).TranslateSubtitles(request, timeout=60)


def document_request(
    content: bytes, targets: list[str], source: str = "en", **fields: object
) -> pb.TranslateSubtitlesRequest:
    return pb.TranslateSubtitlesRequest(
        document=pb.SubtitleDocument(content=content),
        config=pb.TranslationConfig(source_language_code=source, target_language_codes=targets, engine="ct2"),
        **fields,
    )


def check_aligned(source: list[Cue], reply: pb.TranslateSubtitlesResponse) -> pb.TranslatedSubtitles:
    (es,) = reply.translations
    assert es.target_language_code == "es" and reply.engine == "ct2" and reply.model == "tiny/upper-en-es"
    assert [(c.index, c.start_ms, c.end_ms) for c in es.cues] == [(c.index, c.start_ms, c.end_ms) for c in source]
    assert es.report.cue_count == len(source) and not es.report.untranslated_cue_indices
    assert es.report.retry_count == 0 and es.report.split_count == 0
    again, _ = parse_document(es.document.content.decode())
    assert [(c.index, c.start_ms, c.end_ms, c.text) for c in again] == [
        (c.index, c.start_ms, c.end_ms, c.text) for c in es.cues
    ]
    return es


async def test_generated_srt_is_translated_cue_by_cue(address: str) -> None:
    content = render(GENERATED, SubtitleFormat.SRT).encode()
    reply = await call_subtitles(address, document_request(content, ["es"], max_cues_per_chunk=4))
    es = check_aligned(GENERATED, reply)
    assert es.report.chunk_count >= len(GENERATED) // 4
    texts = [c.text for c in es.cues]
    assert texts[0] == "GOOD EVENING , EVERYONE ,\nAND THANK YOU FOR COMING ."  # one sentence, two lines again
    assert texts[1] == "HELLO WORLD !"
    assert texts[2] == "- HELLO ?\n- GOOD EVENING ."  # dialogue, line by line
    assert texts[3] == "<i>THE CITY TREES .</i>"  # markup restored around the translation
    assert texts == texts[:5] * 6  # identical cues, identical translations, wherever their chunk fell


async def test_talk_en_keeps_cue_count_indices_and_times(address: str) -> None:
    path = eval_file("talk_en.srt")
    source, _ = parse_document(decode_document(path.read_bytes()))
    reply = await call_subtitles(address, document_request(path.read_bytes(), ["es"], max_cues_per_chunk=7))
    es = check_aligned(source, reply)
    assert len(es.cues) == 40 and es.report.chunk_count >= 6
    assert [c.text.replace("\n", " ") for c in es.cues] == [expected(c.text) for c in source]
    assert reply.source_language_code == "en"


async def test_text_through_the_default_engine(address: str) -> None:
    async with grpc.aio.insecure_channel(address) as ch:
        reply = await pb_grpc.TranslationServiceStub(ch).TranslateText(
            pb.TranslateTextRequest(
                texts=["Hello world. Thank you for coming.", "", "Good evening!"],
                config=pb.TranslationConfig(target_language_codes=["es"]),  # no source: the model's one
            ),
            timeout=60,
        )
    assert reply.engine == "ct2"  # TING_TRANSLATE_DEFAULT_ENGINE, although llm is configured first
    (es,) = reply.translations
    assert [t.text for t in es.translations] == ["HELLO WORLD . THANK YOU FOR COMING .", "", "GOOD EVENING !"]


async def test_list_engines_reports_both_with_the_model_languages(address: str) -> None:
    async with grpc.aio.insecure_channel(address) as ch:
        stub = pb_grpc.TranslationServiceStub(ch)
        reply = await stub.ListEngines(pb.ListEnginesRequest())
        only_es = await stub.ListEngines(pb.ListEnginesRequest(source_language_code="en", target_language_code="es"))
        to_de = await stub.ListEngines(pb.ListEnginesRequest(target_language_code="de"))
    assert [e.name for e in reply.engines] == ["ct2", "llm"]  # default first
    ct2 = reply.engines[0]
    assert ct2.default and ct2.loaded and ct2.device == "cpu" and ct2.model == "tiny/upper-en-es"
    assert list(ct2.source_language_codes) == ["en"] and list(ct2.target_language_codes) == ["es"]
    assert not ct2.supports_language_detection and not ct2.supports_glossary and "marian" in ct2.description
    assert {e.name for e in only_es.engines} == {"ct2", "llm"}
    assert [e.name for e in to_de.engines] == ["llm"]


async def test_unsupported_pair_is_failed_precondition(address: str) -> None:
    content = render(GENERATED[:2], SubtitleFormat.SRT).encode()
    details = await expect(
        call_subtitles(address, document_request(content, ["de"])), grpc.StatusCode.FAILED_PRECONDITION
    )
    assert "'ct2' does not translate en -> de" in details
    details = await expect(
        call_subtitles(address, document_request(content, ["es"], source="fr")), grpc.StatusCode.FAILED_PRECONDITION
    )
    assert "fr -> es" in details


async def test_nllb_without_source_language_says_so(tmp_path: Path) -> None:
    app, port = create_server(settings(ct2_model_path=build_tiny_model(tmp_path / "nllb"), ct2_device="cpu"))
    await app.start()
    try:
        content = render(GENERATED[:2], SubtitleFormat.SRT).encode()
        details = await expect(
            call_subtitles(f"127.0.0.1:{port}", document_request(content, ["es"], source="")),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        assert "cannot detect the source language" in details and "source_language_code" in details
        reply = await call_subtitles(f"127.0.0.1:{port}", document_request(content, ["fr"], source="es"))
        assert [c.text.replace("\n", " ") for c in reply.translations[0].cues] == [
            expected(c.text) for c in GENERATED[:2]
        ]
    finally:
        await app.drain(0)


def test_bad_configuration_stops_the_server_from_being_built(tmp_path: Path, model_dir: Path) -> None:
    with pytest.raises(FailedPreconditionError, match=r"TING_TRANSLATE_CT2_MODEL_PATH=.* is not a directory"):
        create_server(settings(ct2_model_path=tmp_path / "nowhere"))
    with pytest.raises(FailedPreconditionError, match="TING_TRANSLATE_DEFAULT_ENGINE=nllb is not a configured engine"):
        create_server(settings(ct2_model_path=model_dir, ct2_device="cpu", default_engine="nllb"))
    with pytest.raises(FailedPreconditionError, match="two engines are named llm"):
        create_server(
            settings(
                llm_base_url="http://127.0.0.1:9/v1", ct2_model_path=model_dir, ct2_device="cpu", ct2_engine_name="llm"
            )
        )


def test_the_service_process_exits_with_the_reason(tmp_path: Path) -> None:
    env = {**os.environ, "TING_TRANSLATE_CT2_MODEL_PATH": str(tmp_path), "TING_TRANSLATE_PORT": "0"}
    done = subprocess.run(
        [sys.executable, "-m", "ting_translate"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert "no model.bin" in done.stderr + done.stdout and "ct2-transformers-converter" in done.stderr + done.stdout
