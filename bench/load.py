"""Gateway under load: N concurrent clients calling ``Process`` for a bounded time each, on loopback.

Each client loops: ``Process`` (transcribe + summary) of a short clip (default ``samples/es_weather.wav``, 11 s),
as soon as the previous call returns. For each concurrency level (default 1, 4, 16) it prints the calls
finished, throughput (calls/s and audio seconds per second), p50 / p99 latency, errors (target 0, any status
other than OK counts) and the gateway's resident memory (current and peak). The per-caller limit of the gateway
is raised to the highest level (anonymous callers share one identity).

    python bench/load.py [--audio FILE] [--levels 1,4,16] [--seconds 20] [--json]

With ``--json`` the last line is one JSON object: {"levels": [{clients, calls, errors, calls_per_s,
audio_s_per_s, p50_s, p99_s, rss_mb}], "peak_rss_mb"}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import psutil

from ting.audio.v1 import audio_pb2
from ting.gateway.v1 import pipeline_service_pb2 as pb
from ting.gateway.v1 import pipeline_service_pb2_grpc as pb_grpc
from ting.summarization.v1 import summarization_service_pb2 as sum_pb
from ting_cli.stack import private_stack

ROOT = Path(__file__).resolve().parent.parent


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def level(address: str, audio: bytes, clients: int, seconds: float) -> dict[str, Any]:
    request = pb.ProcessRequest(
        config=pb.PipelineConfig(summary=sum_pb.SummaryConfig()), audio=audio_pb2.AudioSource(content=audio)
    )
    latencies: list[float] = []
    errors: dict[str, int] = {}
    audio_ms = 0
    deadline = time.perf_counter() + seconds
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.PipelineServiceStub(channel)

        async def client() -> None:
            nonlocal audio_ms
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                try:
                    response = await stub.Process(request, timeout=600)
                except grpc.aio.AioRpcError as exc:
                    errors[exc.code().name] = errors.get(exc.code().name, 0) + 1
                    continue
                latencies.append(time.perf_counter() - t0)
                audio_ms += response.audio_duration_ms

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        wall = time.perf_counter() - started
    return {
        "clients": clients,
        "calls": len(latencies),
        "errors": sum(errors.values()),
        "error_codes": errors,
        "calls_per_s": round(len(latencies) / wall, 3),
        "audio_s_per_s": round(audio_ms / 1000 / wall, 2),
        "p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "p99_s": round(percentile(latencies, 0.99), 3) if latencies else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--audio", type=Path, default=ROOT / "samples" / "es_weather.wav")
    parser.add_argument("--levels", default="1,4,16", help="comma-separated client counts")
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of each level")
    parser.add_argument("--json", action="store_true", help="print a JSON line last")
    args = parser.parse_args()
    levels = [int(n) for n in args.levels.split(",")]
    audio = args.audio.read_bytes()
    results: list[dict[str, Any]] = []
    with private_stack(TING_GATEWAY_MAX_CONCURRENT_PER_KEY=str(max(levels))) as stack:
        gateway = psutil.Process(stack.processes["gateway"].pid)
        address = stack.address("gateway")
        asyncio.run(level(address, audio, 1, 0.1))  # warm-up
        for clients in levels:
            result = asyncio.run(level(address, audio, clients, args.seconds))
            result["rss_mb"] = round(gateway.memory_info().rss / 2**20, 1)
            results.append(result)
            print(
                f"{clients:>3} clients: {result['calls']} calls, {result['calls_per_s']} calls/s, "
                f"{result['audio_s_per_s']} audio s/s, p50 {result['p50_s']} s, p99 {result['p99_s']} s, "
                f"errors {result['errors']} {result['error_codes'] or ''}, gateway RSS {result['rss_mb']} MB",
                flush=True,
            )
        peak = _peak_rss_mb(gateway.pid)
    print(f"gateway peak RSS {peak:.1f} MB")
    if args.json:
        print(json.dumps({"levels": results, "peak_rss_mb": round(peak, 1)}))
    return 0


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


if __name__ == "__main__":
    sys.exit(main())
