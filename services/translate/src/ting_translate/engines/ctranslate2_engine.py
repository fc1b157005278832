"""CTranslate2 engine: Marian / OPUS-MT, NLLB-200 and M2M100 models converted once and loaded from a directory.

The operator converts a Hugging Face model with ``ct2-transformers-converter`` (see the README) into a directory
holding ``model.bin``, ``config.json`` and the vocabulary, and drops the tokenizer next to it:

- ``tokenizer.json`` (Hugging Face ``tokenizers`` format; ``AutoTokenizer.save_pretrained`` writes it for NLLB)
  is the supported format for every kind; an optional ``target_tokenizer.json`` decodes the output when the
  target side has its own tokenizer;
- without it, SentencePiece models are read directly (the ``sentencepiece`` package is not needed): Marian's
  ``source.spm`` / ``target.spm`` and NLLB/M2M100's ``sentencepiece.bpe.model`` are parsed from their protobuf
  wire format into an equivalent ``tokenizers`` Unigram or BPE model (same pieces, scores, merges and
  normalization charsmap as ``transformers``' slow-to-fast converter).

An optional ``ting_model.json`` describes the model (environment variables win over it)::

    {"kind": "marian", "model": "Helsinki-NLP/opus-mt-en-es", "source_languages": ["en"],
     "target_languages": ["es"], "language_tokens": {"es": ">>spa<<"}}

Token conventions per kind (what the Hugging Face tokenizers produce and CTranslate2's guide uses):

- ``marian``: source = pieces + ``</s>``; one language pair, or one source and several targets selected by a
  ``>>xx<<`` token in front of the source (``language_tokens`` maps codes to those tokens, default ``>>xx<<``);
- ``nllb``: source = ``eng_Latn`` + pieces + ``</s>``, target prefix ``spa_Latn`` (FLORES-200 codes, see
  :data:`ting_translate.languages.NLLB_CODES`);
- ``m2m100``: source = ``__en__`` + pieces + ``</s>``, target prefix ``__es__``.

The languages offered are those whose tokens are in the model's vocabulary (restricted by the settings); NLLB and
M2M100 need the source language (no detection). Each segment is translated as one sentence (the model sees no
neighbouring cues, glossary or formality): ``⟦n⟧`` placeholders are lifted out and put back (leading and
trailing ones exactly, inner ones at the proportional word position), dialogue cues (every line starting with
``-``) are translated line by line and other multi-line cues are re-broken into as many balanced lines. One
output per input, in order, so the pipeline's alignment checks always pass unless the model returns nothing.

``translate_batch`` runs off the event loop in a thread pool of ``inter_threads`` workers (CTranslate2 runs that
many batches in parallel); batches are split at ``max_batch_size`` examples. The model is loaded when the engine
is built: a bad path, a missing tokenizer or an unusable language setting fails the service's start with
FAILED_PRECONDITION and a message naming the setting to fix.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import struct
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from ting_common.errors import FailedPreconditionError
from ting_translate.engines import EngineDescription, EngineReply, TranslationRequest
from ting_translate.languages import ISO_639_1, nllb_code, normalize_language, primary_subtag

__all__ = [
    "KINDS",
    "CTranslate2Engine",
    "Ct2Model",
    "SentencePieceModel",
    "TokenCodec",
    "load_codec",
    "read_sentencepiece",
]

logger = logging.getLogger(__name__)

Kind = Literal["marian", "nllb", "m2m100"]
KINDS: Final = ("marian", "nllb", "m2m100")
MODEL_INFO_FILE: Final = "ting_model.json"

_PLACEHOLDER: Final = re.compile(r"⟦\d+⟧")
_EDGE: Final = r"(?:\s|⟦\d+⟧|[-–—](?=\s))*"
_LEADING: Final = re.compile(rf"^{_EDGE}")
_TRAILING: Final = re.compile(r"(?:\s|⟦\d+⟧)*$")
_DIALOGUE_LINE: Final = re.compile(r"^\s*(?:⟦\d+⟧\s*)*[-–—]\s")
_MARIAN_TAG: Final = re.compile(r"^>>[A-Za-z_]{2,12}<<$")
_NLLB_TAG: Final = re.compile(r"^[a-z]{3}_[A-Z][a-z]{3}$")
_M2M_TAG: Final = re.compile(r"^__[a-z]{2,3}__$")


# -- SentencePiece without sentencepiece ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SentencePieceModel:
    """The parts of a SentencePiece ``ModelProto`` a tokenizer needs."""

    pieces: list[tuple[str, float, int]]  # (piece, score, type: 1 normal, 2 unknown, 3 control, 4 user, 6 byte)
    model_type: int  # 1 unigram, 2 BPE, 3 word, 4 char
    byte_fallback: bool
    precompiled_charsmap: bytes
    add_dummy_prefix: bool
    remove_extra_whitespaces: bool


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> Iterable[tuple[int, int, Any]]:
    """(field number, wire type, value) of a protobuf message: ints for varint/fixed, bytes for length-delimited."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 2:
            size, pos = _varint(data, pos)
            value, pos = data[pos : pos + size], pos + size
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if pos > len(data):
            raise ValueError("truncated protobuf field")
        yield number, wire, value


