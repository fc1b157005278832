"""Durable jobs: a store that survives restarts and is shared by gateway replicas, and workers that claim jobs.

The store keeps each job as its ``ting.gateway.v1.Job`` message (serialized) plus the columns it is queried
by (state, times, labels, idempotency key) and the claim (worker id, lease expiry, attempts, cancel flag).
Two implementations behind :class:`JobStore`: SQLite (embedded default, one gateway process) and PostgreSQL
(several replicas; claims with ``SELECT ... FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ting.gateway.v1 import pipeline_service_pb2 as pb


@dataclass(frozen=True)
class JobPage:
    """One page of :meth:`JobStore.list`."""

    jobs: list[pb.Job]
    next_page_token: str
    total_size: int


@dataclass(frozen=True)
class Claim:
    """A job a worker holds: the job (FULL) and the attempt number (1 for the first claim)."""

    job: pb.Job
    worker_id: str
    attempt: int


@runtime_checkable
class JobStore(Protocol):
    """Persistent jobs. All methods are coroutines; implementations must be safe under concurrent callers
    (several workers and request handlers in one process, several processes on one database)."""

    async def open(self) -> None:
        """Connect and create the schema when missing (idempotent)."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...

    async def create(self, job: pb.Job) -> tuple[pb.Job, bool]:
        """Insert a new QUEUED job (its ``id``, ``create_time`` and ``update_time`` are set by the caller).
        When ``job.request_id`` is non-empty and a job with that idempotency key exists, return that job and
        ``False`` instead (atomically: two concurrent creates with one key make one job)."""
        ...

    async def get(self, job_id: str) -> pb.Job | None:
        """The job (FULL), or ``None``."""
        ...

    async def list(self, job_filter: pb.JobFilter, order_by: pb.JobOrderBy, page_size: int, page_token: str) -> JobPage:
        """Filtered, ordered, paged jobs (FULL; the caller trims to BASIC). ``page_token`` is opaque (a keyset
        cursor); a malformed token raises ``InvalidArgumentError``."""
        ...

    async def claim(self, worker_id: str, lease_s: float) -> Claim | None:
        """Claim the oldest runnable job: QUEUED, or RUNNING/CANCELLING whose lease expired (its worker died);
        a job held under a live lease is never runnable, whatever its state (a claimed job stays QUEUED until
        its worker saves it RUNNING). Sets the lease to ``now + lease_s`` and increments the attempt count;
        never hands one job to two live workers. ``None`` when nothing is runnable."""
        ...

    async def renew(self, job_id: str, worker_id: str, lease_s: float) -> bool:
        """Extend the lease; ``False`` when ``worker_id`` no longer holds the job (it expired and was taken)."""
        ...

    async def save(self, job: pb.Job, *, worker_id: str | None = None) -> bool:
        """Write the job message and its columns. With ``worker_id``, only while that worker holds the claim
        (returns ``False`` and writes nothing otherwise); a final state releases the claim. Never downgrades
        CANCELLING to RUNNING: when cancellation was requested meanwhile, the stored state stays CANCELLING
        (the caller learns it from :meth:`cancel_requested`)."""
        ...

    async def cancel_requested(self, job_id: str) -> bool:
        """Whether cancellation of the job was requested."""
        ...

    async def request_cancel(self, job_id: str) -> pb.Job | None:
        """Ask to cancel: a QUEUED job becomes CANCELLED at once (finish time set, steps CANCELLED); a RUNNING
        one CANCELLING (its worker stops it); a final one is unchanged. Returns the job after, or ``None``."""
        ...

    async def queue_depth(self) -> int:
        """Jobs waiting for a worker (QUEUED, plus running ones whose lease expired; exactly the jobs
        :meth:`claim` could take now): the autoscaling metric."""
        ...

    async def delete_expired(self, now_s: float) -> builtins.list[str]:
        """Delete final jobs whose ``expire_time`` is before ``now_s`` (epoch seconds); return their ids."""
        ...
