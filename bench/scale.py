"""Horizontal scaling: gateway workers sharing the PostgreSQL job queue, over one vs two ASR replicas.

For each ASR replica count (default 1, then 2) a fresh stack is started on loopback:

* ``--asr`` ASR service processes (``python -m ting_asr``, ``TING_ASR_CONCURRENCY=1``, ``TING_ASR_CPU_THREADS=1``:
  one recognition at a time on one thread each), each with its own /metrics port;
* two gateway processes (``--gateways``), each running ``--workers`` job workers on the same PostgreSQL table
  (``TING_GATEWAY_JOBS_URL``, a fresh table per phase, dropped afterwards) and the same local storage folder.
  They reach ASR the way a headless Service is reached in Kubernetes: one target naming every replica
  (``ipv4:127.0.0.1:p1,127.0.0.1:p2``), balanced client side with gRPC's ``round_robin`` policy.

Then ``--jobs`` transcription jobs of one clip (default: the eval set's ``en_us_meeting.wav``, else
``samples/es_weather.wav``) are created through the gateways' gRPC API (alternating between them) and polled to
the end. Printed: wall time from the first CreateJob to the last final state, jobs/s, audio seconds per second,
the speed-up of two replicas over one, and the exactly-once evidence: every job SUCCEEDED, each row of the job
table claimed exactly once (``attempts = 1``), the ASR calls counted by the replicas' own
``ting_grpc_requests_total`` sum to the number of jobs, and how jobs and calls split over gateways and replicas.

    python bench/scale.py [--jobs 10] [--replicas 1,2] [--gateways 2] [--workers 2] [--audio FILE] [--json]

The PostgreSQL server is ``TING_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``).
With ``--json`` the last line is one JSON object: {"phases": [{asr_replicas, jobs, wall_s, jobs_per_s,
audio_s_per_s, succeeded, attempts_1, asr_calls, asr_calls_per_replica, jobs_per_gateway, exactly_once}],
"speedup", "audio_s"}.

The gateway's channels (``ting_common.clients.create_channel``) balance with ``round_robin`` over every address a
target resolves to.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import psycopg
from psycopg import sql

from ting.asr.v1 import asr_service_pb2 as asr_pb
from ting.audio.v1 import audio_pb2
from ting.gateway.v1 import pipeline_service_pb2 as pb
from ting.gateway.v1 import pipeline_service_pb2_grpc as pb_grpc
from ting_common.probe import free_port, wait_until_serving

ROOT = Path(__file__).resolve().parent.parent
EVAL_CLIP = ROOT.parent / "shared" / "eval" / "asr" / "en_us_meeting.wav"
DEFAULT_AUDIO = EVAL_CLIP if EVAL_CLIP.is_file() else ROOT / "samples" / "es_weather.wav"
DSN = os.environ.get("TING_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
FINAL = {
    pb.JOB_STATE_SUCCEEDED,
    pb.JOB_STATE_PARTIALLY_SUCCEEDED,
    pb.JOB_STATE_FAILED,
    pb.JOB_STATE_CANCELLED,
}


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    port: int
    metrics_url: str


@dataclass
class Stack:
    asr: list[Proc] = field(default_factory=list)
    gateways: list[Proc] = field(default_factory=list)

    def stop(self) -> None:
        for proc in [*self.gateways, *self.asr]:
            if proc.popen.poll() is None:
                proc.popen.terminate()
        for proc in [*self.gateways, *self.asr]:
            try:
                proc.popen.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait()


def metric_sum(url: str, name: str, must_match: str = "") -> float:
    """Sum of a Prometheus metric's samples whose labels contain ``must_match``."""
    with urllib.request.urlopen(url, timeout=10) as reply:  # noqa: S310 - loopback http metrics URLs
        text = reply.read().decode()
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{name}(\{{[^}}]*\}})? (\S+)$", line)
        if match and must_match in (match.group(1) or ""):
            total += float(match.group(2))
    return total


def asr_calls(proc: Proc) -> int:
    """Recognition calls a replica handled (every AsrService method except health and reflection)."""
    return int(metric_sum(proc.metrics_url, "ting_grpc_requests_total", 'grpc_service="ting.asr.v1.AsrService"'))


