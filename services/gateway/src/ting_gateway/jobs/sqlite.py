"""The embedded job store: one SQLite file (WAL mode), the default for a single gateway process.

Every call runs on a worker thread (``asyncio.to_thread``) over one connection that a lock hands to one call at a
time, so concurrent asyncio tasks never share a half-done transaction. Writes that must not race (create, claim,
save, cancel) run in ``BEGIN IMMEDIATE`` transactions, which take SQLite's write lock up front: two processes on
one file serialize on it (waiting up to ``busy_timeout_s``), so neither can claim a job the other holds.

Clock: leases and the times the store writes use this host's clock (``time.time()``); every process sharing the
file runs on the same host (SQLite over a network filesystem is not supported), so they agree on it.
Durability: ``synchronous=FULL``, so a job :meth:`SqliteJobStore.create` returned survives a power cut.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from ting.gateway.v1 import pipeline_service_pb2 as pb
from ting_common.errors import FailedPreconditionError

from . import Claim, JobPage
from .common import (
    JobQuery,
    cancel_queued,
    expire_seconds,
    is_final,
    keep_cancelling,
    labels_json,
    mark_cancelling,
    new_job_row,
    now_timestamp,
    to_seconds,
)

__all__ = ["SqliteJobStore"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# JobState numbers are part of the proto contract (never renumbered): QUEUED=1, RUNNING=2, CANCELLING=3 are
# active; SUCCEEDED=4, PARTIALLY_SUCCEEDED=5, FAILED=6, CANCELLED=7 are final (common.ACTIVE_STATES/FINAL_STATES).
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id               TEXT PRIMARY KEY,
    state            INTEGER NOT NULL,
    create_time      REAL NOT NULL,
    update_time      REAL NOT NULL,
    expire_time      REAL,
    request_id       TEXT UNIQUE,
    labels           TEXT NOT NULL DEFAULT '{}',
    worker_id        TEXT,
    lease_until      REAL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    job              BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_state_create ON jobs (state, create_time, id);
CREATE INDEX IF NOT EXISTS jobs_create ON jobs (create_time, id);
CREATE INDEX IF NOT EXISTS jobs_update ON jobs (update_time, id);
CREATE INDEX IF NOT EXISTS jobs_expire ON jobs (expire_time) WHERE expire_time IS NOT NULL;
"""

_RUNNABLE = "state IN (1, 2, 3) AND (lease_until IS NULL OR lease_until < ?)"


