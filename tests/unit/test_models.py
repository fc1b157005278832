"""Resolving model names to packaged weights, and the one-time atomic join of split weights."""

from __future__ import annotations

from pathlib import Path

import pytest

from ting_asr.models import is_model_dir, resolve_model
from ting_common.errors import NotFoundError


def test_tiny_en_is_used_in_place() -> None:
    name, path, multilingual = resolve_model("tiny.en", Path("/nonexistent-cache"))
    assert name == "tiny.en"
    assert not multilingual
    assert is_model_dir(path)
    assert "site-packages" in str(path)


def test_base_is_joined_once_atomically(tmp_path: Path) -> None:
    name, path, multilingual = resolve_model("base", tmp_path)
    assert (name, multilingual) == ("base", True)
    assert path.parent == tmp_path and is_model_dir(path)
    size = (path / "model.bin").stat().st_size
    assert size > 140_000_000
    mtime = (path / "model.bin").stat().st_mtime_ns
    # Second resolve reuses the joined copy; no temporary directories are left behind.
    _, again, _ = resolve_model("whisper-base", tmp_path)
    assert again == path and (path / "model.bin").stat().st_mtime_ns == mtime
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_incomplete_join_is_redone(tmp_path: Path) -> None:
    _, path, _ = resolve_model("base", tmp_path)
    with (path / "model.bin").open("r+b") as fh:
        fh.truncate(1000)
    _, again, _ = resolve_model("base", tmp_path)
    assert (again / "model.bin").stat().st_size > 140_000_000


def test_model_by_path(tmp_path: Path) -> None:
    _, tiny, _ = resolve_model("tiny.en", tmp_path)
    name, path, _ = resolve_model(str(tiny), tmp_path)
    assert path == tiny.resolve() and name == str(tiny.resolve())
    with pytest.raises(NotFoundError, match="not a CTranslate2 model"):
        resolve_model(str(tmp_path), tmp_path)
    with pytest.raises(NotFoundError, match="unknown model"):
        resolve_model(str(tiny), tmp_path, allow_paths=False)


def test_unknown_model() -> None:
    with pytest.raises(NotFoundError, match=r"available: base, tiny\.en"):
        resolve_model("large-v3", Path("/tmp"))