def start_asr(index: int, model: str) -> Proc:
    port, metrics = free_port(), free_port()
    env = dict(
        os.environ,
        TING_ASR_HOST="127.0.0.1",
        TING_ASR_PORT=str(port),
        TING_ASR_METRICS_PORT=str(metrics),
        TING_ASR_MODEL=model,
        TING_ASR_ENGINE="faster-whisper",
        TING_ASR_CONCURRENCY="1",
        TING_ASR_CPU_THREADS="1",
        TING_ASR_LOG_LEVEL="WARNING",
        TING_ASR_SHUTDOWN_DELAY_S="0",
        TING_ASR_GRACE_PERIOD_S="1",
    )
    popen = subprocess.Popen([sys.executable, "-m", "ting_asr"], env=env)
    return Proc(f"asr-{index}", popen, port, f"http://127.0.0.1:{metrics}/metrics")


def start_gateway(index: int, asr_target: str, table: str, scratch: Path, workers: int) -> Proc:
    port, http = free_port(), free_port()
    env = dict(
        os.environ,
        TING_GATEWAY_HOST="127.0.0.1",
        TING_GATEWAY_PORT=str(port),
        TING_GATEWAY_HTTP_HOST="127.0.0.1",
        TING_GATEWAY_HTTP_PORT=str(http),
        TING_GATEWAY_DATA_DIR=str(scratch / f"gateway-{index}"),
        TING_GATEWAY_JOBS_URL=DSN,
        TING_GATEWAY_JOBS_TABLE=table,
        # one store shared by both replicas, as S3 is in a cluster
        TING_GATEWAY_STORAGE_URL=str(scratch / "storage"),
        TING_GATEWAY_WORKERS=str(workers),
        TING_GATEWAY_POLL_INTERVAL_S="0.1",
        TING_GATEWAY_ASR_ADDRESS=asr_target,
        # transcription-only jobs never call these
        TING_GATEWAY_TRANSLATE_ADDRESS=f"127.0.0.1:{free_port()}",
        TING_GATEWAY_SUMMARIZE_ADDRESS=f"127.0.0.1:{free_port()}",
        TING_GATEWAY_SEPARATE_ADDRESS=f"127.0.0.1:{free_port()}",
        TING_GATEWAY_LOG_LEVEL="WARNING",
        TING_GATEWAY_SHUTDOWN_DELAY_S="0",
        TING_GATEWAY_GRACE_PERIOD_S="2",
    )
    popen = subprocess.Popen([sys.executable, "-m", "ting_gateway"], env=env)
    return Proc(f"gateway-{index}", popen, port, f"http://127.0.0.1:{http}/metrics")


def job_request(audio: bytes, index: int) -> pb.CreateJobRequest:
    config = pb.PipelineConfig(recognition=asr_pb.RecognitionConfig(language_code="en"))
    return pb.CreateJobRequest(
        config=config,
        audio=audio_pb2.AudioSource(content=audio),
        request_id=str(uuid.uuid4()),
        display_name=f"scale-{index}",
    )


def table_rows(table: str) -> list[tuple[str, int]]:
    with psycopg.connect(DSN) as conn:
        cur = conn.execute(sql.SQL("SELECT id, attempts FROM {}").format(sql.Identifier(table)))
        return [(str(r[0]), int(r[1])) for r in cur.fetchall()]


def drop_table(table: str) -> None:
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))