class SqliteJobStore:
    """A :class:`~ting_gateway.jobs.JobStore` in the SQLite file at ``path`` (created with its folder when
    missing). Several store objects, threads or processes may open one file; ``busy_timeout_s`` bounds how long
    a call waits for another's write lock."""

    def __init__(self, path: Path, *, busy_timeout_s: float = 30.0) -> None:
        self._path = Path(path)
        self._busy_timeout_s = busy_timeout_s
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    # --- plumbing -----------------------------------------------------------------------------------------

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.to_thread(self._locked, fn)

    def _locked(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            if self._conn is None:
                raise FailedPreconditionError("the job store is not open; call open() first")
            return fn(self._conn)

    @staticmethod
    @contextmanager
    def _transaction(conn: sqlite3.Connection, mode: str = "IMMEDIATE") -> Iterator[None]:
        conn.execute(f"BEGIN {mode}")
        try:
            yield
        except BaseException:
            conn.rollback()
            raise
        conn.commit()

    @staticmethod
    def _parse(blob: bytes) -> pb.Job:
        job = pb.Job()
        job.ParseFromString(blob)
        return job

    # --- lifecycle ----------------------------------------------------------------------------------------

    async def open(self) -> None:
        """Open the file (WAL mode, full sync) and create the schema when missing; a no-op when open."""

        def connect() -> None:
            with self._lock:
                if self._conn is not None:
                    return
                self._path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(
                    self._path, timeout=self._busy_timeout_s, isolation_level=None, check_same_thread=False
                )
                try:
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.execute("PRAGMA synchronous=FULL")
                    conn.executescript(_SCHEMA)
                except BaseException:
                    conn.close()
                    raise
                self._conn = conn
                logger.info("job store open", extra={"path": str(self._path)})

        await asyncio.to_thread(connect)

    async def close(self) -> None:
        """Close the connection; a no-op when closed."""

        def disconnect() -> None:
            with self._lock:
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None

        await asyncio.to_thread(disconnect)

    # --- jobs ---------------------------------------------------------------------------------------------

    async def create(self, job: pb.Job) -> tuple[pb.Job, bool]:
        """Insert a QUEUED job, or return the job of its ``request_id`` and ``False`` (see the protocol)."""
        row = new_job_row(job)

        def insert(conn: sqlite3.Connection) -> tuple[pb.Job, bool]:
            with self._transaction(conn):
                if row.request_id:
                    found = conn.execute("SELECT job FROM jobs WHERE request_id = ?", (row.request_id,)).fetchone()
                    if found is not None:
                        return self._parse(found[0]), False
                try:
                    conn.execute(
                        "INSERT INTO jobs (id, state, create_time, update_time, expire_time, request_id, labels, job)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            row.id,
                            row.state,
                            to_seconds(row.create_time),
                            to_seconds(row.update_time),
                            expire_seconds(row),
                            row.request_id or None,
                            labels_json(row.labels),
                            row.SerializeToString(),
                        ),
                    )
                except sqlite3.IntegrityError as exc:
                    raise ValueError(f"a job with id {row.id!r} already exists") from exc
            return row, True

        return await self._run(insert)

    async def get(self, job_id: str) -> pb.Job | None:
        """The job (FULL), or ``None``."""

        def select(conn: sqlite3.Connection) -> pb.Job | None:
            found = conn.execute("SELECT job FROM jobs WHERE id = ?", (job_id,)).fetchone()
            return None if found is None else self._parse(found[0])

        return await self._run(select)

    async def list(self, job_filter: pb.JobFilter, order_by: pb.JobOrderBy, page_size: int, page_token: str) -> JobPage:
        """Filtered, ordered, keyset-paged jobs; ``total_size`` counts every match (see the protocol)."""
        query = JobQuery.parse(job_filter, order_by, page_size, page_token)
        where, params = _where(query)
        column = query.order.column
        direction = "DESC" if query.order.descending else "ASC"
        page_where, page_params = list(where), list(params)
        if query.cursor is not None:
            page_where.append(f"({column}, id) {'<' if query.order.descending else '>'} (?, ?)")
            page_params += [query.cursor.value, query.cursor.job_id]
        # Only constant column names, directions and `?` placeholders are interpolated; values are bound.
        count_sql = f"SELECT count(*) FROM jobs WHERE {' AND '.join(where) or '1'}"  # noqa: S608
        page_sql = (
            f"SELECT job FROM jobs WHERE {' AND '.join(page_where) or '1'}"  # noqa: S608
            f" ORDER BY {column} {direction}, id {direction} LIMIT ?"
        )

        def select(conn: sqlite3.Connection) -> JobPage:
            with self._transaction(conn, "DEFERRED"):  # one snapshot for the count and the page
                total = int(conn.execute(count_sql, params).fetchone()[0])
                rows = conn.execute(page_sql, [*page_params, query.page_size + 1]).fetchall()
            jobs = [self._parse(r[0]) for r in rows[: query.page_size]]
            token = query.next_token(jobs[-1]) if len(rows) > query.page_size else ""
            return JobPage(jobs=jobs, next_page_token=token, total_size=total)

        return await self._run(select)

    async def claim(self, worker_id: str, lease_s: float) -> Claim | None:
        """Claim the oldest runnable job for ``lease_s`` seconds (see the protocol)."""

        def take(conn: sqlite3.Connection) -> Claim | None:
            now = time.time()
            with self._transaction(conn):
                found = conn.execute(
                    f"SELECT id FROM jobs WHERE {_RUNNABLE} ORDER BY create_time, id LIMIT 1",  # noqa: S608
                    (now,),
                ).fetchone()
                if found is None:
                    return None
                row = conn.execute(
                    "UPDATE jobs SET worker_id = ?, lease_until = ?, attempts = attempts + 1 WHERE id = ?"
                    " RETURNING job, attempts",
                    (worker_id, now + lease_s, found[0]),
                ).fetchone()
            return Claim(job=self._parse(row[0]), worker_id=worker_id, attempt=int(row[1]))

        return await self._run(take)

    async def renew(self, job_id: str, worker_id: str, lease_s: float) -> bool:
        """Extend the lease while ``worker_id`` holds the job."""

        def extend(conn: sqlite3.Connection) -> bool:
            with self._transaction(conn):
                cur = conn.execute(
                    "UPDATE jobs SET lease_until = ? WHERE id = ? AND worker_id = ?",
                    (time.time() + lease_s, job_id, worker_id),
                )
                return cur.rowcount == 1

        return await self._run(extend)

    async def save(self, job: pb.Job, *, worker_id: str | None = None) -> bool:
        """Write an existing job (conditionally on the claim with ``worker_id``); see the protocol."""

        def write(conn: sqlite3.Connection) -> bool:
            with self._transaction(conn):
                found = conn.execute("SELECT worker_id, cancel_requested FROM jobs WHERE id = ?", (job.id,)).fetchone()
                if found is None or (worker_id is not None and found[0] != worker_id):
                    return False
                row = keep_cancelling(job, bool(found[1]))
                release = is_final(row.state)
                conn.execute(
                    "UPDATE jobs SET state = ?, update_time = ?, expire_time = ?, labels = ?, job = ?,"
                    " worker_id = CASE WHEN ? THEN NULL ELSE worker_id END,"
                    " lease_until = CASE WHEN ? THEN NULL ELSE lease_until END"
                    " WHERE id = ?",
                    (
                        row.state,
                        to_seconds(row.update_time),
                        expire_seconds(row),
                        labels_json(row.labels),
                        row.SerializeToString(),
                        release,
                        release,
                        row.id,
                    ),
                )
            return True

        return await self._run(write)

    async def cancel_requested(self, job_id: str) -> bool:
        """Whether cancellation of the job was requested (``False`` for an unknown job)."""

        def select(conn: sqlite3.Connection) -> bool:
            found = conn.execute("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,)).fetchone()
            return found is not None and bool(found[0])

        return await self._run(select)

    async def request_cancel(self, job_id: str) -> pb.Job | None:
        """QUEUED → CANCELLED (claim released), RUNNING → CANCELLING, otherwise unchanged (see the protocol)."""

        def cancel(conn: sqlite3.Connection) -> pb.Job | None:
            with self._transaction(conn):
                found = conn.execute("SELECT job FROM jobs WHERE id = ?", (job_id,)).fetchone()
                if found is None:
                    return None
                job = self._parse(found[0])
                if job.state == pb.JOB_STATE_QUEUED:
                    job = cancel_queued(job, now_timestamp())
                    conn.execute(
                        "UPDATE jobs SET state = ?, update_time = ?, job = ?, cancel_requested = 1,"
                        " worker_id = NULL, lease_until = NULL WHERE id = ?",
                        (job.state, to_seconds(job.update_time), job.SerializeToString(), job_id),
                    )
                elif job.state == pb.JOB_STATE_RUNNING:
                    job = mark_cancelling(job, now_timestamp())
                    conn.execute(
                        "UPDATE jobs SET state = ?, update_time = ?, job = ?, cancel_requested = 1 WHERE id = ?",
                        (job.state, to_seconds(job.update_time), job.SerializeToString(), job_id),
                    )
                elif job.state == pb.JOB_STATE_CANCELLING:
                    conn.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))
            return job

        return await self._run(cancel)

    async def queue_depth(self) -> int:
        """Jobs no live worker holds: unclaimed QUEUED ones plus active ones whose lease expired."""

        def count(conn: sqlite3.Connection) -> int:
            sql = f"SELECT count(*) FROM jobs WHERE {_RUNNABLE}"  # noqa: S608
            return int(conn.execute(sql, (time.time(),)).fetchone()[0])

        return await self._run(count)

    async def delete_expired(self, now_s: float) -> builtins.list[str]:
        """Delete final jobs whose ``expire_time`` is before ``now_s``; return their ids."""

        def delete(conn: sqlite3.Connection) -> list[str]:
            with self._transaction(conn):
                rows = conn.execute(
                    "DELETE FROM jobs WHERE state IN (4, 5, 6, 7) AND expire_time IS NOT NULL AND expire_time < ?"
                    " RETURNING id",
                    (now_s,),
                ).fetchall()
            return sorted(str(r[0]) for r in rows)

        return await self._run(delete)


def _where(query: JobQuery) -> tuple[list[str], list[object]]:
    """The filter of ``query`` as SQLite conditions (joined with AND) and their bound values."""
    where: list[str] = []
    params: list[object] = []
    if query.states:
        where.append(f"state IN ({', '.join('?' * len(query.states))})")
        params += query.states
    for key, value in query.labels_equal:
        where.append("EXISTS (SELECT 1 FROM json_each(jobs.labels) WHERE key = ? AND value = ?)")
        params += [key, value]
    for key in query.labels_present:
        where.append("EXISTS (SELECT 1 FROM json_each(jobs.labels) WHERE key = ?)")
        params.append(key)
    if query.create_time_start is not None:
        where.append("create_time >= ?")
        params.append(query.create_time_start)
    if query.create_time_end is not None:
        where.append("create_time < ?")
        params.append(query.create_time_end)
    return where, params
