"""The committed generated code matches the contracts (no drift), and the contracts lint clean."""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUF = ROOT / "node_modules" / ".bin" / "buf"


@pytest.fixture(scope="module")
def buf() -> Path:
    if not BUF.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("buf CLI missing in CI: `make setup` installs it from npm (@bufbuild/buf)")
        pytest.skip("buf CLI not installed; run `make setup`")
    return BUF


def _tree(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def test_generated_code_has_no_drift(buf: Path, tmp_path: Path) -> None:
    shutil.copytree(ROOT / "protos", tmp_path / "protos")
    shutil.copy(ROOT / "buf.yaml", tmp_path)
    shutil.copy(ROOT / "buf.gen.yaml", tmp_path)
    (tmp_path / "tools").mkdir()
    shutil.copy(ROOT / "tools" / "protoc_gen_grpc_python.py", tmp_path / "tools")
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    result = subprocess.run([str(buf), "generate"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    fresh = _tree(tmp_path / "libs" / "protos" / "src")
    committed = _tree(ROOT / "libs" / "protos" / "src")
    assert sorted(fresh) == sorted(committed), "run `make protos`: generated files differ from protos/"
    changed = [name for name in fresh if not filecmp.cmp(fresh[name], committed[name], shallow=False)]
    assert not changed, f"run `make protos`: stale generated files {changed}"


def test_buf_lint_clean(buf: Path) -> None:
    result = subprocess.run([str(buf), "lint"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_service_is_importable_with_its_stubs() -> None:
    from ting.asr.v1 import asr_service_pb2_grpc
    from ting.gateway.v1 import pipeline_service_pb2_grpc
    from ting.separation.v1 import separation_service_pb2_grpc
    from ting.summarization.v1 import summarization_service_pb2_grpc
    from ting.translation.v1 import translation_service_pb2_grpc

    assert asr_service_pb2_grpc.AsrServiceStub
    assert translation_service_pb2_grpc.TranslationServiceStub
    assert summarization_service_pb2_grpc.SummarizationServiceStub
    assert separation_service_pb2_grpc.SeparationServiceStub
    assert pipeline_service_pb2_grpc.PipelineServiceStub