def run_phase(replicas: int, args: argparse.Namespace, audio: bytes) -> dict[str, Any]:
    table = f"ting_scale_{uuid.uuid4().hex[:12]}"
    stack = Stack()
    with tempfile.TemporaryDirectory(prefix="ting-scale-") as tmp:
        try:
            stack.asr = [start_asr(i, args.model) for i in range(replicas)]
            for proc in stack.asr:
                wait_until_serving(f"127.0.0.1:{proc.port}", timeout_s=300, process=proc.popen)
            addresses = ",".join(f"127.0.0.1:{p.port}" for p in stack.asr)
            target = f"ipv4:{addresses}"
            stack.gateways = [start_gateway(i, target, table, Path(tmp), args.workers) for i in range(args.gateways)]
            for proc in stack.gateways:
                wait_until_serving(f"127.0.0.1:{proc.port}", timeout_s=120, process=proc.popen)
            calls_before = [asr_calls(p) for p in stack.asr]

            channels = [grpc.insecure_channel(f"127.0.0.1:{p.port}") for p in stack.gateways]
            stubs = [pb_grpc.PipelineServiceStub(ch) for ch in channels]
            started = time.perf_counter()
            ids = [stubs[i % len(stubs)].CreateJob(job_request(audio, i), timeout=60).job.id for i in range(args.jobs)]
            states: dict[str, int] = {}
            deadline = time.monotonic() + args.timeout
            while len(states) < len(ids):
                if time.monotonic() > deadline:
                    raise SystemExit(f"{replicas} ASR replica(s): {len(ids) - len(states)} jobs not final in time")
                for i, job_id in enumerate(ids):
                    if job_id in states:
                        continue
                    job = stubs[i % len(stubs)].GetJob(pb.GetJobRequest(job_id=job_id), timeout=30).job
                    if job.state in FINAL:
                        states[job_id] = job.state
                time.sleep(0.1)
            wall_s = time.perf_counter() - started
            for ch in channels:
                ch.close()

            per_replica = [asr_calls(p) - before for p, before in zip(stack.asr, calls_before, strict=True)]
            per_gateway = [int(metric_sum(p.metrics_url, "ting_gateway_jobs_finished_total")) for p in stack.gateways]
            rows = table_rows(table)
        finally:
            stack.stop()
            drop_table(table)

    attempts = [a for _id, a in rows]
    row_ids = [i for i, _a in rows]
    succeeded = sum(s == pb.JOB_STATE_SUCCEEDED for s in states.values())
    exactly_once = (
        succeeded == len(ids)
        and sorted(row_ids) == sorted(ids)
        and all(a == 1 for a in attempts)
        and sum(per_replica) == len(ids)
        and sum(per_gateway) == len(ids)
    )
    return {
        "asr_replicas": replicas,
        "jobs": len(ids),
        "wall_s": round(wall_s, 2),
        "jobs_per_s": round(len(ids) / wall_s, 3),
        "audio_s_per_s": round(len(ids) * args.audio_s / wall_s, 2),
        "succeeded": succeeded,
        "attempts_1": sum(a == 1 for a in attempts),
        "asr_calls": sum(per_replica),
        "asr_calls_per_replica": per_replica,
        "jobs_per_gateway": per_gateway,
        "exactly_once": exactly_once,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--replicas", default="1,2", help="ASR replica counts to compare, in order")
    parser.add_argument("--gateways", type=int, default=2, help="gateway processes sharing the queue")
    parser.add_argument("--workers", type=int, default=2, help="job workers per gateway (TING_GATEWAY_WORKERS)")
    parser.add_argument("--audio", default=str(DEFAULT_AUDIO), help="a WAV clip")
    parser.add_argument("--model", default="base")
    parser.add_argument("--timeout", type=float, default=600.0, help="longest wait for the jobs of one phase")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the figures")
    args = parser.parse_args()

    audio_path = Path(args.audio)
    audio = audio_path.read_bytes()
    with wave.open(str(audio_path)) as w:
        args.audio_s = w.getnframes() / w.getframerate()
    try:
        psycopg.connect(DSN, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        raise SystemExit(f"PostgreSQL at {DSN} is unreachable (set TING_TEST_POSTGRES_URL): {exc}") from exc

    phases = [run_phase(int(n), args, audio) for n in args.replicas.split(",")]
    by_replicas = {p["asr_replicas"]: p for p in phases}
    speedup = by_replicas[2]["jobs_per_s"] / by_replicas[1]["jobs_per_s"] if {1, 2} <= set(by_replicas) else None

    print(
        f"{args.jobs} transcription jobs of {audio_path.name} ({args.audio_s:.1f} s), model {args.model} int8 cpu; "
        f"{args.gateways} gateways x {args.workers} workers on one PostgreSQL queue; ASR 1 thread per replica "
        f"(round-robin); {os.cpu_count()} CPUs"
    )
    header = f"{'ASR':>3} {'wall s':>7} {'jobs/s':>7} {'audio s/s':>9}  {'ok':>5} {'att=1':>5}"
    print(f"{header}  calls/replica  jobs/gateway  once")
    for p in phases:
        print(
            f"{p['asr_replicas']:>3} {p['wall_s']:>7.1f} {p['jobs_per_s']:>7.3f} {p['audio_s_per_s']:>9.2f}  "
            f"{p['succeeded']:>2}/{p['jobs']:<2} {p['attempts_1']:>5}  {p['asr_calls_per_replica']!s:<13}  "
            f"{p['jobs_per_gateway']!s:<12}  {'yes' if p['exactly_once'] else 'NO'}"
        )
    if speedup is not None:
        print(f"throughput, 2 ASR replicas / 1: {speedup:.2f}x")
    if args.json:
        figures = {
            "phases": phases,
            "speedup": None if speedup is None else round(speedup, 3),
            "audio_s": round(args.audio_s, 2),
            "median_wall_s": statistics.median(p["wall_s"] for p in phases),
        }
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
