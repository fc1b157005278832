"""Helpers for scripts and tests that start a Ting service: pick a free port, wait until it serves."""

from __future__ import annotations

import socket
import subprocess
import time
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on ``host``."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_until_serving(
    address: str,
    *,
    service: str = "",
    timeout_s: float = 120.0,
    process: subprocess.Popen[Any] | None = None,
) -> None:
    """Poll the standard health service at ``address`` until ``service`` (or the server) is SERVING.

    Raises RuntimeError when ``process`` exits first and TimeoutError after ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"the service at {address} exited with code {process.returncode} while starting")
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.2)
    raise TimeoutError(f"the service at {address} did not become ready within {timeout_s:.0f} s")
