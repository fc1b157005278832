"""Prometheus metrics shared by all services (one registry per process: the default one)."""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, start_http_server

logger = logging.getLogger(__name__)

GRPC_REQUESTS = Counter(
    "ting_grpc_requests_total",
    "gRPC calls handled, by service, method and status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
GRPC_LATENCY = Histogram(
    "ting_grpc_request_duration_seconds",
    "Wall time of gRPC calls, by service and method.",
    ["grpc_service", "grpc_method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
)
GRPC_IN_FLIGHT = Gauge(
    "ting_grpc_requests_in_flight",
    "gRPC calls being handled now, by service and method.",
    ["grpc_service", "grpc_method"],
)


def start_metrics_server(port: int, host: str = "0.0.0.0") -> Any:
    """Serve /metrics on ``port`` in a daemon thread; returns the HTTP server (None when port is 0)."""
    if not port:
        return None
    server, _thread = start_http_server(port, addr=host)
    logger.info("metrics endpoint listening", extra={"port": port})
    return server
