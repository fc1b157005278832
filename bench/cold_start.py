"""Cold start: process start -> SERVING for each service, the cost of a scale-from-zero pod (minus image pull).

Each service is started as a fresh ``python -m ting_<svc>`` process on a free loopback port and the standard gRPC
health check (``grpc.health.v1.Health/Check`` on the service's own health name) is polled until it answers
SERVING (every 20 ms, with gRPC's reconnect backoff shortened to 20-50 ms so it does not round the figure up);
the time from ``Popen`` to that answer is the start time. The process is then stopped and the next run
starts from scratch (the OS page cache stays warm, as on a node that ran the image before). Targets: <= 3 s for the
services that load no model at start, <= 1.5x the model's load time for ASR. The model's load time is taken as the
smallest process that holds the model: ``Popen`` of a python that imports faster-whisper and loads the packaged model
(``WhisperModel(path, device="cpu", compute_type="int8")``), to its exit; the load alone, in this process with the
runtime already imported, is printed too.

    python bench/cold_start.py [--runs 3] [--services asr,translate,summarize,separate,gateway] [--json]

With ``--json`` the last line is one JSON object: {"services": {name: {"start_s", "runs_s", "target_s", "ok"}},
"asr_model_load_s", "asr_bare_process_s", "asr_ratio", "runs"}. Median of ``--runs`` each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ting_common.probe import free_port

# service -> (module, health service name)
SERVICES: dict[str, tuple[str, str]] = {
    "asr": ("ting_asr", "ting.asr.v1.AsrService"),
    "translate": ("ting_translate", "ting.translation.v1.TranslationService"),
    "summarize": ("ting_summarize", "ting.summarization.v1.SummarizationService"),
    "separate": ("ting_separate", "ting.separation.v1.SeparationService"),
    "gateway": ("ting_gateway", "ting.gateway.v1.PipelineService"),
}
NO_MODEL_TARGET_S = 3.0
ASR_TARGET_RATIO = 1.5
POLL_S = 0.02
# gRPC's default reconnect backoff (1 s, x1.6) would quantize the measurement: retry the connection every 20-50 ms
FAST_RECONNECT = [
    ("grpc.initial_reconnect_backoff_ms", 20),
    ("grpc.min_reconnect_backoff_ms", 20),
    ("grpc.max_reconnect_backoff_ms", 50),
]


def service_env(name: str, port: int, scratch: Path) -> dict[str, str]:
    """Environment that starts ``name`` on loopback with no external dependency."""
    prefix = f"TING_{name.upper()}_"
    env = dict(
        os.environ,
        **{
            f"{prefix}HOST": "127.0.0.1",
            f"{prefix}PORT": str(port),
            f"{prefix}LOG_LEVEL": "WARNING",
            f"{prefix}SHUTDOWN_DELAY_S": "0",
            f"{prefix}GRACE_PERIOD_S": "1",
            f"{prefix}METRICS_PORT": "0",
        },
    )
    if name == "asr":
        env["TING_ASR_ENGINE"] = "faster-whisper"
    if name == "gateway":
        # the gateway serves its own health whatever the downstream services do: point them at closed ports
        data = scratch / f"gateway-{port}"
        env.update(
            TING_GATEWAY_HTTP_HOST="127.0.0.1",
            TING_GATEWAY_HTTP_PORT=str(free_port()),
            TING_GATEWAY_DATA_DIR=str(data),
            TING_GATEWAY_JOBS_URL=f"sqlite:///{data}/jobs.sqlite3",
            TING_GATEWAY_STORAGE_URL=str(data / "storage"),
            TING_GATEWAY_ASR_ADDRESS=f"127.0.0.1:{free_port()}",
            TING_GATEWAY_TRANSLATE_ADDRESS=f"127.0.0.1:{free_port()}",
            TING_GATEWAY_SUMMARIZE_ADDRESS=f"127.0.0.1:{free_port()}",
            TING_GATEWAY_SEPARATE_ADDRESS=f"127.0.0.1:{free_port()}",
        )
    return env


def wait_serving(address: str, service: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Poll Health/Check every 20 ms until ``service`` is SERVING (the process exiting first is an error)."""
    deadline = time.monotonic() + timeout_s
    with grpc.insecure_channel(address, options=FAST_RECONNECT) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"exited with code {proc.returncode} while starting")
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=1, wait_for_ready=True)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(POLL_S)
    raise TimeoutError(f"not SERVING within {timeout_s:.0f} s")