def read_sentencepiece(path: Path) -> SentencePieceModel:
    """Parse a SentencePiece model file (``ModelProto``: pieces = 1, trainer_spec = 2, normalizer_spec = 3)."""
    pieces: list[tuple[str, float, int]] = []
    model_type, byte_fallback = 1, False
    charsmap, dummy_prefix, extra_ws = b"", True, True
    for number, wire, value in _fields(path.read_bytes()):
        if number == 1 and wire == 2:
            piece, score, kind = "", 0.0, 1
            for n, w, v in _fields(value):
                if n == 1 and w == 2:
                    piece = v.decode("utf-8")
                elif n == 2 and w == 5:
                    score = struct.unpack("<f", v)[0]
                elif n == 3 and w == 0:
                    kind = v
            pieces.append((piece, score, kind))
        elif number == 2 and wire == 2:
            for n, w, v in _fields(value):
                if n == 3 and w == 0:
                    model_type = v
                elif n == 35 and w == 0:
                    byte_fallback = bool(v)
        elif number == 3 and wire == 2:
            for n, w, v in _fields(value):
                if n == 2 and w == 2:
                    charsmap = v
                elif n == 3 and w == 0:
                    dummy_prefix = bool(v)
                elif n == 4 and w == 0:
                    extra_ws = bool(v)
    if not pieces:
        raise ValueError("no pieces: not a SentencePiece model")
    return SentencePieceModel(pieces, model_type, byte_fallback, charsmap, dummy_prefix, extra_ws)


