"""Wiring: storage, job store, downstream channels, the core, the gRPC server and the REST server in one process.

:func:`create_gateway` builds everything (binding both ports, so port 0 works in tests); :meth:`GatewayApp.start`
opens the store and starts the workers and both servers; :meth:`GatewayApp.drain` is the graceful stop (health
NOT_SERVING, workers put running jobs back in the queue, servers stop).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field

import uvicorn

from ting.gateway.v1 import pipeline_service_pb2 as pb
from ting.gateway.v1 import pipeline_service_pb2_grpc as pb_grpc
from ting_common.server import GrpcServer, build_server
from ting_gateway.auth import Auth
from ting_gateway.config import GatewaySettings
from ting_gateway.downstream import Downstream
from ting_gateway.jobs.factory import open_job_store
from ting_gateway.live import LiveService
from ting_gateway.service import Gateway
from ting_gateway.servicer import PipelineServicer
from ting_gateway.storage import Storage
from ting_gateway.storage.factory import open_storage

logger = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["PipelineService"].full_name


class _Uvicorn(uvicorn.Server):
    """uvicorn without its own signal handling: the gateway's process owns SIGTERM/SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise RuntimeError(f"could not bind the REST server to {host}:{port}: {exc}") from exc
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def create_storage(settings: GatewaySettings) -> Storage:
    """The configured storage (a directory by default)."""
    return open_storage(
        settings.resolved_storage_url(),
        endpoint_url=settings.s3_endpoint_url or None,
        region=settings.s3_region,
        presign_expiry_s=settings.link_expiry_s,
    )


@dataclass
class GatewayApp:
    """The running gateway: core, gRPC server, REST server."""

    settings: GatewaySettings
    gateway: Gateway
    grpc: GrpcServer
    http_socket: socket.socket
    http_server: uvicorn.Server
    live: LiveService
    _http_task: asyncio.Task[None] | None = field(default=None)

    @property
    def port(self) -> int:
        """The bound gRPC port."""
        return self.grpc.port

    @property
    def http_port(self) -> int:
        """The bound REST port."""
        port: int = self.http_socket.getsockname()[1]
        return port

    async def start(self) -> None:
        """Open the store, start the workers, the gRPC server and the REST server."""
        await self.gateway.start()
        await self.grpc.start()
        self._http_task = asyncio.create_task(self.http_server.serve(sockets=[self.http_socket]))
        for _ in range(200):
            if self.http_server.started or self._http_task.done():
                break
            await asyncio.sleep(0.02)
        if self._http_task.done():
            self._http_task.result()
            raise RuntimeError("the REST server stopped during start-up")

    async def drain(self) -> None:
        """Graceful stop: health NOT_SERVING and the gRPC drain, REST stops, workers requeue running jobs."""
        await self.grpc.drain()
        self.http_server.should_exit = True
        if self._http_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._http_task, timeout=self.settings.grace_period_s + 5)
        await self.gateway.stop()
        self.http_socket.close()

    async def wait(self) -> None:
        """Block until the gRPC server has terminated."""
        await self.grpc.wait()


def create_gateway(settings: GatewaySettings, *, storage: Storage | None = None) -> GatewayApp:
    """Build (not start) the gateway from settings; binds both ports."""
    from ting_gateway.http.app import create_app

    storage = storage or create_storage(settings)
    store = open_job_store(settings.resolved_jobs_url(), table=settings.jobs_table)
    downstream = Downstream(settings)
    gateway = Gateway(settings, downstream, storage, store)
    auth = Auth(settings.api_key_list, settings.max_concurrent_per_key)
    live = LiveService(gateway)
    servicer = PipelineServicer(gateway, auth, live)
    app = build_server(
        settings, [lambda server: pb_grpc.add_PipelineServiceServicer_to_server(servicer, server)], [SERVICE_NAME]
    )
    sock = _bind(settings.http_host, settings.http_port)
    if not settings.public_url:
        settings.public_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    http_app = create_app(settings, gateway, auth, live)
    config = uvicorn.Config(
        http_app,
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=5,
        ws_max_size=settings.live.max_frame_kb * 1024 + 4096,  # a live stream's frame, or its start message
    )
    return GatewayApp(settings, gateway, app, sock, _Uvicorn(config), live)
