"""The shared job store: one PostgreSQL table, for several gateway replicas.

Calls run on an ``AsyncConnectionPool`` (autocommit connections; multi-statement changes in explicit
transactions). A claim picks the oldest runnable row with ``SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1`` and
updates it in the same statement, so concurrent claimers on any replica each take a different job and never
wait on one another. A create is idempotent through ``INSERT ... ON CONFLICT (request_id) DO NOTHING``: of two
concurrent creates with one key, the second waits for the first's row and returns it. Writes that depend on the
row's current claim (save, cancel) lock it first with ``SELECT ... FOR UPDATE``.

Clock: leases are set and compared with the database's ``clock_timestamp()``, never a replica's clock, so a
replica whose clock drifts can neither steal a live lease nor keep a dead one. The job message's timestamps
(``update_time``, ``finish_time``) come from the gateway's clock like every other timestamp the gateway writes
(and ``delete_expired`` compares ``expire_time`` with the caller's ``now_s``, from the same clock).
"""

from __future__ import annotations

import builtins
import logging
import re
from contextlib import AbstractAsyncContextManager
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ting.gateway.v1 import pipeline_service_pb2 as pb
from ting_common.errors import FailedPreconditionError, UnavailableError

from . import Claim, JobPage
from .common import (
    ACTIVE_STATES,
    FINAL_STATES,
    JobQuery,
    cancel_queued,
    expire_seconds,
    is_final,
    keep_cancelling,
    mark_cancelling,
    new_job_row,
    now_timestamp,
    to_seconds,
)

__all__ = ["PostgresJobStore"]

logger = logging.getLogger(__name__)

_TABLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,47}")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS {t} (
    id               text COLLATE "C" PRIMARY KEY,
    state            integer NOT NULL,
    create_time      double precision NOT NULL,
    update_time      double precision NOT NULL,
    expire_time      double precision,
    request_id       text UNIQUE,
    labels           jsonb NOT NULL DEFAULT '{{}}',
    worker_id        text,
    lease_until      timestamptz,
    attempts         integer NOT NULL DEFAULT 0,
    cancel_requested boolean NOT NULL DEFAULT false,
    job              bytea NOT NULL
);
CREATE INDEX IF NOT EXISTS {i_state} ON {t} (state, create_time, id);
CREATE INDEX IF NOT EXISTS {i_create} ON {t} (create_time, id);
CREATE INDEX IF NOT EXISTS {i_update} ON {t} (update_time, id);
CREATE INDEX IF NOT EXISTS {i_runnable} ON {t} (create_time, id) WHERE state IN (1, 2, 3);
CREATE INDEX IF NOT EXISTS {i_labels} ON {t} USING gin (labels);
"""

_RUNNABLE = "state = ANY(%(active)s) AND (lease_until IS NULL OR lease_until < clock_timestamp())"


class PostgresJobStore:
    """A :class:`~ting_gateway.jobs.JobStore` in the PostgreSQL table ``table`` (a lowercase identifier of at
    most 48 characters; created with its indices by :meth:`open`) at ``dsn``, over a pool of ``min_size`` to
    ``max_size`` connections. :meth:`open` waits up to ``open_timeout_s`` for the first connection."""

    def __init__(
        self,
        dsn: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        table: str = "ting_jobs",
        open_timeout_s: float = 30.0,
    ) -> None:
        if not _TABLE_NAME.fullmatch(table):
            raise ValueError(f"table must match {_TABLE_NAME.pattern}, got {table!r}")
        self._dsn = dsn
        self._min_size = min_size
        self._max_size = max_size
        self._table = table
        self._open_timeout_s = open_timeout_s
        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[tuple[Any, ...]]] | None = None
        t = sql.Identifier(table)
        indices = ("state", "create", "update", "runnable", "labels")
        self._schema = sql.SQL(_SCHEMA).format(t=t, **{f"i_{i}": sql.Identifier(f"{table}_{i}") for i in indices})
        runnable = sql.SQL(_RUNNABLE)
        self._q = {name: sql.SQL(text).format(t=t, runnable=runnable) for name, text in _QUERIES.items()}

    @property
    def table(self) -> str:
        """The table's name."""
        return self._table

    def _connection(self) -> AbstractAsyncContextManager[psycopg.AsyncConnection[tuple[Any, ...]]]:
        if self._pool is None:
            raise FailedPreconditionError("the job store is not open; call open() first")
        return self._pool.connection()

    @staticmethod
    def _parse(blob: bytes) -> pb.Job:
        job = pb.Job()
        job.ParseFromString(bytes(blob))
        return job

    # --- lifecycle ----------------------------------------------------------------------------------------

    async def open(self) -> None:
        """Open the pool and create the table and indices when missing; a no-op when open. Raises
        ``UnavailableError`` when no connection succeeds within ``open_timeout_s``."""
        if self._pool is not None:
            return
        pool: AsyncConnectionPool[psycopg.AsyncConnection[tuple[Any, ...]]] = AsyncConnectionPool(
            self._dsn,
            min_size=self._min_size,
            max_size=self._max_size,
            kwargs={"autocommit": True},
            open=False,
            name=f"ting-jobs-{self._table}",
        )
        try:
            await pool.open(wait=True, timeout=self._open_timeout_s)
        except PoolTimeout as exc:
            await pool.close()
            raise UnavailableError(
                f"cannot connect to the job database {_where_is(self._dsn)} within {self._open_timeout_s:g} s; "
                "check that PostgreSQL is running and the DSN is right"
            ) from exc
        try:
            async with pool.connection() as conn, conn.transaction():
                # Replicas starting together would race on CREATE TABLE IF NOT EXISTS; one at a time.
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"ting-jobs:{self._table}",))
                await conn.execute(self._schema)
        except BaseException:
            await pool.close()
            raise
        self._pool = pool
        logger.info("job store open", extra={"table": self._table, "database": _where_is(self._dsn)})

    async def close(self) -> None:
        """Close the pool; a no-op when closed."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    # --- jobs ---------------------------------------------------------------------------------------------

    async def create(self, job: pb.Job) -> tuple[pb.Job, bool]:
        """Insert a QUEUED job, or return the job of its ``request_id`` and ``False`` (see the protocol)."""
        row = new_job_row(job)
        params = {
            "id": row.id,
            "state": row.state,
            "create_time": to_seconds(row.create_time),
            "update_time": to_seconds(row.update_time),
            "expire_time": expire_seconds(row),
            "request_id": row.request_id or None,
            "labels": Jsonb(dict(row.labels)),
            "job": row.SerializeToString(),
        }
        async with self._connection() as conn:
            # The existing row can vanish between the two statements (deleted as expired): then insert again.
            for _ in range(3):
                try:
                    inserted = await (await conn.execute(self._q["insert"], params)).fetchone()
                except psycopg.errors.UniqueViolation as exc:
                    raise ValueError(f"a job with id {row.id!r} already exists") from exc
                if inserted is not None:
                    return row, True
                found = await (await conn.execute(self._q["by_request_id"], (row.request_id,))).fetchone()
                if found is not None:
                    return self._parse(found[0]), False
        raise UnavailableError("the job could not be created; retry the request")

    async def get(self, job_id: str) -> pb.Job | None:
        """The job (FULL), or ``None``."""
        async with self._connection() as conn:
            found = await (await conn.execute(self._q["get"], (job_id,))).fetchone()
        return None if found is None else self._parse(found[0])

    async def list(self, job_filter: pb.JobFilter, order_by: pb.JobOrderBy, page_size: int, page_token: str) -> JobPage:
        """Filtered, ordered, keyset-paged jobs; ``total_size`` counts every match (see the protocol)."""
        query = JobQuery.parse(job_filter, order_by, page_size, page_token)
        where, params = _where(query)
        column = sql.Identifier(query.order.column)
        direction = sql.SQL("DESC" if query.order.descending else "ASC")
        page_where, page_params = list(where), list(params)
        if query.cursor is not None:
            page_where.append(
                sql.SQL("({}, id) {} (%s, %s)").format(column, sql.SQL("<" if query.order.descending else ">"))
            )
            page_params += [query.cursor.value, query.cursor.job_id]
        t = sql.Identifier(self._table)
        count_sql = sql.SQL("SELECT count(*) FROM {} WHERE {}").format(t, _and(where))
        page_sql = sql.SQL("SELECT job FROM {} WHERE {} ORDER BY {} {}, id {} LIMIT %s").format(
            t, _and(page_where), column, direction, direction
        )
        async with self._connection() as conn, conn.transaction():
            # REPEATABLE READ: the count and the page see one snapshot.
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            total = _scalar(await (await conn.execute(count_sql, params)).fetchone())
            rows = await (await conn.execute(page_sql, [*page_params, query.page_size + 1])).fetchall()
        jobs = [self._parse(r[0]) for r in rows[: query.page_size]]
        token = query.next_token(jobs[-1]) if len(rows) > query.page_size else ""
        return JobPage(jobs=jobs, next_page_token=token, total_size=total)

    async def claim(self, worker_id: str, lease_s: float) -> Claim | None:
        """Claim the oldest runnable job for ``lease_s`` seconds of database time (see the protocol)."""
        async with self._connection() as conn:
            row = await (
                await conn.execute(
                    self._q["claim"], {"active": list(ACTIVE_STATES), "worker_id": worker_id, "lease_s": lease_s}
                )
            ).fetchone()
        if row is None:
            return None
        return Claim(job=self._parse(row[0]), worker_id=worker_id, attempt=int(row[1]))

    async def renew(self, job_id: str, worker_id: str, lease_s: float) -> bool:
        """Extend the lease while ``worker_id`` holds the job."""
        async with self._connection() as conn:
            cur = await conn.execute(self._q["renew"], {"id": job_id, "worker_id": worker_id, "lease_s": lease_s})
            return cur.rowcount == 1

    async def save(self, job: pb.Job, *, worker_id: str | None = None) -> bool:
        """Write an existing job (conditionally on the claim with ``worker_id``); see the protocol."""
        async with self._connection() as conn, conn.transaction():
            found = await (await conn.execute(self._q["lock_claim"], (job.id,))).fetchone()
            if found is None or (worker_id is not None and found[0] != worker_id):
                return False
            row = keep_cancelling(job, bool(found[1]))
            await conn.execute(
                self._q["save"],
                {
                    "id": row.id,
                    "state": row.state,
                    "update_time": to_seconds(row.update_time),
                    "expire_time": expire_seconds(row),
                    "labels": Jsonb(dict(row.labels)),
                    "job": row.SerializeToString(),
                    "release": is_final(row.state),
                },
            )
        return True

    async def cancel_requested(self, job_id: str) -> bool:
        """Whether cancellation of the job was requested (``False`` for an unknown job)."""
        async with self._connection() as conn:
            found = await (await conn.execute(self._q["cancel_flag"], (job_id,))).fetchone()
        return found is not None and bool(found[0])

    async def request_cancel(self, job_id: str) -> pb.Job | None:
        """QUEUED → CANCELLED (claim released), RUNNING → CANCELLING, otherwise unchanged (see the protocol)."""
        async with self._connection() as conn, conn.transaction():
            found = await (await conn.execute(self._q["lock_job"], (job_id,))).fetchone()
            if found is None:
                return None
            job = self._parse(found[0])
            if job.state in (pb.JOB_STATE_QUEUED, pb.JOB_STATE_RUNNING):
                queued = job.state == pb.JOB_STATE_QUEUED
                job = cancel_queued(job, now_timestamp()) if queued else mark_cancelling(job, now_timestamp())
                await conn.execute(
                    self._q["cancel"],
                    {
                        "id": job_id,
                        "state": job.state,
                        "update_time": to_seconds(job.update_time),
                        "job": job.SerializeToString(),
                        "release": queued,
                    },
                )
            elif job.state == pb.JOB_STATE_CANCELLING:
                await conn.execute(self._q["set_cancel_flag"], (job_id,))
        return job

    async def queue_depth(self) -> int:
        """Jobs no live worker holds: unclaimed QUEUED ones plus active ones whose lease expired."""
        async with self._connection() as conn:
            found = await (await conn.execute(self._q["queue_depth"], {"active": list(ACTIVE_STATES)})).fetchone()
        return _scalar(found)

    async def delete_expired(self, now_s: float) -> builtins.list[str]:
        """Delete final jobs whose ``expire_time`` is before ``now_s``; return their ids."""
        async with self._connection() as conn:
            rows = await (
                await conn.execute(self._q["delete_expired"], {"final": sorted(FINAL_STATES), "now_s": now_s})
            ).fetchall()
        return sorted(str(r[0]) for r in rows)


_QUERIES: dict[str, str] = {
    "insert": (
        "INSERT INTO {t} (id, state, create_time, update_time, expire_time, request_id, labels, job)"
        " VALUES (%(id)s, %(state)s, %(create_time)s, %(update_time)s, %(expire_time)s, %(request_id)s,"
        " %(labels)s, %(job)s)"
        " ON CONFLICT (request_id) DO NOTHING RETURNING id"
    ),
    "by_request_id": "SELECT job FROM {t} WHERE request_id = %s",
    "get": "SELECT job FROM {t} WHERE id = %s",
    "claim": (
        "WITH picked AS ("
        " SELECT id FROM {t} WHERE {runnable} ORDER BY create_time, id LIMIT 1 FOR UPDATE SKIP LOCKED)"
        " UPDATE {t} AS j SET worker_id = %(worker_id)s,"
        " lease_until = clock_timestamp() + make_interval(secs => %(lease_s)s), attempts = j.attempts + 1"
        " FROM picked WHERE j.id = picked.id RETURNING j.job, j.attempts"
    ),
    "renew": (
        "UPDATE {t} SET lease_until = clock_timestamp() + make_interval(secs => %(lease_s)s)"
        " WHERE id = %(id)s AND worker_id = %(worker_id)s"
    ),
    "lock_claim": "SELECT worker_id, cancel_requested FROM {t} WHERE id = %s FOR UPDATE",
    "lock_job": "SELECT job FROM {t} WHERE id = %s FOR UPDATE",
    "save": (
        "UPDATE {t} SET state = %(state)s, update_time = %(update_time)s, expire_time = %(expire_time)s,"
        " labels = %(labels)s, job = %(job)s,"
        " worker_id = CASE WHEN %(release)s THEN NULL ELSE worker_id END,"
        " lease_until = CASE WHEN %(release)s THEN NULL ELSE lease_until END"
        " WHERE id = %(id)s"
    ),
    "cancel": (
        "UPDATE {t} SET state = %(state)s, update_time = %(update_time)s, job = %(job)s, cancel_requested = true,"
        " worker_id = CASE WHEN %(release)s THEN NULL ELSE worker_id END,"
        " lease_until = CASE WHEN %(release)s THEN NULL ELSE lease_until END"
        " WHERE id = %(id)s"
    ),
    "set_cancel_flag": "UPDATE {t} SET cancel_requested = true WHERE id = %s",
    "cancel_flag": "SELECT cancel_requested FROM {t} WHERE id = %s",
    "queue_depth": "SELECT count(*) FROM {t} WHERE {runnable}",
    "delete_expired": (
        "DELETE FROM {t} WHERE state = ANY(%(final)s) AND expire_time IS NOT NULL AND expire_time < %(now_s)s"
        " RETURNING id"
    ),
}
"""Statement templates: ``{t}`` is the table (composed as an identifier), ``{runnable}`` the condition of a job
:meth:`PostgresJobStore.claim` may take; values are bound parameters."""


def _where(query: JobQuery) -> tuple[list[sql.Composable], list[object]]:
    """The filter of ``query`` as PostgreSQL conditions (joined with AND) and their bound values."""
    where: list[sql.Composable] = []
    params: list[object] = []
    if query.states:
        where.append(sql.SQL("state = ANY(%s)"))
        params.append(list(query.states))
    if query.labels_equal:
        where.append(sql.SQL("labels @> %s"))
        params.append(Jsonb(dict(query.labels_equal)))
    for key in query.labels_present:
        where.append(sql.SQL("labels ? %s"))
        params.append(key)
    if query.create_time_start is not None:
        where.append(sql.SQL("create_time >= %s"))
        params.append(query.create_time_start)
    if query.create_time_end is not None:
        where.append(sql.SQL("create_time < %s"))
        params.append(query.create_time_end)
    return where, params


def _scalar(row: tuple[Any, ...] | None) -> int:
    """The integer of a one-row, one-column result (``count(*)``)."""
    if row is None:
        raise RuntimeError("a count query returned no row")
    return int(row[0])


def _and(conditions: list[sql.Composable]) -> sql.Composable:
    return sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("true")


def _where_is(dsn: str) -> str:
    """Host, port and database of ``dsn`` for messages (never the password)."""
    try:
        info = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "(unparsable DSN)"
    return f"{info.get('host') or 'localhost'}:{info.get('port') or 5432}/{info.get('dbname') or ''}"
