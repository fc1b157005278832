"""The CTranslate2 engine on a tiny model built here (no registry ships Marian/NLLB weights, and no torch needed).

:func:`build_tiny_model` writes a real CTranslate2 Transformer (1 encoder + 1 decoder layer, one head) whose
weights are set by hand so that it *translates word by word*: target token ``k`` is the upper-case spelling of
source token ``k`` (``hello`` -> ``HELLO``; punctuation and language tokens map to themselves). How:

- embeddings are one-hot in the first ``V`` dimensions (one per vocabulary entry), learned position encodings
  one-hot in the next ``P`` dimensions, so every vector is two ones and layer norm is the same affine map for all;
- every self-attention and feed-forward output projection is zero (the residual stream passes through);
- the decoder's cross-attention query/key read only the position dimensions, scaled so that decoder step ``t``
  attends (softmax ~ one-hot) to source position ``t``; its value/output copy that source token's one-hot into
  the token dimensions, 8x stronger than the decoder's own input token;
- the output projection is the identity on the token dimensions, over a target vocabulary in the same order.

So greedy or beam decoding returns the source tokens, upper-cased, then ``</s>``: outputs are exact and aligned,
which lets the tests assert content (and order) rather than only shapes. With NLLB/M2M100 conventions the forced
target language token sits at the position of the source language token, so the copy still lines up.
"""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pytest

from ting_common.errors import FailedPreconditionError
from ting_translate.engines import TranslationOptions, TranslationRequest
from ting_translate.engines.ctranslate2_engine import CTranslate2Engine, load_codec, read_sentencepiece
from ting_translate.pipeline import Translator
from ting_translate.tokens import EstimatingTokenCounter

SPECIALS = ["<blank>", "<unk>", "<s>", "</s>"]
LANGUAGE_TOKENS = ["eng_Latn", "spa_Latn", "fra_Latn", "__en__", "__es__", "__fr__", ">>es<<", ">>fr<<"]
WORDS = "hello world good evening everyone and thank you for coming the city trees , . ? ! '".split()  # noqa: SIM905
MAX_POSITIONS = 64


def pre_tokenize(text: str) -> list[str]:
    """How the tiny model's tokenizer splits text (lower-cased, ``\\w+|[^\\w\\s]+``)."""
    from tokenizers import pre_tokenizers

    return [piece for piece, _ in pre_tokenizers.Whitespace().pre_tokenize_str(text.lower())]


def expected(text: str) -> str:
    """What the tiny model makes of ``text``: its tokens upper-cased, joined by spaces."""
    return " ".join(token.upper() for token in pre_tokenize(text))


def vocabulary_of(texts: Iterable[str]) -> list[str]:
    """The word list covering ``texts`` (for models that must know every word of a document)."""
    seen: dict[str, None] = {}
    for text in texts:
        for token in pre_tokenize(text):
            seen.setdefault(token)
    return list(seen)


