"""The PostgreSQL job store against the job store contract, on a real server.

The server is ``TING_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``). Each test gets
its own table (dropped afterwards), so tests may run in parallel. Without a reachable server the tests are skipped,
except under ``CI=true``, where a missing database is a failure, not a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import psycopg
import pytest
from psycopg import sql

from ting_common.errors import UnavailableError
from ting_gateway.jobs import JobStore
from ting_gateway.jobs.postgres import PostgresJobStore

from ..conftest import free_port
from ..gateway_job_store_contract import JobStoreContract, StoreFactory, create_all, make_job

pytestmark = pytest.mark.integration

DSN = os.environ.get("TING_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
async def postgres_dsn() -> str:
    """The test server's DSN once it answers; skip (fail under CI=true) when it does not."""
    try:
        conn = await psycopg.AsyncConnection.connect(DSN, connect_timeout=5)
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL at TING_TEST_POSTGRES_URL={DSN} is unreachable: {exc}".strip()
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: the job store tests need it)")
        pytest.skip(f"{reason}; start one or set TING_TEST_POSTGRES_URL")
    await conn.close()
    return DSN


@pytest.fixture
async def new_store(postgres_dsn: str) -> AsyncIterator[StoreFactory]:
    """Store objects ("replicas") over one fresh table, dropped after the test."""
    table = f"ting_jobs_test_{uuid.uuid4().hex[:16]}"
    opened: list[PostgresJobStore] = []

    async def factory() -> JobStore:
        store = PostgresJobStore(postgres_dsn, table=table, min_size=1, max_size=4)
        await store.open()
        opened.append(store)
        return store

    yield factory
    for store in opened:
        await store.close()
    async with await psycopg.AsyncConnection.connect(postgres_dsn, autocommit=True) as conn:
        await conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))


class TestPostgresJobStore(JobStoreContract):
    """The shared contract (every test of :class:`JobStoreContract`) on PostgreSQL."""


async def test_the_table_and_its_indices_are_created(new_store: StoreFactory) -> None:
    store = await new_store()
    assert isinstance(store, PostgresJobStore)
    await create_all(store, [make_job(1)])
    async with await psycopg.AsyncConnection.connect(DSN) as conn:
        cur = await conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", (store.table,))
        names = {row[0] for row in await cur.fetchall()}
    assert {f"{store.table}_{name}" for name in ("state", "create", "update", "runnable", "labels")} <= names


@pytest.mark.parametrize("table", ["", "Jobs", "jobs; drop table x", "1jobs", "j" * 49, 'a"b'])
def test_a_table_name_must_be_a_plain_identifier(table: str) -> None:
    with pytest.raises(ValueError, match="table"):
        PostgresJobStore(DSN, table=table)


async def test_an_unreachable_database_is_unavailable_without_leaking_the_password() -> None:
    store = PostgresJobStore(
        f"postgresql://ting:s3cret@127.0.0.1:{free_port()}/jobs?connect_timeout=1", open_timeout_s=1.5
    )
    with pytest.raises(UnavailableError, match=r"127\.0\.0\.1") as err:
        await store.open()
    assert "s3cret" not in str(err.value)
