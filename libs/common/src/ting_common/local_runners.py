"""Start model runners on loopback, as real processes: for tests, benchmarks and trying the runner engines locally.

* :func:`start_triton`: the real ``tritonserver`` binary (CPU build from PyPI's ``nvidia-pytriton`` wheel,
  fetched into ``.triton/`` by ``make setup``) over the project's model repositories. The python backend's stub
  runs the models in this interpreter's environment: the directory of ``sys.executable`` goes first on ``PATH``
  (the embedded interpreter finds its venv from there) and ``LD_LIBRARY_PATH`` names this Python's own
  ``libpython`` (otherwise the stub may bind a system libpython of another patch release).
  Models must move tensors with DLPack and JSON as UINT8 (see :mod:`ting_common.triton_backend`): the stub's
  ``as_numpy()`` and BYTES tensors are wrong under numpy 2.
* :func:`start_bento`: ``bentoml serve path/to/service.py:Class`` with tracking off and a private ``BENTOML_HOME``.

Both wait until the runner says it is ready, and fail with the end of its log when it dies first. Production runs
the runners from their images (``deploy/runners/``), not through this module.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from ting_common.probe import free_port


@dataclass
class RunnerProcess:
    """A runner started by this module. ``stop()`` ends it (SIGTERM, then SIGKILL); ``kill()`` is SIGKILL now."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    http_url: str
    grpc_address: str = ""
    metrics_url: str = ""
    ports: dict[str, int] = field(default_factory=dict)

    def log_tail(self, limit: int = 4000) -> str:
        """The last ``limit`` characters of the runner's log."""
        try:
            return self.log_path.read_text(errors="replace")[-limit:]
        except OSError:
            return ""

    def alive(self) -> bool:
        """True while the process runs."""
        return self.process.poll() is None

    def _descendants(self) -> list[int]:
        """Every process below the runner (BentoML's workers start their own sessions, out of its group)."""
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                parent = int(stat[stat.rindex(")") + 2 :].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
        found, queue = [], [self.process.pid]
        while queue:
            for child in children.get(queue.pop(), []):
                found.append(child)
                queue.append(child)
        return found

    def kill(self) -> None:
        """SIGKILL the runner and everything it started (its process group and descendants): a crash, as tests
        need."""
        descendants = self._descendants() if self.process.poll() is None else []
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        for pid in descendants:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM, wait up to ``timeout_s``, then SIGKILL the process group."""
        descendants = self._descendants() if self.process.poll() is None else []
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout_s)
        self.kill()
        for pid in descendants:  # orphans the SIGTERM did not end
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def __enter__(self) -> RunnerProcess:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def _wait_ready(runner: RunnerProcess, path: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    url = runner.http_url.rstrip("/") + path
    while time.monotonic() < deadline:
        if not runner.alive():
            raise RuntimeError(
                f"{runner.name} exited with {runner.process.returncode} before it was ready:\n{runner.log_tail()}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:  # noqa: S310 (loopback URL we built)
                if reply.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    runner.stop()
    raise TimeoutError(f"{runner.name} was not ready within {timeout_s:.0f} s:\n{runner.log_tail()}")


def _python_env(extra: dict[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(extra or {})
    return env


def triton_root(base: Path) -> Path:
    """The server root inside a ``fetch_tritonserver.py`` destination (``.triton/``)."""
    return base / "pytriton" / "tritonserver"


def start_triton(
    server_dir: Path,
    repositories: list[Path],
    log_path: Path,
    *,
    env: dict[str, str] | None = None,
    ports: dict[str, int] | None = None,
    ready_timeout_s: float = 180.0,
) -> RunnerProcess:
    """Serve ``repositories`` (model repository directories) with ``tritonserver`` from ``server_dir`` (``.triton``)
    on loopback ports (``ports``: ``http``, ``grpc``, ``metrics``; free ones where not given, so that a restart can
    take the same ones); returns when every model is ready (``/v2/health/ready``)."""
    root = triton_root(server_dir)
    binary = root / "bin" / "tritonserver"
    if not binary.is_file():
        raise FileNotFoundError(f"{binary} is missing; run `make setup` (tools/fetch_tritonserver.py)")
    ports = {name: (ports or {}).get(name) or free_port() for name in ("http", "grpc", "metrics")}
    run_env = _python_env(env)
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    run_env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (libdir, run_env.get("LD_LIBRARY_PATH", "")) if p)
    argv = [
        str(binary),
        *[f"--model-repository={repo}" for repo in repositories],
        f"--backend-directory={root / 'backends'}",
        "--http-address=127.0.0.1",
        f"--http-port={ports['http']}",
        "--grpc-address=127.0.0.1",
        f"--grpc-port={ports['grpc']}",
        "--metrics-address=127.0.0.1",
        f"--metrics-port={ports['metrics']}",
        "--allow-gpu-metrics=false",
        "--exit-timeout-secs=5",
        "--strict-readiness=true",
    ]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=run_env, start_new_session=True)
    runner = RunnerProcess(
        name="tritonserver",
        process=process,
        log_path=log_path,
        http_url=f"http://127.0.0.1:{ports['http']}",
        grpc_address=f"127.0.0.1:{ports['grpc']}",
        metrics_url=f"http://127.0.0.1:{ports['metrics']}/metrics",
        ports=ports,
    )
    _wait_ready(runner, "/v2/health/ready", ready_timeout_s)
    return runner


def start_bento(
    target: str,
    log_path: Path,
    *,
    cwd: Path | None = None,
    port: int = 0,
    env: dict[str, str] | None = None,
    ready_timeout_s: float = 120.0,
) -> RunnerProcess:
    """``bentoml serve target`` (``path/to/service.py:Class``) on a loopback port; returns once ``/readyz`` is 200."""
    port = port or free_port()
    bentoml = Path(sys.executable).parent / "bentoml"
    home = log_path.parent / f"bentoml-home-{port}"
    home.mkdir(parents=True, exist_ok=True)
    run_env = _python_env({"BENTOML_HOME": str(home), **(env or {})})
    run_env["BENTOML_DO_NOT_TRACK"] = "true"
    argv = [str(bentoml), "serve", target, "--host", "127.0.0.1", "--port", str(port)]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env=run_env, cwd=cwd, start_new_session=True
        )
    runner = RunnerProcess(
        name=f"bentoml serve {target}",
        process=process,
        log_path=log_path,
        http_url=f"http://127.0.0.1:{port}",
        metrics_url=f"http://127.0.0.1:{port}/metrics",
        ports={"http": port},
    )
    _wait_ready(runner, "/readyz", ready_timeout_s)
    return runner


__all__ = ["RunnerProcess", "start_bento", "start_triton", "triton_root"]