def build_tiny_model(
    directory: Path,
    words: Sequence[str] = WORDS,
    *,
    model_info: dict[str, object] | None = None,
    tokenizer: bool = True,
) -> Path:
    """Write the word-by-word "upper-casing" CTranslate2 model (see the module docstring) into ``directory``."""
    from ctranslate2.specs import transformer_spec
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    source_vocab = [*SPECIALS, *dict.fromkeys(w for w in words if w not in SPECIALS + LANGUAGE_TOKENS)]
    target_vocab = [*SPECIALS, *(w.upper() for w in source_vocab[len(SPECIALS) :])]
    source_vocab += LANGUAGE_TOKENS
    target_vocab += LANGUAGE_TOKENS
    v, p = len(source_vocab), MAX_POSITIONS
    d = v + p

    def zeros(*shape: int) -> np.ndarray:
        return np.zeros(shape, dtype=np.float32)

    def norm(layer: object) -> None:
        layer.gamma = np.ones(d, dtype=np.float32)  # type: ignore[attr-defined]
        layer.beta = zeros(d)  # type: ignore[attr-defined]

    def linear(layer: object, weight: np.ndarray) -> None:
        layer.weight = weight  # type: ignore[attr-defined]
        layer.bias = zeros(weight.shape[0])  # type: ignore[attr-defined]

    def passthrough(layer: object) -> None:  # zero self-attention and feed-forward
        norm(layer.self_attention.layer_norm)  # type: ignore[attr-defined]
        linear(layer.self_attention.linear[0], zeros(3 * d, d))  # type: ignore[attr-defined]
        linear(layer.self_attention.linear[1], zeros(d, d))  # type: ignore[attr-defined]
        norm(layer.ffn.layer_norm)  # type: ignore[attr-defined]
        linear(layer.ffn.linear_0, zeros(8, d))  # type: ignore[attr-defined]
        linear(layer.ffn.linear_1, zeros(d, 8))  # type: ignore[attr-defined]

    embeddings = zeros(v, d)
    embeddings[np.arange(v), np.arange(v)] = 1.0
    positions = zeros(p, d)
    positions[np.arange(p), v + np.arange(p)] = 1.0

    spec = transformer_spec.TransformerSpec.from_config((1, 1), 1)
    encoder, decoder = spec.encoder, spec.decoder
    encoder.scale_embeddings = False
    encoder.embeddings[0].weight = embeddings
    encoder.position_encodings.encodings = positions
    norm(encoder.layer_norm)
    passthrough(encoder.layer[0])
    decoder.scale_embeddings = False
    decoder.embeddings.weight = embeddings.copy()
    decoder.position_encodings.encodings = positions.copy()
    norm(decoder.layer_norm)
    layer = decoder.layer[0]
    passthrough(layer)
    norm(layer.attention.layer_norm)
    query = zeros(d, d)
    query[v:, v:] = 200.0 * np.eye(p)
    key_value = zeros(2 * d, d)
    key_value[v:d, v:] = np.eye(p)  # keys: source positions
    key_value[d : d + v, :v] = np.eye(v)  # values: source tokens
    output = zeros(d, d)
    output[:v, :v] = 8.0 * np.eye(v)
    linear(layer.attention.linear[0], query)
    linear(layer.attention.linear[1], key_value)
    linear(layer.attention.linear[2], output)
    projection = zeros(v, d)
    projection[:, :v] = np.eye(v)
    linear(decoder.projection, projection)
    spec.register_source_vocabulary(source_vocab)
    spec.register_target_vocabulary(target_vocab)
    spec.config.decoder_start_token = "</s>"
    spec.validate()  # also turns the numpy arrays into the spec's serializable variables
    directory.mkdir(parents=True, exist_ok=True)
    spec.save(str(directory))

    if tokenizer:
        word_level = Tokenizer(models.WordLevel({t: i for i, t in enumerate(source_vocab)}, unk_token="<unk>"))
        word_level.normalizer = normalizers.Lowercase()
        word_level.pre_tokenizer = pre_tokenizers.Whitespace()
        word_level.save(str(directory / "tokenizer.json"))
    if model_info is not None:
        (directory / "ting_model.json").write_text(json.dumps(model_info), encoding="utf-8")
    return directory


MARIAN_EN_ES = {"kind": "marian", "model": "tiny/upper-en-es", "source_languages": ["en"], "target_languages": ["es"]}


@pytest.fixture(scope="module")
def marian_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("ct2") / "marian", model_info=MARIAN_EN_ES)


@pytest.fixture(scope="module")
def nllb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("ct2") / "nllb")  # no ting_model.json: kind from the vocabulary


def engine(path: Path, **kwargs: object) -> CTranslate2Engine:
    values: dict[str, object] = {"device": "cpu", "beam_size": 1}
    values.update(kwargs)
    return CTranslate2Engine(path, **values)  # type: ignore[arg-type]


def request(segments: Sequence[str], source: str = "en", target: str = "es") -> TranslationRequest:
    return TranslationRequest(segments=list(segments), source_language=source, target_language=target)