def start_once(name: str, scratch: Path, timeout_s: float) -> float:
    """Seconds from process start to SERVING on the service's health name."""
    module, health = SERVICES[name]
    port = free_port()
    env = service_env(name, port, scratch)
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", module], env=env)
    try:
        wait_serving(f"127.0.0.1:{port}", health, proc, timeout_s)
        return time.perf_counter() - started
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def asr_model_load_s(model: str) -> float:
    """Seconds to load the packaged Whisper model in this process, its runtime already imported."""
    from faster_whisper import WhisperModel

    from ting_asr.config import AsrSettings
    from ting_asr.models import resolve_model

    path = resolve_model(model, AsrSettings().cache_dir)[1]  # joins the split weights once, outside the timing
    started = time.perf_counter()
    loaded = WhisperModel(str(path), device="cpu", compute_type="int8")
    elapsed = time.perf_counter() - started
    del loaded
    return elapsed


MINIMAL_LOADER = """
import sys
from faster_whisper import WhisperModel
WhisperModel(sys.argv[1], device="cpu", compute_type="int8")
"""


def asr_bare_process_s(model: str) -> float:
    """Seconds from process start to the model loaded in the smallest process that can hold it (a python that
    imports faster-whisper and loads the model, nothing else): the floor under any ASR pod's cold start."""
    from ting_asr.config import AsrSettings
    from ting_asr.models import resolve_model

    path = resolve_model(model, AsrSettings().cache_dir)[1]
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", MINIMAL_LOADER, str(path)], check=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="starts per service (median)")
    parser.add_argument("--services", default=",".join(SERVICES), help="comma-separated subset")
    parser.add_argument("--model", default="base", help="ASR model (TING_ASR_MODEL)")
    parser.add_argument("--timeout", type=float, default=300.0, help="longest wait for SERVING, seconds")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the figures")
    args = parser.parse_args()
    names = [n.strip() for n in args.services.split(",") if n.strip()]
    unknown = set(names) - set(SERVICES)
    if unknown:
        parser.error(f"unknown services: {', '.join(sorted(unknown))}")
    os.environ.setdefault("TING_ASR_MODEL", args.model)

    load_s: float | None = None
    bare_s: float | None = None
    if "asr" in names:
        load_s = statistics.median([asr_model_load_s(args.model) for _ in range(args.runs)])
        bare_s = statistics.median([asr_bare_process_s(args.model) for _ in range(args.runs)])

    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="ting-cold-start-") as tmp:
        for name in names:
            runs = []
            for _ in range(args.runs):
                try:
                    runs.append(start_once(name, Path(tmp), args.timeout))
                except (RuntimeError, TimeoutError) as exc:
                    raise SystemExit(f"{name}: {exc}") from exc
            start_s = statistics.median(runs)
            target = ASR_TARGET_RATIO * bare_s if name == "asr" and bare_s is not None else NO_MODEL_TARGET_S
            results[name] = {
                "start_s": round(start_s, 3),
                "runs_s": [round(r, 3) for r in runs],
                "target_s": round(target, 3),
                "ok": start_s <= target,
            }

    ratio = results["asr"]["start_s"] / bare_s if "asr" in results and bare_s else None
    print(f"cold start, process start -> SERVING (median of {args.runs}); {os.cpu_count()} CPUs")
    print(f"{'service':<10} {'start s':>8} {'target s':>9}  ok   runs")
    for name, r in results.items():
        print(f"{name:<10} {r['start_s']:>8.2f} {r['target_s']:>9.2f}  {'yes' if r['ok'] else 'NO ':<4} {r['runs_s']}")
    if load_s is not None and bare_s is not None:
        print(f"ASR model load alone ({args.model}, int8, cpu, runtime imported): {load_s:.2f} s")
        print(f"process start -> model loaded, bare faster-whisper process: {bare_s:.2f} s")
        if ratio is not None:
            print(f"ASR start / bare model process: {ratio:.2f} (target <= {ASR_TARGET_RATIO})")
    if args.json:
        figures = {
            "services": results,
            "asr_model_load_s": None if load_s is None else round(load_s, 3),
            "asr_bare_process_s": None if bare_s is None else round(bare_s, 3),
            "asr_ratio": None if ratio is None else round(ratio, 3),
            "runs": args.runs,
        }
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