def _sentencepiece_tokenizer(model: SentencePieceModel) -> Any:
    """A ``tokenizers.Tokenizer`` equivalent to the SentencePiece model (as ``transformers``' SpmConverter builds)."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

    unk_id = next((i for i, (_, _, kind) in enumerate(model.pieces) if kind == 2), 0)
    if model.model_type == 1:
        backend: Any = models.Unigram(
            [(piece, score) for piece, score, _ in model.pieces], unk_id=unk_id, byte_fallback=model.byte_fallback
        )
    elif model.model_type == 2:
        vocab = {piece: i for i, (piece, _, _) in enumerate(model.pieces)}
        merges: list[tuple[int, int, int, str, str]] = []
        for piece, rank in vocab.items():
            for cut in range(1, len(piece)):
                left, right = piece[:cut], piece[cut:]
                if left in vocab and right in vocab:
                    merges.append((rank, vocab[left], vocab[right], left, right))
        merges.sort()
        backend = models.BPE(
            vocab,
            [(left, right) for *_, left, right in merges],
            unk_token=model.pieces[unk_id][0],
            fuse_unk=True,
            byte_fallback=model.byte_fallback,
        )
    else:
        raise ValueError(f"SentencePiece model type {model.model_type} is not supported (unigram and BPE are)")
    tokenizer = Tokenizer(backend)
    steps: list[Any] = []
    if model.precompiled_charsmap:
        steps.append(normalizers.Precompiled(model.precompiled_charsmap))
    if model.remove_extra_whitespaces:
        steps.append(normalizers.Replace(Regex(" {2,}"), " "))
        steps.append(normalizers.Strip())
    if steps:
        tokenizer.normalizer = normalizers.Sequence(steps)
    scheme = "always" if model.add_dummy_prefix else "never"
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=scheme)
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme=scheme)
    return tokenizer


class TokenCodec:
    """Text <-> token strings (CTranslate2 takes and returns token strings, so ids never matter)."""

    def __init__(self, source: Any, target: Any, description: str) -> None:
        self._source = source
        self._target = target
        self.description = description

    def encode(self, text: str) -> list[str]:
        """Pieces of ``text`` without special tokens."""
        return list(self._source.encode(text, add_special_tokens=False).tokens)

    def decode(self, tokens: Sequence[str]) -> str:
        """Text of output pieces (the tokenizer's decoder; word tokens are joined with spaces)."""
        if not tokens:
            return ""
        decoder = self._target.decoder
        if decoder is not None:
            return str(decoder.decode(list(tokens))).strip()
        if any(t.startswith("▁") for t in tokens):
            return "".join(tokens).replace("▁", " ").strip()
        return " ".join(tokens).strip()


def load_codec(directory: Path) -> TokenCodec:
    """The model's tokenizer: ``tokenizer.json`` (+ ``target_tokenizer.json``), else its SentencePiece files."""
    from tokenizers import Tokenizer

    def from_json(path: Path) -> Any:
        try:
            return Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises a bare Exception on unreadable files
            raise FailedPreconditionError(f"cannot read the tokenizer {path}: {exc}") from exc

    def from_spm(path: Path) -> Any:
        try:
            return _sentencepiece_tokenizer(read_sentencepiece(path))
        except (ValueError, OSError, UnicodeDecodeError, struct.error) as exc:
            raise FailedPreconditionError(
                f"cannot read the SentencePiece model {path} ({exc}); export tokenizer.json next to the model"
            ) from exc

    if (directory / "tokenizer.json").is_file():
        source = from_json(directory / "tokenizer.json")
        target_file = directory / "target_tokenizer.json"
        target = from_json(target_file) if target_file.is_file() else source
        return TokenCodec(source, target, "tokenizer.json")
    if (directory / "source.spm").is_file():
        source = from_spm(directory / "source.spm")
        target_file = directory / "target.spm"
        target = from_spm(target_file) if target_file.is_file() else source
        return TokenCodec(source, target, "source.spm/target.spm")
    if (directory / "sentencepiece.bpe.model").is_file():
        tokenizer = from_spm(directory / "sentencepiece.bpe.model")
        return TokenCodec(tokenizer, tokenizer, "sentencepiece.bpe.model")
    raise FailedPreconditionError(
        f"no tokenizer in {directory}: put the model's tokenizer.json there (Hugging Face: "
        "AutoTokenizer.from_pretrained(NAME).save_pretrained(DIR)), or its source.spm/target.spm (Marian) or "
        "sentencepiece.bpe.model (NLLB, M2M100)"
    )


# -- model directory ------------------------------------------------------------------------------------------------
def _read_vocabulary(directory: Path, side: str) -> set[str]:
    for name in (f"{side}_vocabulary", "shared_vocabulary"):
        json_file, txt_file = directory / f"{name}.json", directory / f"{name}.txt"
        try:
            if json_file.is_file():
                return set(json.loads(json_file.read_text(encoding="utf-8")))
            if txt_file.is_file():
                return set(txt_file.read_text(encoding="utf-8").splitlines())
        except (OSError, ValueError, TypeError) as exc:
            raise FailedPreconditionError(f"cannot read the vocabulary of the model in {directory}: {exc}") from exc
    raise FailedPreconditionError(f"{directory} has no {side}_vocabulary.json or shared_vocabulary.json")


@dataclass(frozen=True)
class Ct2Model:
    """What a model directory serves, from ``config.json``, the vocabularies, ``ting_model.json`` and settings."""

    path: Path
    kind: Kind
    model: str
    source_languages: list[str]
    target_languages: list[str]
    source_tokens: dict[str, str]  # language -> token in front of the source ("" = none)
    target_tokens: dict[str, str]  # language -> target prefix token or, for Marian, source tag ("" = none)
    eos_token: str = "</s>"  # noqa: S105 - a vocabulary token, not a secret
    add_source_eos: bool = False  # CTranslate2 appends the EOS itself (config.json)
    add_source_bos: bool = False
    special_tokens: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def load(
        cls,
        path: Path,
        *,
        kind: str = "auto",
        model_name: str = "",
        source_languages: Sequence[str] = (),
        target_languages: Sequence[str] = (),
    ) -> Ct2Model:
        """Read and check the model directory; FAILED_PRECONDITION with the fix when it cannot serve."""
        where = f"TING_TRANSLATE_CT2_MODEL_PATH={path}"
        if not path.is_dir():
            raise FailedPreconditionError(f"{where} is not a directory")
        if not (path / "model.bin").is_file():
            raise FailedPreconditionError(
                f"{where} is not a CTranslate2 model (no model.bin): convert the model once with "
                "ct2-transformers-converter --model NAME --output_dir DIR and point the setting at DIR"
            )
        info: dict[str, Any] = {}
        info_file = path / MODEL_INFO_FILE
        if info_file.is_file():
            try:
                loaded = json.loads(info_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise FailedPreconditionError(f"cannot read {info_file}: {exc}") from exc
            if not isinstance(loaded, dict):
                raise FailedPreconditionError(f"{info_file} must hold a JSON object")
            info = loaded
        config: dict[str, Any] = {}
        if (path / "config.json").is_file():
            try:
                config = dict(json.loads((path / "config.json").read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError) as exc:
                raise FailedPreconditionError(f"cannot read {path / 'config.json'}: {exc}") from exc
        source_vocab = _read_vocabulary(path, "source")
        target_vocab = _read_vocabulary(path, "target")

        chosen = kind if kind != "auto" else str(info.get("kind", "auto"))
        if chosen == "auto":
            chosen = "nllb" if "eng_Latn" in source_vocab else "m2m100" if "__en__" in source_vocab else "marian"
        if chosen not in KINDS:
            raise FailedPreconditionError(
                f"unknown model kind {chosen!r} (TING_TRANSLATE_CT2_KIND or ting_model.json 'kind'): "
                f"use one of {', '.join(KINDS)}"
            )
        overrides = {normalize_language(k, field="ting_model.json language"): str(v) for k, v in _dict(info).items()}
        sources = [normalize_language(c, field="CT2 source language") for c in source_languages] or [
            normalize_language(c, field="ting_model.json source language") for c in _list(info, "source_languages")
        ]
        targets = [normalize_language(c, field="CT2 target language") for c in target_languages] or [
            normalize_language(c, field="ting_model.json target language") for c in _list(info, "target_languages")
        ]
        source_tokens: dict[str, str] = {}
        target_tokens: dict[str, str] = {}
        if chosen == "marian":
            if not sources or not targets:
                raise FailedPreconditionError(
                    f"the Marian model at {path} serves fixed languages: set TING_TRANSLATE_CT2_SOURCE_LANGUAGE and "
                    f"TING_TRANSLATE_CT2_TARGET_LANGUAGES (e.g. en and es), or write them in {MODEL_INFO_FILE}"
                )
            source_tokens = dict.fromkeys(sources, "")
            if len(targets) == 1:
                target_tokens = {targets[0]: overrides.get(targets[0], "")}
            else:
                target_tokens = {t: overrides.get(t, f">>{t}<<") for t in targets}
            missing = sorted(tok for tok in target_tokens.values() if tok and tok not in source_vocab)
            if missing:
                raise FailedPreconditionError(
                    f"the Marian model at {path} has no target-language tokens {', '.join(missing)} in its "
                    f"vocabulary: map each target to its token in {MODEL_INFO_FILE} 'language_tokens' "
                    '(e.g. {"es": ">>spa<<"}) or configure a single target language'
                )
        else:

            def token_of(code: str) -> str:
                if code in overrides:
                    return overrides[code]
                if chosen == "nllb":
                    return nllb_code(code)
                return f"__{primary_subtag(code)}__"

            known = sorted({c for c in ISO_639_1 if token_of(c)} | set(overrides))
            wanted_sources = sources or known
            wanted_targets = targets or known
            source_tokens = {c: token_of(c) for c in wanted_sources if token_of(c) in source_vocab}
            target_tokens = {c: token_of(c) for c in wanted_targets if token_of(c) in target_vocab}
            unknown = [c for c in [*sources, *targets] if c not in source_tokens and c not in target_tokens]
            if unknown or not source_tokens or not target_tokens:
                raise FailedPreconditionError(
                    f"the {chosen} model at {path} has no language token for "
                    f"{', '.join(unknown) or 'any configured language'} in its vocabulary (is it really an "
                    f"{chosen} model? set TING_TRANSLATE_CT2_KIND, or map codes in {MODEL_INFO_FILE} "
                    "'language_tokens')"
                )
        special = {str(config.get(k, "")) for k in ("unk_token", "bos_token", "eos_token", "decoder_start_token")}
        special |= {t for t in [*source_tokens.values(), *target_tokens.values()] if t}
        special |= {"<pad>", "<blank>"}
        return cls(
            path=path,
            kind=chosen,  # type: ignore[arg-type]  # checked against KINDS above
            model=model_name or str(info.get("model", "")) or path.name,
            source_languages=sorted(source_tokens),
            target_languages=sorted(target_tokens),
            source_tokens=source_tokens,
            target_tokens=target_tokens,
            eos_token=str(config.get("eos_token") or "</s>"),
            add_source_eos=bool(config.get("add_source_eos", False)),
            add_source_bos=bool(config.get("add_source_bos", False)),
            special_tokens=frozenset(special - {""}),
        )

    def language(self, code: str, languages: Sequence[str]) -> str:
        """The entry of ``languages`` serving ``code`` (exact, else its primary subtag); "" when none."""
        if code in languages:
            return code
        if self.kind == "nllb" and primary_subtag(code) == "zh":
            return ""  # zh-Hant needs its own entry (zho_Hant): never fall back to simplified
        return primary_subtag(code) if primary_subtag(code) in languages else ""

    def source_input(self, source: str, target: str, pieces: list[str]) -> list[str]:
        """Source tokens of one sentence: language tag(s), pieces, EOS (unless CTranslate2 adds it)."""
        head: list[str] = []
        if self.kind == "marian":
            tag = self.target_tokens.get(self.language(target, self.target_languages), "")
            head = [tag] if tag else []
        else:
            head = [self.source_tokens[self.language(source, self.source_languages)]]
        tail = [] if self.add_source_eos else [self.eos_token]
        return [*head, *pieces, *tail]

    def target_prefix(self, target: str) -> list[str] | None:
        """Forced first target token (NLLB/M2M100 language token); None for Marian."""
        if self.kind == "marian":
            return None
        return [self.target_tokens[self.language(target, self.target_languages)]]


def _dict(info: dict[str, Any]) -> dict[str, Any]:
    value = info.get("language_tokens", {})
    if not isinstance(value, dict):
        raise FailedPreconditionError(f"{MODEL_INFO_FILE}: 'language_tokens' must be an object code -> token")
    return value


def _list(info: dict[str, Any], key: str) -> list[str]:
    value = info.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise FailedPreconditionError(f"{MODEL_INFO_FILE}: {key!r} must be a list of language codes")
    return value


# -- segments -> sentences -> segments ------------------------------------------------------------------------------
@dataclass
class _Unit:
    """One sentence to translate, with the markup lifted out of it."""

    prefix: str
    text: str
    suffix: str
    inner: list[tuple[float, str]]  # (relative position in text, placeholder)

    @classmethod
    def of(cls, raw: str) -> _Unit:
        lead = _LEADING.match(raw)
        prefix = lead.group(0) if lead else ""
        rest = raw[len(prefix) :]
        trail = _TRAILING.search(rest)
        suffix = trail.group(0) if trail else ""
        body = rest[: len(rest) - len(suffix)] if suffix else rest
        inner: list[tuple[float, str]] = []
        plain: list[str] = []
        size = 0
        for piece in re.split(r"(⟦\d+⟧)", body):
            if _PLACEHOLDER.fullmatch(piece):
                inner.append((float(size), piece))
            else:
                plain.append(piece)
                size += len(piece)
        text = re.sub(r"\s+", " ", "".join(plain)).strip()
        total = max(1, size)
        return cls(prefix, text, suffix, [(pos / total, ph) for pos, ph in inner])

    def render(self, translated: str) -> str:
        text = translated.strip()
        if self.inner:
            words = text.split(" ") if " " in text else list(text)
            glue = " " if " " in text else ""
            inserts: dict[int, list[str]] = {}
            for fraction, placeholder in self.inner:
                inserts.setdefault(round(fraction * len(words)), []).append(placeholder)
            out: list[str] = []
            for k in range(len(words) + 1):
                out.extend(inserts.get(k, []))
                if k < len(words):
                    out.append(words[k])
            text = glue.join(out)
        return f"{self.prefix}{text}{self.suffix}"


def _balance(text: str, lines: int) -> str:
    """``text`` broken into ``lines`` lines of similar length (at spaces; anywhere for unspaced scripts)."""
    if lines <= 1:
        return text
    spaced = " " in text
    words = text.split(" ") if spaced else list(text)
    if len(words) < lines:
        return text
    glue = " " if spaced else ""
    goal = len(text) / lines
    out: list[list[str]] = [[]]
    length = 0.0
    for k, word in enumerate(words):
        remaining_words = len(words) - k
        remaining_lines = lines - len(out)
        if out[-1] and remaining_lines > 0 and (length + len(word) / 2 > goal or remaining_words <= remaining_lines):
            out.append([])
            length = 0.0
        out[-1].append(word)
        length += len(word) + len(glue)
    return "\n".join(glue.join(line) for line in out)


def _split_segment(segment: str) -> tuple[list[_Unit], bool]:
    """Units of one segment and whether they are dialogue lines (else one unit, re-broken into as many lines)."""
    lines = segment.split("\n")
    if len(lines) > 1 and all(_DIALOGUE_LINE.match(line) for line in lines):
        return [_Unit.of(line) for line in lines], True
    return [_Unit.of(segment.replace("\n", " "))], False


# -- the engine -----------------------------------------------------------------------------------------------------
class CTranslate2Engine:
    """:class:`~ting_translate.engines.TranslationEngine` over a local CTranslate2 ``Translator``."""

    def __init__(
        self,
        model_path: Path,
        *,
        kind: str = "auto",
        model_name: str = "",
        source_languages: Sequence[str] = (),
        target_languages: Sequence[str] = (),
        device: str = "auto",
        compute_type: str = "auto",
        inter_threads: int = 1,
        intra_threads: int = 0,
        max_batch_size: int = 32,
        beam_size: int = 4,
        max_input_tokens: int = 512,
        max_decoding_length: int = 256,
        name: str = "ct2",
        default_cues_per_chunk: int = 20,
    ) -> None:
        import ctranslate2

        self.info = Ct2Model.load(
            model_path,
            kind=kind,
            model_name=model_name,
            source_languages=source_languages,
            target_languages=target_languages,
        )
        self.codec = load_codec(model_path)
        if device == "auto":
            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        if device not in ("cpu", "cuda"):
            raise FailedPreconditionError(f"TING_TRANSLATE_CT2_DEVICE must be auto, cpu or cuda, got {device!r}")
        if compute_type == "auto":
            compute_type = "float16" if device == "cuda" else "int8"
        supported = set(ctranslate2.get_supported_compute_types(device))
        if compute_type != "default" and compute_type not in supported:
            raise FailedPreconditionError(
                f"TING_TRANSLATE_CT2_COMPUTE_TYPE={compute_type} is not supported on {device}; "
                f"choose one of: {', '.join(sorted(supported))}"
            )
        try:
            self._translator: Any = ctranslate2.Translator(
                str(model_path),
                device=device,
                compute_type=compute_type,
                inter_threads=inter_threads,
                intra_threads=intra_threads,
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise FailedPreconditionError(f"cannot load the CTranslate2 model at {model_path}: {exc}") from exc
        self._name = name
        self.device = device
        self.compute_type = compute_type
        self.max_batch_size = max_batch_size
        self.beam_size = beam_size
        self.max_input_tokens = max_input_tokens
        self.max_decoding_length = max_decoding_length
        self.default_cues_per_chunk = default_cues_per_chunk
        self._pool: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=inter_threads, thread_name_prefix=f"ct2-{name}"
        )
        logger.info(
            "CTranslate2 model loaded",
            extra={
                "path": str(model_path),
                "kind": self.info.kind,
                "device": device,
                "compute_type": compute_type,
                "tokenizer": self.codec.description,
                "sources": self.info.source_languages,
                "targets": self.info.target_languages,
            },
        )

    @property
    def name(self) -> str:
        """Engine name for ``TranslationConfig.engine``."""
        return self._name

    @property
    def model(self) -> str:
        """The model (``ting_model.json`` 'model', ``TING_TRANSLATE_CT2_MODEL_NAME`` or the directory name)."""
        return self.info.model

    @property
    def chunk_token_budget(self) -> int:
        """Tokens per chunk: the model's input length (each segment is translated on its own)."""
        return self.max_input_tokens

    def describe(self) -> EngineDescription:
        """Facts for ``ListEngines``: the languages of the model, no detection/glossary/context/formality."""
        sources = ", ".join(self.info.source_languages[:6]) + (" ..." if len(self.info.source_languages) > 6 else "")
        targets = ", ".join(self.info.target_languages[:6]) + (" ..." if len(self.info.target_languages) > 6 else "")
        return EngineDescription(
            name=self._name,
            description=(
                f"CTranslate2 {self.info.kind} model from {self.info.path} ({self.compute_type}, beam "
                f"{self.beam_size}), local and offline; {sources} -> {targets}"
            ),
            model=self.info.model,
            device=self.device,
            source_languages=self.info.source_languages,
            target_languages=self.info.target_languages,
            supports_language_detection=False,
            supports_glossary=False,
            supports_context=False,
            supports_formality=False,
            default_cues_per_chunk=self.default_cues_per_chunk,
        )

    def supports(self, source: str, target: str) -> bool:
        """True for the model's directions; an empty source only where it is implied (one-source Marian)."""
        info = self.info
        if not info.language(target, info.target_languages):
            return False
        if not source:
            return info.kind == "marian" and len(info.source_languages) == 1
        return bool(info.language(source, info.source_languages))

    async def ready(self) -> bool:
        """True while the model is loaded."""
        return self._pool is not None

    async def close(self) -> None:
        """Stop the worker threads and free the model."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
            self._translator.unload_model()

    def _translate_sync(self, sources: list[list[str]], prefixes: list[list[str]] | None) -> list[list[str]]:
        results = self._translator.translate_batch(
            sources,
            target_prefix=prefixes,
            max_batch_size=self.max_batch_size,
            beam_size=self.beam_size,
            max_input_length=self.max_input_tokens,
            max_decoding_length=self.max_decoding_length,
            disable_unk=True,
        )
        return [list(r.hypotheses[0]) for r in results]

    async def translate(self, request: TranslationRequest) -> EngineReply:
        """Translate every segment of the chunk (context, glossary and formality are not used)."""
        if self._pool is None:
            raise FailedPreconditionError(f"the CTranslate2 engine {self._name!r} is closed")
        source, target = request.source_language, request.target_language
        units: list[tuple[int, _Unit]] = []
        dialogue: dict[int, bool] = {}
        for number, segment in enumerate(request.segments, start=1):
            pieces, is_dialogue = _split_segment(segment)
            dialogue[number] = is_dialogue
            units.extend((number, unit) for unit in pieces)
        todo = [(k, unit) for k, (_, unit) in enumerate(units) if unit.text]
        inputs = [self.info.source_input(source, target, self.codec.encode(unit.text)) for _, unit in todo]
        prefix = self.info.target_prefix(target)
        prefixes = [prefix for _ in inputs] if prefix is not None else None
        outputs: list[list[str]] = []
        if inputs:
            loop = asyncio.get_running_loop()
            outputs = await loop.run_in_executor(self._pool, self._translate_sync, inputs, prefixes)
        texts = {
            k: self.codec.decode([t for t in out if t not in self.info.special_tokens])
            for (k, _), out in zip(todo, outputs, strict=True)
        }
        rendered: dict[int, list[str]] = {}
        failed: set[int] = set()
        for k, (number, unit) in enumerate(units):
            if unit.text and not texts.get(k):
                failed.add(number)  # the model said nothing: "" lets the pipeline retry, never markup alone
            rendered.setdefault(number, []).append(unit.render(texts.get(k, "")))
        translations: dict[int, str] = {}
        for number, segment in enumerate(request.segments, start=1):
            parts = rendered[number]
            if number in failed:
                translations[number] = ""
            elif dialogue[number]:
                translations[number] = "\n".join(parts)
            else:
                translations[number] = _balance(parts[0], segment.count("\n") + 1)
        return EngineReply(
            translations=translations,
            prompt_tokens=sum(len(i) for i in inputs),
            completion_tokens=sum(len(o) for o in outputs),
        )