# -- the model itself ------------------------------------------------------------------------------------------------
def test_tiny_model_translates_word_by_word_in_ctranslate2(marian_dir: Path) -> None:
    import ctranslate2

    translator = ctranslate2.Translator(str(marian_dir), device="cpu", compute_type="int8")
    results = translator.translate_batch(
        [["hello", "world", "</s>"], ["the", "city", "trees", "the", "the", "</s>"]], beam_size=2
    )
    assert [r.hypotheses[0] for r in results] == [["HELLO", "WORLD"], ["THE", "CITY", "TREES", "THE", "THE"]]


# -- loading and description -----------------------------------------------------------------------------------------
async def test_marian_engine_loads_and_describes_its_pair(marian_dir: Path) -> None:
    ct2 = engine(marian_dir, compute_type="auto")
    try:
        described = ct2.describe()
        assert (described.name, described.model, described.device) == ("ct2", "tiny/upper-en-es", "cpu")
        assert ct2.compute_type == "int8"  # auto on CPU
        assert (list(described.source_languages), list(described.target_languages)) == (["en"], ["es"])
        assert not described.supports_language_detection and not described.supports_glossary
        assert ct2.supports("en", "es") and ct2.supports("", "es")  # the one source is implied
        assert ct2.supports("en-GB", "es-419")  # subtags fall back to the primary language
        assert not ct2.supports("en", "fr") and not ct2.supports("es", "en")
        assert await ct2.ready()
    finally:
        await ct2.close()
    assert not await ct2.ready()


async def test_settings_override_the_model_file(marian_dir: Path) -> None:
    ct2 = engine(marian_dir, kind="marian", model_name="ops-name", source_languages=["fr"], target_languages=["es"])
    try:
        assert ct2.model == "ops-name"
        assert ct2.supports("fr", "es") and not ct2.supports("en", "es")
    finally:
        await ct2.close()


# -- batching, order, alignment --------------------------------------------------------------------------------------
async def test_batches_keep_one_output_per_input_in_order(marian_dir: Path) -> None:
    ct2 = engine(marian_dir, max_batch_size=4, beam_size=2, inter_threads=2)
    sentences = [" ".join(WORDS[k % 9 : k % 9 + 1 + k % 5]) for k in range(37)]  # varied lengths
    try:
        reply = await ct2.translate(request(sentences))
        again = await ct2.translate(request(sentences))
    finally:
        await ct2.close()
    assert sorted(reply.translations) == list(range(1, 38))
    assert [reply.translations[k + 1] for k in range(37)] == [expected(s) for s in sentences]
    assert again.translations == reply.translations  # deterministic
    assert reply.prompt_tokens == sum(len(pre_tokenize(s)) + 1 for s in sentences)  # + </s>
    assert reply.completion_tokens == sum(len(pre_tokenize(s)) for s in sentences)


async def test_concurrent_chunks_through_the_pipeline(marian_dir: Path) -> None:
    ct2 = engine(marian_dir, max_batch_size=3)
    texts = [f"{w} world" for w in WORDS[:12] if w.isalpha()] * 3
    translator = Translator(ct2, EstimatingTokenCounter(), asyncio.Semaphore(3), context_items=2)
    try:
        results, report = await translator.translate(
            texts, source="en", target="es", options=TranslationOptions(subtitles=True), max_items=4
        )
    finally:
        await ct2.close()
    assert results == [expected(t) for t in texts]
    assert report.chunk_count >= len(texts) // 4 and report.retry_count == 0 and not report.untranslated


