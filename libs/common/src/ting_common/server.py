"""gRPC server bootstrap shared by every Ting service.

``build_server`` makes a ``grpc.aio`` server with the Ting interceptor, the stock health service
(every registered service SERVING once started) and reflection, bound to the configured host/port
(port 0 picks a free one). ``GrpcServer.drain`` is the graceful shutdown: health turns NOT_SERVING
first (so load balancers and probes stop sending new calls), then in-flight calls get the grace
period. ``run_until_signalled`` does that on SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ting_common.errors import TingError
from ting_common.interceptors import TingServerInterceptor
from ting_common.log import setup_logging
from ting_common.metrics import start_metrics_server
from ting_common.settings import ServiceSettings

logger = logging.getLogger(__name__)

Registrar = Callable[[grpc.aio.Server], None]
SettingsT = TypeVar("SettingsT", bound=ServiceSettings)
# The asyncio health servicer (grpc-stubs does not describe grpc_health.v1.health.aio).
AsyncHealthServicer: Any = health.aio.HealthServicer  # type: ignore[attr-defined]


@dataclass
class GrpcServer:
    """A built, bound server and its health service."""

    server: grpc.aio.Server
    port: int
    health: Any
    service_names: Sequence[str]
    grace_period_s: float
    shutdown_delay_s: float = 0.0
    on_stop: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    _stopped: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        """Start serving and mark every service (and the server as a whole, "") SERVING."""
        await self.server.start()
        for name in ("", *self.service_names):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        logger.info("gRPC server started", extra={"port": self.port, "services": list(self.service_names)})

    async def drain(self, grace_period_s: float | None = None, shutdown_delay_s: float | None = None) -> None:
        """Graceful stop: health NOT_SERVING first; keep serving for the shutdown delay (so probes see
        it), then stop listening and let in-flight calls finish within the grace period."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        await self.health.enter_graceful_shutdown()
        grace = self.grace_period_s if grace_period_s is None else grace_period_s
        delay = self.shutdown_delay_s if shutdown_delay_s is None else shutdown_delay_s
        logger.info("draining gRPC server", extra={"grace_period_s": grace, "shutdown_delay_s": delay})
        if delay > 0:
            await asyncio.sleep(delay)
        await self.server.stop(grace)
        for callback in self.on_stop:
            try:
                await callback()
            except Exception:
                logger.exception("error in shutdown hook")
        logger.info("gRPC server stopped")

    async def wait(self) -> None:
        """Block until the server has terminated."""
        await self.server.wait_for_termination()


def server_options(settings: ServiceSettings) -> list[tuple[str, int]]:
    """Channel options: message size limits and keepalive that tolerate long inference calls."""
    limit = settings.max_message_mb * 1024 * 1024
    return [
        ("grpc.max_receive_message_length", limit),
        ("grpc.max_send_message_length", limit),
        ("grpc.keepalive_time_ms", 60_000),
        ("grpc.keepalive_timeout_ms", 20_000),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.keepalive_permit_without_calls", 1),
    ]


def build_server(
    settings: ServiceSettings,
    registrars: Sequence[Registrar],
    service_names: Sequence[str],
) -> GrpcServer:
    """Create the server, register services + health + reflection, and bind it.

    ``service_names`` are the full proto names (``ting.asr.v1.AsrService``) used for health and
    reflection. Raises ``RuntimeError`` when the address cannot be bound.
    """
    server = grpc.aio.server(interceptors=[TingServerInterceptor()], options=server_options(settings))
    for register in registrars:
        register(server)
    health_servicer = AsyncHealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if settings.enable_reflection:
        reflection.enable_server_reflection(
            (
                *service_names,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ),
            server,
        )
    address = f"{settings.host}:{settings.port}"
    if ":" in settings.host and not settings.host.startswith("["):
        address = f"[{settings.host}]:{settings.port}"
    port = server.add_insecure_port(address)
    if port == 0:
        raise RuntimeError(f"could not bind the gRPC server to {address}")
    return GrpcServer(
        server, port, health_servicer, list(service_names), settings.grace_period_s, settings.shutdown_delay_s
    )


class Servable(Protocol):
    """What :func:`run_until_signalled` runs: a :class:`GrpcServer`, or an app built around one (the gateway)."""

    async def start(self) -> None: ...

    async def drain(self) -> None: ...

    async def wait(self) -> None: ...


async def run_until_signalled(app: Servable, settings: ServiceSettings) -> None:
    """Start ``app``, serve metrics, and drain gracefully on SIGTERM or SIGINT."""
    start_metrics_server(settings.metrics_port)
    await app.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    waiter = asyncio.create_task(app.wait())
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
    if stop.is_set():
        logger.info("signal received, shutting down")
        await app.drain()
    stopper.cancel()
    await waiter


def run_service(
    serve: Callable[[SettingsT], Coroutine[Any, Any, None]], settings: SettingsT, *, service: str, title: str
) -> int:
    """A service's ``main``: set up logging, run ``serve(settings)`` until a signal, map start-up failures
    (a domain error, a port in use, a bad model) to one log line and exit code 2."""
    setup_logging(settings.log_level, settings.log_format, service=service)
    try:
        asyncio.run(serve(settings))
    except (TingError, OSError, RuntimeError) as exc:
        logger.error("cannot start the %s service: %s", title, exc)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0
