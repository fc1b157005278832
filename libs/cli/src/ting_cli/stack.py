"""``ting up``: the whole local stack - ASR, translation, summarization, separation and the gateway - as child
processes of one command, in its process group. Ctrl-C (or SIGTERM) stops them all; if one dies, the rest are
stopped and ``ting up`` exits non-zero.

Ports come from the services' own settings (``TING_ASR_PORT`` ... ``TING_GATEWAY_PORT``,
``TING_GATEWAY_HTTP_PORT``; defaults 50051-50054, 50050 and 8080); a default port that is busy is replaced by a
free one (said on stderr), an explicitly set one is not. Every other ``TING_*`` variable reaches the services as
is - e.g. ``TING_TRANSLATE_LLM_BASE_URL`` / ``TING_SUMMARIZE_LLM_BASE_URL`` to add an LLM.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from ting_common.probe import free_port, wait_until_serving


@dataclass(frozen=True)
class ServiceSpec:
    """One service of the stack."""

    name: str
    module: str
    env_prefix: str
    default_port: int
    grpc_service: str


SERVICES = (
    ServiceSpec("asr", "ting_asr", "TING_ASR_", 50051, "ting.asr.v1.AsrService"),
    ServiceSpec("translate", "ting_translate", "TING_TRANSLATE_", 50052, "ting.translation.v1.TranslationService"),
    ServiceSpec("summarize", "ting_summarize", "TING_SUMMARIZE_", 50053, "ting.summarization.v1.SummarizationService"),
    ServiceSpec("separate", "ting_separate", "TING_SEPARATE_", 50054, "ting.separation.v1.SeparationService"),
)
GATEWAY = ServiceSpec("gateway", "ting_gateway", "TING_GATEWAY_", 50050, "ting.gateway.v1.PipelineService")


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether ``port`` can be bound on ``host`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def choose_port(env: Mapping[str, str], variable: str, default: int, say: bool = True) -> int:
    """The port ``variable`` sets; else ``default`` when free, else a free one."""
    if env.get(variable):
        return int(env[variable])
    if port_is_free(default):
        return default
    port = free_port()
    if say:
        print(f"ting up: port {default} is busy; using {port} (set {variable} to choose)", file=sys.stderr)
    return port


@dataclass
class Stack:
    """The running stack's processes and addresses."""

    host: str = "127.0.0.1"
    log_level: str = "WARNING"
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    ports: dict[str, int] = field(default_factory=dict)
    http_port: int = 0
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def address(self, name: str) -> str:
        """``host:port`` of a service (``gateway`` included)."""
        return f"127.0.0.1:{self.ports[name]}"

    @property
    def url(self) -> str:
        """The gateway's REST base URL (the web page)."""
        return f"http://127.0.0.1:{self.http_port}"

    def _env_for(self, spec: ServiceSpec) -> dict[str, str]:
        env = dict(self.env)
        env.setdefault(f"{spec.env_prefix}HOST", self.host)
        env[f"{spec.env_prefix}PORT"] = str(self.ports[spec.name])
        env.setdefault(f"{spec.env_prefix}LOG_FORMAT", "text")
        env.setdefault(f"{spec.env_prefix}LOG_LEVEL", self.log_level)
        env.setdefault(f"{spec.env_prefix}SHUTDOWN_DELAY_S", "0")
        return env

    def start(self, timeout_s: float = 300.0) -> None:
        """Start every service, then the gateway; return once all answer health checks SERVING."""
        for spec in (*SERVICES, GATEWAY):
            self.ports[spec.name] = choose_port(self.env, f"{spec.env_prefix}PORT", spec.default_port)
        self.http_port = choose_port(self.env, "TING_GATEWAY_HTTP_PORT", 8080)
        for spec in SERVICES:
            self._spawn(spec, self._env_for(spec))
        for spec in SERVICES:
            self._wait(spec, timeout_s)
        env = self._env_for(GATEWAY)
        env["TING_GATEWAY_HTTP_PORT"] = str(self.http_port)
        env.setdefault("TING_GATEWAY_HTTP_HOST", self.host)
        env.setdefault("TING_GATEWAY_PUBLIC_URL", self.url)
        for spec, variable in zip(
            SERVICES,
            ("ASR_ADDRESS", "TRANSLATE_ADDRESS", "SUMMARIZE_ADDRESS", "SEPARATE_ADDRESS"),
            strict=True,
        ):
            env[f"TING_GATEWAY_{variable}"] = self.address(spec.name)
        self._spawn(GATEWAY, env)
        self._wait(GATEWAY, timeout_s)

    def _spawn(self, spec: ServiceSpec, env: dict[str, str]) -> None:
        # Children stay in our process group: a Ctrl-C in the terminal reaches them all at once.
        self.processes[spec.name] = subprocess.Popen([sys.executable, "-m", spec.module], env=env)

    def _wait(self, spec: ServiceSpec, timeout_s: float) -> None:
        try:
            wait_until_serving(
                self.address(spec.name),
                service=spec.grpc_service,
                timeout_s=timeout_s,
                process=self.processes[spec.name],
            )
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"the {spec.name} service did not start: {exc}") from exc

    def dead(self) -> list[str]:
        """Services whose process has exited."""
        return [name for name, proc in self.processes.items() if proc.poll() is not None]

    def stop(self, grace_s: float = 15.0) -> None:
        """SIGTERM every process (gateway first, so it requeues its jobs), wait, then SIGKILL stragglers."""
        order = [GATEWAY.name, *(spec.name for spec in SERVICES)]
        for name in order:
            proc = self.processes.get(name)
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for name in order:
            proc = self.processes.get(name)
            if proc is None:
                continue
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.contextmanager
def running_stack(stack: Stack) -> Iterator[Stack]:
    """Start ``stack``; stop it on exit (also after Ctrl-C)."""
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@contextlib.contextmanager
def private_stack(**extra_env: str) -> Iterator[Stack]:
    """A throw-away stack on free loopback ports with a temporary data directory and no LLM (benchmarks, tests);
    ``extra_env`` adds settings (``TING_GATEWAY_WORKERS="0"`` ...)."""
    with tempfile.TemporaryDirectory(prefix="ting-stack-") as data:
        env = {k: v for k, v in os.environ.items() if not k.endswith("LLM_BASE_URL")}
        for spec in (*SERVICES, GATEWAY):
            env[f"{spec.env_prefix}PORT"] = str(free_port())
        env["TING_GATEWAY_HTTP_PORT"] = str(free_port())
        env["TING_GATEWAY_DATA_DIR"] = data
        env.update(extra_env)
        with running_stack(Stack(env=env, log_level="ERROR")) as stack:
            yield stack