async def test_markup_placeholders_and_lines_survive(marian_dir: Path) -> None:
    ct2 = engine(marian_dir)
    segments = [
        "⟦0⟧hello world⟦1⟧",  # italics around the cue
        "⟦0⟧ good evening, everyone.",  # speaker tag
        "- hello?\n- good evening!",  # dialogue: line by line
        "thank you for coming,\nthe city trees.",  # one sentence over two lines
        "hello ⟦0⟧ world ⟦1⟧ thank you",  # inner markup
    ]
    try:
        reply = await ct2.translate(request(segments))
    finally:
        await ct2.close()
    out = reply.translations
    assert out[1] == "⟦0⟧HELLO WORLD⟦1⟧"
    assert out[2] == "⟦0⟧ GOOD EVENING , EVERYONE ."
    assert out[3] == "- HELLO ?\n- GOOD EVENING !"
    assert out[4].count("\n") == 1 and out[4].replace("\n", " ") == "THANK YOU FOR COMING , THE CITY TREES ."
    assert out[5].count("⟦0⟧") == 1 and out[5].count("⟦1⟧") == 1
    assert out[5].index("⟦0⟧") < out[5].index("⟦1⟧")
    assert out[5].replace("⟦0⟧", "").replace("⟦1⟧", "").split() == ["HELLO", "WORLD", "THANK", "YOU"]


# -- NLLB / M2M100 / multi-target Marian token conventions -----------------------------------------------------------
async def test_nllb_language_tokens(nllb_dir: Path) -> None:
    ct2 = engine(nllb_dir)  # kind guessed from eng_Latn in the vocabulary
    try:
        assert ct2.info.kind == "nllb"
        assert ct2.info.source_languages == ["en", "es", "fr"] == ct2.info.target_languages
        assert ct2.info.source_input("en", "es", ["hello"]) == ["eng_Latn", "hello", "</s>"]
        assert ct2.info.target_prefix("fr") == ["fra_Latn"]
        assert ct2.supports("en", "fr") and ct2.supports("fr", "es")
        assert not ct2.supports("", "es")  # NLLB needs the source language
        assert not ct2.supports("en", "de")  # deu_Latn is not in this vocabulary
        reply = await ct2.translate(request(["hello world", "thank you"], "en", "fr"))
    finally:
        await ct2.close()
    assert reply.translations == {1: "HELLO WORLD", 2: "THANK YOU"}  # the forced fra_Latn is not in the text


async def test_m2m100_language_tokens(nllb_dir: Path) -> None:
    ct2 = engine(nllb_dir, kind="m2m100", target_languages=["es"])
    try:
        assert ct2.info.source_input("fr", "es", ["hello"]) == ["__fr__", "hello", "</s>"]
        assert ct2.info.target_prefix("es") == ["__es__"]
        assert ct2.info.target_languages == ["es"]
        reply = await ct2.translate(request(["good evening"], "fr", "es"))
    finally:
        await ct2.close()
    assert reply.translations == {1: "GOOD EVENING"}


async def test_marian_multi_target_tags(tmp_path: Path) -> None:
    info = {"kind": "marian", "source_languages": ["en"], "target_languages": ["es", "fr"]}
    ct2 = engine(build_tiny_model(tmp_path / "m", model_info=info))
    try:
        assert ct2.info.source_input("en", "fr", ["hello"]) == [">>fr<<", "hello", "</s>"]
        assert ct2.info.target_prefix("fr") is None
        reply = await ct2.translate(request(["hello world"], "en", "fr"))
    finally:
        await ct2.close()
    assert reply.translations == {1: "HELLO WORLD"}  # the copied >>fr<< tag is dropped


