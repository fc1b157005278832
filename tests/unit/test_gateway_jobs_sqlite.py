"""The SQLite job store against the job store contract, plus what only the embedded store has (its file)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ting.gateway.v1 import pipeline_service_pb2 as pb
from ting_common.errors import FailedPreconditionError
from ting_gateway.jobs import JobStore
from ting_gateway.jobs.sqlite import SqliteJobStore

from ..gateway_job_store_contract import JobStoreContract, StoreFactory, create_all, make_job


@pytest.fixture
async def new_store(tmp_path: Path) -> AsyncIterator[StoreFactory]:
    """Store objects over one fresh file (each call: another object, as another process would open it)."""
    path = tmp_path / "state" / "jobs.sqlite3"
    opened: list[SqliteJobStore] = []

    async def factory() -> JobStore:
        store = SqliteJobStore(path)
        await store.open()
        opened.append(store)
        return store

    yield factory
    for store in opened:
        await store.close()


class TestSqliteJobStore(JobStoreContract):
    """The shared contract (every test of :class:`JobStoreContract`) on SQLite."""


async def test_the_file_and_its_folder_are_created_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "jobs.sqlite3"
    store = SqliteJobStore(path)
    await store.open()
    try:
        await create_all(store, [make_job(1)])
        # A write-ahead log next to the file: readers never block the writer.
        assert await asyncio.to_thread(lambda: path.is_file() and Path(f"{path}-wal").is_file())
    finally:
        await store.close()


async def test_calls_before_open_say_so(tmp_path: Path) -> None:
    store = SqliteJobStore(tmp_path / "jobs.sqlite3")
    with pytest.raises(FailedPreconditionError, match="open"):
        await store.get("x")


async def test_many_tasks_on_one_store_object_create_and_claim_safely(tmp_path: Path) -> None:
    store = SqliteJobStore(tmp_path / "jobs.sqlite3")
    await store.open()
    try:
        results = await asyncio.gather(*(store.create(make_job(i)) for i in range(40)))
        assert all(created for _, created in results)
        claims = await asyncio.gather(*(store.claim(f"w{i}", 60) for i in range(50)))
        taken = [c.job.id for c in claims if c is not None]
        assert sorted(taken) == sorted(job.id for job, _ in results)
        page = await store.list(pb.JobFilter(), pb.JOB_ORDER_BY_UNSPECIFIED, 1000, "")
        assert page.total_size == 40
    finally:
        await store.close()


_CLAIMER = """
import asyncio, sys
from pathlib import Path
from ting_gateway.jobs.sqlite import SqliteJobStore

async def main() -> None:
    store = SqliteJobStore(Path(sys.argv[1]))
    await store.open()
    while (claim := await store.claim(sys.argv[2], 60)) is not None:
        print(claim.job.id, flush=True)
    await store.close()

asyncio.run(main())
"""


async def test_two_processes_on_one_file_claim_each_job_once(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    store = SqliteJobStore(path)
    await store.open()
    try:
        jobs = await create_all(store, [make_job(i) for i in range(60)])
    finally:
        await store.close()
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", _CLAIMER, str(path), f"proc{n}", stdout=asyncio.subprocess.PIPE
        )
        for n in range(3)
    ]
    outputs = [(await proc.communicate())[0].decode().split() for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0]
    assert sorted(job_id for out in outputs for job_id in out) == sorted(job.id for job in jobs)