def wait_for_signal(stack: Stack) -> int:
    """Block until SIGINT/SIGTERM (exit 0) or until a service dies (exit 1)."""
    stopping: list[int] = []

    def handler(signum: int, _frame: object) -> None:
        stopping.append(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stopping:
            dead = stack.dead()
            if dead:
                print(f"ting up: the {', '.join(dead)} service stopped; stopping the stack", file=sys.stderr)
                return 1
            time.sleep(0.5)
        return 0
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def add_up_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``ting up``."""
    p = sub.add_parser(
        "up",
        help="run the whole local stack (all services + gateway) until Ctrl-C",
        description="Start ASR, translation, summarization, separation and the gateway (gRPC + REST + web page) "
        "as one process group; Ctrl-C stops them all.",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface every service binds (default: 127.0.0.1)")
    p.add_argument("--log-level", default="WARNING", help="log level of the services (default: WARNING)")


def run_up(args: argparse.Namespace) -> int:
    """``ting up``."""
    stack = Stack(host=args.host, log_level=args.log_level)
    started = False
    try:
        with running_stack(stack):
            started = True
            print(f"Ting is up: web page and REST API at {stack.url}/  (OpenAPI: {stack.url}/docs)")
            print(f"gateway gRPC at {stack.address('gateway')}; services: ", end="")
            print(", ".join(f"{spec.name} {stack.address(spec.name)}" for spec in SERVICES))
            print("Ctrl-C stops everything.", flush=True)
            return wait_for_signal(stack)
    except KeyboardInterrupt:  # Ctrl-C: a normal stop once up; an aborted start before
        return 0 if started else 130
    except RuntimeError as exc:
        print(f"ting: error: {exc}", file=sys.stderr)
        return 1