# -- configuration errors: the service must not start ----------------------------------------------------------------
def test_bad_model_directories_are_failed_precondition(tmp_path: Path, marian_dir: Path) -> None:
    with pytest.raises(FailedPreconditionError, match="is not a directory"):
        engine(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FailedPreconditionError, match=r"no model.bin.*ct2-transformers-converter"):
        engine(tmp_path / "empty")
    bare = build_tiny_model(tmp_path / "bare", tokenizer=False)
    with pytest.raises(FailedPreconditionError, match=r"serves fixed languages.*TING_TRANSLATE_CT2_SOURCE_LANGUAGE"):
        engine(bare, kind="marian")
    with pytest.raises(FailedPreconditionError, match=r"no tokenizer.*tokenizer.json"):
        engine(bare, kind="marian", source_languages=["en"], target_languages=["es"])
    with pytest.raises(FailedPreconditionError, match="no language token for de"):
        engine(bare, kind="nllb", target_languages=["de"])
    with pytest.raises(FailedPreconditionError, match="no target-language tokens >>de<<"):
        engine(marian_dir, source_languages=["en"], target_languages=["es", "de"])
    with pytest.raises(FailedPreconditionError, match="COMPUTE_TYPE=float16 is not supported on cpu"):
        engine(marian_dir, compute_type="float16")
    (bare / "model.bin").write_bytes(b"not a model")
    (bare / "tokenizer.json").write_text((marian_dir / "tokenizer.json").read_text())
    with pytest.raises(FailedPreconditionError, match="cannot load the CTranslate2 model"):
        engine(bare, kind="marian", source_languages=["en"], target_languages=["es"])


# -- SentencePiece files read without the sentencepiece package ------------------------------------------------------
def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes | int | float) -> bytes:
    if isinstance(payload, bytes):
        return _varint(number << 3 | 2) + _varint(len(payload)) + payload
    if isinstance(payload, float):
        return _varint(number << 3 | 5) + struct.pack("<f", payload)
    return _varint(number << 3) + _varint(payload)


def write_spm(path: Path, pieces: Sequence[tuple[str, float, int]], model_type: int) -> Path:
    """A SentencePiece ``ModelProto`` (pieces, trainer_spec.model_type, normalizer_spec flags)."""
    body = b"".join(
        _field(1, _field(1, piece.encode()) + _field(2, score) + _field(3, kind)) for piece, score, kind in pieces
    )
    body += _field(2, _field(3, model_type))
    body += _field(3, _field(1, b"identity") + _field(3, 1) + _field(4, 1))
    path.write_bytes(body)
    return path


def test_unigram_and_bpe_sentencepiece_models(tmp_path: Path) -> None:
    specials = [("<unk>", 0.0, 2), ("<s>", 0.0, 3), ("</s>", 0.0, 3)]
    unigram = [*specials, ("▁hello", -1.0, 1), ("▁world", -1.0, 1), ("▁", -2.0, 1)]
    unigram += [(c, -5.0, 1) for c in "helowrd"]
    (tmp_path / "u").mkdir()
    write_spm(tmp_path / "u" / "source.spm", unigram, 1)
    model = read_sentencepiece(tmp_path / "u" / "source.spm")
    assert (model.model_type, model.pieces[3], model.add_dummy_prefix) == (1, ("▁hello", -1.0, 1), True)
    codec = load_codec(tmp_path / "u")
    assert codec.description == "source.spm/target.spm"
    assert codec.encode("hello  world") == ["▁hello", "▁world"]
    assert codec.encode("hello low") == ["▁hello", "▁", "l", "o", "w"]
    assert codec.decode(["▁hello", "▁wor", "ld"]) == "hello world"

    # BPE: merges recovered from the piece ranks (the merged piece's rank orders the merges).
    bpe = [*specials, ("▁h", 0.0, 1), ("el", 0.0, 1), ("▁hel", 0.0, 1), ("ow", 0.0, 1), ("lo", 0.0, 1)]
    bpe += [("▁hello", 0.0, 1)]
    bpe += [(c, 0.0, 1) for c in ["▁", "h", "e", "l", "o", "w"]]
    (tmp_path / "b").mkdir()
    write_spm(tmp_path / "b" / "sentencepiece.bpe.model", bpe, 2)
    codec = load_codec(tmp_path / "b")
    assert codec.encode("hello") == ["▁hello"]
    assert codec.encode("hellow") == ["▁hel", "l", "ow"]  # "ow" outranks "lo", so "▁hello" cannot form

    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "source.spm").write_bytes(b"\xff\xff\xff")
    with pytest.raises(FailedPreconditionError, match="cannot read the SentencePiece model"):
        load_codec(tmp_path / "bad")
