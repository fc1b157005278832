"""Fetch a CPU-capable NVIDIA Triton server for local runs and tests: the one PyPI's ``nvidia-pytriton`` ships.

The wheel carries ``tritonserver`` 2.51 (CPU here, GPU where CUDA is), its python backend and one backend stub per
Python version. Only those files are extracted (into ``.triton/`` by default), not the ``pytriton`` Python package,
which pins numpy < 2. The stub for this interpreter is put where the python backend looks for it. The wheel is
checked against a pinned SHA-256. Production runs NVIDIA's ``tritonserver`` container image instead
(``deploy/runners/triton.Dockerfile``).

    python tools/fetch_tritonserver.py [--dest .triton] [--stub-python 3.11]   # any python with pip
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

VERSION = "0.7.0"
WHEEL = f"nvidia_pytriton-{VERSION}-py3-none-manylinux_2_35_x86_64.whl"
SHA256 = "21f063ff93bb426d0c06b7a55e7eb9efcfe62c0dddd9a908e9877e18710128df"
KEEP = ("pytriton/tritonserver/", "nvidia_pytriton.libs/")


def fetch(dest: Path, python_version: str) -> Path:
    """Download, check and extract (the stub for ``python_version``, "3.11"); returns the server root
    (``dest/pytriton/tritonserver``)."""
    root = dest / "pytriton" / "tritonserver"
    stub = root / "backends" / "python" / "triton_python_backend_stub"
    if stub.is_file() and (root / "bin" / "tritonserver").is_file():
        return root
    with tempfile.TemporaryDirectory(prefix="tritonserver-") as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "--python-version",
                "3.11",
                "--platform",
                "manylinux_2_35_x86_64",
                "-d",
                tmp,
                f"nvidia-pytriton=={VERSION}",
            ],
            check=True,
        )
        wheel = Path(tmp) / WHEEL
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != SHA256:
            raise SystemExit(f"{WHEEL}: sha256 {digest} is not the pinned {SHA256}")
        staging = Path(tempfile.mkdtemp(prefix=".triton-", dir=dest.parent))
        with zipfile.ZipFile(wheel) as archive:
            for info in archive.infolist():
                if not info.filename.startswith(KEEP) or info.is_dir():
                    continue
                target = staging / info.filename
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, target.open("wb") as out:
                    shutil.copyfileobj(src, out)
                mode = info.external_attr >> 16
                if mode & stat.S_IXUSR or target.parent.name in ("bin",) or target.name.endswith(".so"):
                    target.chmod(0o755)
    version = python_version
    stub_src = staging / "pytriton" / "tritonserver" / "python_backend_stubs" / version / "triton_python_backend_stub"
    if not stub_src.is_file():
        raise SystemExit(f"nvidia-pytriton {VERSION} has no python backend stub for Python {version}")
    shutil.copy2(stub_src, staging / "pytriton" / "tritonserver" / "backends" / "python" / stub_src.name)
    (staging / "pytriton" / "tritonserver" / "backends" / "python" / stub_src.name).chmod(0o755)
    if dest.exists():
        shutil.rmtree(dest)
    staging.rename(dest)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", type=Path, default=Path(".triton"))
    parser.add_argument(
        "--stub-python",
        default=f"{sys.version_info.major}.{sys.version_info.minor}",
        help="Python version of the interpreter the models run in (the project's venv), e.g. 3.11",
    )
    args = parser.parse_args()
    root = fetch(args.dest.resolve(), args.stub_python)
    print(f"tritonserver: {root / 'bin' / 'tritonserver'}")


if __name__ == "__main__":
    main()
