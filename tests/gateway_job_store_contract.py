"""The behaviour every gateway job store must have, as tests shared by the SQLite and PostgreSQL stores.

A test module subclasses :class:`JobStoreContract` (the subclass's name starts with ``Test``) and provides a
``new_store`` fixture: a :data:`StoreFactory` whose every call opens another store object over one fresh,
shared backing (the same file, the same table), so "two replicas" and "close and reopen" are two calls. The
fixture closes what it opened and removes the backing afterwards.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
from collections.abc import Awaitable, Callable, Iterable

import pytest

from ting.gateway.v1 import pipeline_service_pb2 as pb
from ting_common.errors import InvalidArgumentError
from ting_gateway.jobs import Claim, JobStore
from ting_gateway.jobs.common import FINAL_STATES, from_seconds, to_seconds

StoreFactory = Callable[[], Awaitable[JobStore]]
"""Opens one more store over the test's backing."""

T0 = 1_750_000_000.0
"""Creation times of test jobs count from here (epoch seconds)."""

_ids = itertools.count()

ALL_ORDERS: tuple[pb.JobOrderBy, ...] = (
    pb.JOB_ORDER_BY_UNSPECIFIED,
    pb.JOB_ORDER_BY_CREATE_TIME_DESC,
    pb.JOB_ORDER_BY_CREATE_TIME_ASC,
    pb.JOB_ORDER_BY_UPDATE_TIME_DESC,
    pb.JOB_ORDER_BY_UPDATE_TIME_ASC,
)


def make_job(
    created: float,
    *,
    job_id: str | None = None,
    updated: float | None = None,
    request_id: str = "",
    labels: dict[str, str] | None = None,
    expire: float | None = None,
) -> pb.Job:
    """A QUEUED job created ``created`` seconds after :data:`T0`, with two PENDING steps and a config."""
    job = pb.Job(
        id=job_id or f"job-{next(_ids):05d}",
        display_name="meeting",
        state=pb.JOB_STATE_QUEUED,
        create_time=from_seconds(T0 + created),
        update_time=from_seconds(T0 + (created if updated is None else updated)),
        labels=labels or {},
        request_id=request_id,
        input_uri="file:///audio/meeting.wav",
        steps=[
            pb.StepStatus(stage=pb.PIPELINE_STAGE_FETCHING, state=pb.STEP_STATE_SUCCEEDED),
            pb.StepStatus(stage=pb.PIPELINE_STAGE_TRANSCRIBING, state=pb.STEP_STATE_PENDING),
        ],
    )
    job.config.translation.target_language_codes.append("de")
    if expire is not None:
        job.expire_time.CopyFrom(from_seconds(T0 + expire))
    return job


def with_state(job: pb.Job, state: pb.JobState, *, at: float | None = None) -> pb.Job:
    """A copy of ``job`` in ``state`` (updated at ``at`` seconds after T0; final states get a finish time)."""
    out = pb.Job()
    out.CopyFrom(job)
    out.state = state
    if at is not None:
        out.update_time.CopyFrom(from_seconds(T0 + at))
    if state in FINAL_STATES:
        out.finish_time.CopyFrom(out.update_time)
    return out


async def create_all(store: JobStore, jobs: Iterable[pb.Job]) -> list[pb.Job]:
    out = []
    for job in jobs:
        stored, created = await store.create(job)
        assert created
        out.append(stored)
    return out


async def list_all(
    store: JobStore, job_filter: pb.JobFilter, order_by: pb.JobOrderBy, page_size: int
) -> tuple[list[str], list[int]]:
    """Every page's ids in order, and the ``total_size`` each page reported."""
    ids: list[str] = []
    totals: list[int] = []
    token = ""
    for _ in range(100):
        page = await store.list(job_filter, order_by, page_size, token)
        assert len(page.jobs) <= page_size
        ids += [job.id for job in page.jobs]
        totals.append(page.total_size)
        token = page.next_page_token
        if not token:
            return ids, totals
    raise AssertionError("paging did not end")


class JobStoreContract:
    """Behaviour tests run against every :class:`~ting_gateway.jobs.JobStore` (see the module docstring)."""

    @pytest.fixture
    async def store(self, new_store: StoreFactory) -> JobStore:
        return await new_store()

    # --- create / get ---------------------------------------------------------------------------------------

    async def test_is_a_job_store(self, store: JobStore) -> None:
        assert isinstance(store, JobStore)

    async def test_create_then_get_returns_the_full_job(self, store: JobStore) -> None:
        job = make_job(1, labels={"team": "ops"}, expire=3600)
        stored, created = await store.create(job)
        assert created and stored == job
        assert await store.get(job.id) == job
        assert await store.get("no-such-job") is None

    async def test_create_with_a_known_request_id_returns_the_first_job(self, store: JobStore) -> None:
        first, created = await store.create(make_job(1, request_id="req-1"))
        again, created_again = await store.create(make_job(2, request_id="req-1"))
        assert created and not created_again
        assert again == first
        other, created_other = await store.create(make_job(3, request_id="req-2"))
        assert created_other and other.id != first.id
        plain_a, _ = await store.create(make_job(4))
        plain_b, created_b = await store.create(make_job(5))  # no key: always a new job
        assert created_b and plain_a.id != plain_b.id
        page = await store.list(pb.JobFilter(), pb.JOB_ORDER_BY_UNSPECIFIED, 50, "")
        assert page.total_size == 4

    async def test_concurrent_creates_with_one_request_id_make_one_job(self, new_store: StoreFactory) -> None:
        replicas = [await new_store(), await new_store()]
        jobs = [make_job(i, request_id="same-key") for i in range(12)]
        results = await asyncio.gather(*(replicas[i % 2].create(job) for i, job in enumerate(jobs)))
        assert sum(created for _, created in results) == 1
        assert len({job.id for job, _ in results}) == 1
        page = await replicas[0].list(pb.JobFilter(), pb.JOB_ORDER_BY_UNSPECIFIED, 50, "")
        assert page.total_size == 1

    async def test_create_takes_an_unspecified_state_as_queued_and_rejects_others(self, store: JobStore) -> None:
        job = make_job(1)
        job.state = pb.JOB_STATE_UNSPECIFIED
        stored, _ = await store.create(job)
        assert stored.state == pb.JOB_STATE_QUEUED
        assert (await store.get(job.id) or pb.Job()).state == pb.JOB_STATE_QUEUED
        with pytest.raises(ValueError, match="QUEUED"):
            await store.create(with_state(make_job(2), pb.JOB_STATE_RUNNING))

    # --- list -----------------------------------------------------------------------------------------------

    async def test_list_filters_by_state_labels_and_create_time(self, store: JobStore) -> None:
        a, b, c, d = await create_all(
            store,
            [
                make_job(10, labels={"team": "ops", "env": "prod"}),
                make_job(20, labels={"team": "ops", "env": "dev"}),
                make_job(30, labels={"team": "web"}),
                make_job(40),
            ],
        )
        await store.save(with_state(b, pb.JOB_STATE_SUCCEEDED, at=50))
        await store.save(with_state(c, pb.JOB_STATE_FAILED, at=60))

        async def ids(**kwargs: object) -> set[str]:
            page = await store.list(pb.JobFilter(**kwargs), pb.JOB_ORDER_BY_UNSPECIFIED, 100, "")  # type: ignore[arg-type]
            assert page.total_size == len(page.jobs)
            return {job.id for job in page.jobs}

        assert await ids() == {a.id, b.id, c.id, d.id}
        assert await ids(states=[pb.JOB_STATE_QUEUED]) == {a.id, d.id}
        assert await ids(states=[pb.JOB_STATE_SUCCEEDED, pb.JOB_STATE_FAILED]) == {b.id, c.id}
        assert await ids(labels={"team": "ops"}) == {a.id, b.id}
        assert await ids(labels={"team": ""}) == {a.id, b.id, c.id}  # empty value: any value of the key
        assert await ids(labels={"team": "ops", "env": "prod"}) == {a.id}
        assert await ids(labels={"team": "ops", "env": ""}) == {a.id, b.id}
        assert await ids(labels={"env": "", "team": "web"}) == set()
        assert await ids(labels={"missing": ""}) == set()
        assert await ids(create_time_start=from_seconds(T0 + 20)) == {b.id, c.id, d.id}  # start is inclusive
        assert await ids(create_time_end=from_seconds(T0 + 30)) == {a.id, b.id}  # end is exclusive
        assert await ids(create_time_start=from_seconds(T0 + 15), create_time_end=from_seconds(T0 + 35)) == {
            b.id,
            c.id,
        }
        assert await ids(states=[pb.JOB_STATE_QUEUED], labels={"team": ""}) == {a.id}

    async def test_list_orders(self, store: JobStore) -> None:
        # Created 1, 2, 3, 4; updated in another order: 3, 1, 4, 2.
        jobs = await create_all(store, [make_job(c, updated=u) for c, u in [(1, 20), (2, 40), (3, 10), (4, 30)]])
        by_create = [job.id for job in jobs]
        by_update = [jobs[i].id for i in (2, 0, 3, 1)]
        expected = {
            pb.JOB_ORDER_BY_UNSPECIFIED: by_create[::-1],
            pb.JOB_ORDER_BY_CREATE_TIME_DESC: by_create[::-1],
            pb.JOB_ORDER_BY_CREATE_TIME_ASC: by_create,
            pb.JOB_ORDER_BY_UPDATE_TIME_DESC: by_update[::-1],
            pb.JOB_ORDER_BY_UPDATE_TIME_ASC: by_update,
        }
        for order, ids in expected.items():
            page = await store.list(pb.JobFilter(), order, 10, "")
            assert [job.id for job in page.jobs] == ids, pb.JobOrderBy.Name(order)
            paged, _ = await list_all(store, pb.JobFilter(), order, 3)
            assert paged == ids, pb.JobOrderBy.Name(order)

    async def test_paging_returns_every_job_once_with_the_total(self, store: JobStore) -> None:
        # Nine jobs, three sharing one creation time and three one update time: ties break by id.
        specs = [(1, 5), (2, 5), (2, 5), (2, 6), (3, 7), (4, 1), (5, 2), (6, 9), (7, 8)]
        jobs = await create_all(
            store, [make_job(c, updated=u, labels={"n": str(i % 2)}) for i, (c, u) in enumerate(specs)]
        )
        for order in ALL_ORDERS:
            ids, totals = await list_all(store, pb.JobFilter(), order, 2)
            assert sorted(ids) == sorted(job.id for job in jobs), pb.JobOrderBy.Name(order)
            assert totals == [9] * 5
            odd, totals = await list_all(store, pb.JobFilter(labels={"n": "1"}), order, 2)
            assert sorted(odd) == sorted(job.id for i, job in enumerate(jobs) if i % 2), pb.JobOrderBy.Name(order)
            assert totals == [4, 4]
        # The page size may change between pages (the token does not carry it).
        first = await store.list(pb.JobFilter(), pb.JOB_ORDER_BY_CREATE_TIME_ASC, 4, "")
        rest = await store.list(pb.JobFilter(), pb.JOB_ORDER_BY_CREATE_TIME_ASC, 0, first.next_page_token)
        assert len(first.jobs) == 4 and len(rest.jobs) == 5 and not rest.next_page_token
        assert {job.id for job in first.jobs + rest.jobs} == {job.id for job in jobs}

    async def test_empty_list_and_exact_last_page(self, store: JobStore) -> None:
        empty = await store.list(pb.JobFilter(), pb.JOB_ORDER_BY_UNSPECIFIED, 2, "")
        assert empty.jobs == [] and empty.next_page_token == "" and empty.total_size == 0
        await create_all(store, [make_job(1), make_job(2)])
        page = await store.list(pb.JobFilter(), pb.JOB_ORDER_BY_UNSPECIFIED, 2, "")
        assert len(page.jobs) == 2 and page.next_page_token == ""  # no empty trailing page

    async def test_a_malformed_page_token_is_an_invalid_argument(self, store: JobStore) -> None:
        await create_all(store, [make_job(1), make_job(2), make_job(3)])
        not_json = base64.urlsafe_b64encode(b"not json").decode()
        wrong_shape = base64.urlsafe_b64encode(b'{"v": 1, "k": "x"}').decode()
        for token in ["%%%", "bm90IGpzb24", not_json, wrong_shape, "e30"]:
            with pytest.raises(InvalidArgumentError, match="page_token"):
                await store.list(pb.JobFilter(), pb.JOB_ORDER_BY_UNSPECIFIED, 2, token)

    async def test_a_page_token_is_only_valid_with_its_filter_and_order(self, store: JobStore) -> None:
        await create_all(store, [make_job(i, labels={"team": "ops"}) for i in range(3)])
        ops = pb.JobFilter(labels={"team": "ops"})
        token = (await store.list(ops, pb.JOB_ORDER_BY_CREATE_TIME_ASC, 2, "")).next_page_token
        assert token
        # The same filter and order, however spelled, accept it.
        same = await store.list(pb.JobFilter(labels={"team": "ops"}), pb.JOB_ORDER_BY_CREATE_TIME_ASC, 2, token)
        assert len(same.jobs) == 1
        for job_filter, order in [
            (pb.JobFilter(), pb.JOB_ORDER_BY_CREATE_TIME_ASC),
            (pb.JobFilter(labels={"team": ""}), pb.JOB_ORDER_BY_CREATE_TIME_ASC),
            (pb.JobFilter(labels={"team": "ops"}, states=[pb.JOB_STATE_QUEUED]), pb.JOB_ORDER_BY_CREATE_TIME_ASC),
            (ops, pb.JOB_ORDER_BY_CREATE_TIME_DESC),
            (ops, pb.JOB_ORDER_BY_UPDATE_TIME_ASC),
        ]:
            with pytest.raises(InvalidArgumentError, match="another filter or order"):
                await store.list(job_filter, order, 2, token)
        desc = (await store.list(pb.JobFilter(), pb.JOB_ORDER_BY_CREATE_TIME_DESC, 2, "")).next_page_token
        # UNSPECIFIED means newest first: the same order.
        assert len((await store.list(pb.JobFilter(), pb.JOB_ORDER_BY_UNSPECIFIED, 2, desc)).jobs) == 1

    async def test_list_rejects_a_negative_page_size_and_an_unknown_order(self, store: JobStore) -> None:
        with pytest.raises(InvalidArgumentError, match="page_size"):
            await store.list(pb.JobFilter(), pb.JOB_ORDER_BY_UNSPECIFIED, -1, "")
        with pytest.raises(InvalidArgumentError, match="order_by"):
            await store.list(pb.JobFilter(), 99, 10, "")  # type: ignore[arg-type]

    # --- claims ---------------------------------------------------------------------------------------------

    async def test_claim_takes_the_oldest_queued_job_first(self, store: JobStore) -> None:
        assert await store.claim("w1", 30) is None
        newer, older, oldest = await create_all(store, [make_job(30), make_job(20), make_job(10)])
        claims = [await store.claim("w1", 30) for _ in range(3)]
        assert [c.job.id if c else None for c in claims] == [oldest.id, older.id, newer.id]
        assert all(c is not None and c.attempt == 1 and c.worker_id == "w1" for c in claims)
        assert claims[0] is not None and claims[0].job == oldest
        assert await store.claim("w2", 30) is None  # every job is held under a live lease

    async def test_concurrent_claimers_on_two_replicas_take_each_job_once(self, new_store: StoreFactory) -> None:
        replicas = [await new_store(), await new_store()]
        jobs = await create_all(replicas[0], [make_job(i) for i in range(24)])

        async def worker(n: int) -> list[Claim]:
            store = replicas[n % 2]
            taken: list[Claim] = []
            while (claim := await store.claim(f"w{n}", 60)) is not None:
                taken.append(claim)
                await asyncio.sleep(0)
            return taken

        per_worker = await asyncio.gather(*(worker(n) for n in range(8)))
        claimed = [claim.job.id for taken in per_worker for claim in taken]
        assert sorted(claimed) == sorted(job.id for job in jobs)  # every job, none twice
        assert all(claim.attempt == 1 for taken in per_worker for claim in taken)
        assert await replicas[1].queue_depth() == 0

    async def test_an_expired_lease_is_claimed_again_and_fences_the_old_worker(self, new_store: StoreFactory) -> None:
        a, b = await new_store(), await new_store()
        (job,) = await create_all(a, [make_job(1)])
        first = await a.claim("old", 0.2)
        assert first is not None and first.attempt == 1
        assert await a.save(with_state(first.job, pb.JOB_STATE_RUNNING, at=2), worker_id="old")
        assert await b.claim("new", 30) is None  # live lease
        await asyncio.sleep(0.4)
        second = await b.claim("new", 30)
        assert second is not None and second.job.id == job.id and second.attempt == 2
        assert second.job.state == pb.JOB_STATE_RUNNING
        late = with_state(first.job, pb.JOB_STATE_SUCCEEDED, at=3)
        assert not await a.save(late, worker_id="old")
        assert await a.get(job.id) == second.job  # nothing written
        assert not await a.renew(job.id, "old", 30)
        assert await b.renew(job.id, "new", 30)
        assert await b.save(with_state(second.job, pb.JOB_STATE_SUCCEEDED, at=4), worker_id="new")

    async def test_renew_keeps_the_lease_for_its_holder_only(self, store: JobStore) -> None:
        await create_all(store, [make_job(1)])
        claim = await store.claim("w1", 0.3)
        assert claim is not None
        assert await store.renew(claim.job.id, "w1", 30)
        assert not await store.renew(claim.job.id, "w2", 30)
        assert not await store.renew("no-such-job", "w1", 30)
        await asyncio.sleep(0.5)  # past the first lease, well within the renewed one
        assert await store.claim("w2", 30) is None
        assert await store.queue_depth() == 0

    async def test_saving_a_final_state_releases_the_claim(self, store: JobStore) -> None:
        await create_all(store, [make_job(1)])
        claim = await store.claim("w1", 0.2)
        assert claim is not None
        running = with_state(claim.job, pb.JOB_STATE_RUNNING, at=2)
        running.progress = 0.5
        assert await store.save(running, worker_id="w1")
        assert await store.get(running.id) == running
        done = with_state(running, pb.JOB_STATE_SUCCEEDED, at=3)
        assert await store.save(done, worker_id="w1")
        assert await store.get(done.id) == done
        await asyncio.sleep(0.3)  # the old lease would have expired: a final job is still not runnable
        assert await store.claim("w2", 30) is None
        assert await store.queue_depth() == 0
        assert not await store.save(done, worker_id="w1")  # the claim is gone
        assert not await store.renew(done.id, "w1", 30)

    async def test_save_without_a_worker_writes_and_an_unknown_job_is_not_created(self, store: JobStore) -> None:
        (job,) = await create_all(store, [make_job(1, labels={"a": "1"})])
        changed = pb.Job()
        changed.CopyFrom(job)
        changed.display_name = "renamed"
        changed.labels["b"] = "2"
        changed.expire_time.CopyFrom(from_seconds(T0 + 99))
        assert await store.save(changed)
        assert await store.get(job.id) == changed
        page = await store.list(pb.JobFilter(labels={"b": "2"}), pb.JOB_ORDER_BY_UNSPECIFIED, 10, "")
        assert [j.id for j in page.jobs] == [job.id]  # the label columns follow the message
        assert not await store.save(make_job(2, job_id="never-created"))
        assert await store.get("never-created") is None

    # --- cancellation ---------------------------------------------------------------------------------------

    async def test_cancelling_a_queued_job_cancels_it_at_once(self, store: JobStore) -> None:
        (job,) = await create_all(store, [make_job(1)])
        cancelled = await store.request_cancel(job.id)
        assert cancelled is not None
        assert cancelled.state == pb.JOB_STATE_CANCELLED
        assert cancelled.HasField("finish_time") and cancelled.finish_time == cancelled.update_time
        assert to_seconds(cancelled.update_time) > to_seconds(job.update_time)
        # The finished step keeps its state; the pending one is cancelled (and finished).
        assert [s.state for s in cancelled.steps] == [pb.STEP_STATE_SUCCEEDED, pb.STEP_STATE_CANCELLED]
        assert cancelled.steps[1].HasField("finish_time")
        assert await store.get(job.id) == cancelled
        assert await store.cancel_requested(job.id)
        assert await store.claim("w1", 30) is None
        assert await store.queue_depth() == 0
        page = await store.list(pb.JobFilter(states=[pb.JOB_STATE_CANCELLED]), pb.JOB_ORDER_BY_UNSPECIFIED, 10, "")
        assert [j.id for j in page.jobs] == [job.id]

    async def test_cancelling_a_claimed_queued_job_fences_its_worker(self, store: JobStore) -> None:
        (job,) = await create_all(store, [make_job(1)])
        claim = await store.claim("w1", 30)
        assert claim is not None
        cancelled = await store.request_cancel(job.id)
        assert cancelled is not None and cancelled.state == pb.JOB_STATE_CANCELLED
        assert not await store.save(with_state(claim.job, pb.JOB_STATE_RUNNING, at=2), worker_id="w1")
        assert await store.get(job.id) == cancelled

    async def test_cancelling_a_running_job_asks_its_worker(self, new_store: StoreFactory) -> None:
        worker_side, api_side = await new_store(), await new_store()
        await create_all(worker_side, [make_job(1)])
        claim = await worker_side.claim("w1", 30)
        assert claim is not None
        running = with_state(claim.job, pb.JOB_STATE_RUNNING, at=2)
        assert await worker_side.save(running, worker_id="w1")
        assert not await worker_side.cancel_requested(running.id)

        cancelling = await api_side.request_cancel(running.id)
        assert cancelling is not None and cancelling.state == pb.JOB_STATE_CANCELLING
        assert not cancelling.HasField("finish_time")
        assert await worker_side.cancel_requested(running.id)
        assert await api_side.request_cancel(running.id) == cancelling  # asking twice changes nothing

        # The worker reports progress in RUNNING before it notices: the state stays CANCELLING.
        progress = with_state(running, pb.JOB_STATE_RUNNING, at=5)
        progress.progress = 0.7
        assert await worker_side.save(progress, worker_id="w1")
        stored = await api_side.get(running.id)
        assert stored is not None and stored.state == pb.JOB_STATE_CANCELLING and stored.progress == pytest.approx(0.7)
        listed = await api_side.list(
            pb.JobFilter(states=[pb.JOB_STATE_CANCELLING]), pb.JOB_ORDER_BY_UNSPECIFIED, 10, ""
        )
        assert [j.id for j in listed.jobs] == [running.id]

        done = with_state(stored, pb.JOB_STATE_CANCELLED, at=6)
        assert await worker_side.save(done, worker_id="w1")
        assert await api_side.get(running.id) == done
        assert await api_side.claim("w2", 30) is None

    async def test_cancelling_a_final_or_unknown_job_changes_nothing(self, store: JobStore) -> None:
        (job,) = await create_all(store, [make_job(1)])
        done = with_state(job, pb.JOB_STATE_SUCCEEDED, at=2)
        assert await store.save(done)
        assert await store.request_cancel(job.id) == done
        assert await store.get(job.id) == done
        assert not await store.cancel_requested(job.id)
        assert await store.request_cancel("no-such-job") is None
        assert not await store.cancel_requested("no-such-job")

    # --- queue depth, retention, durability -----------------------------------------------------------------

    async def test_queue_depth_counts_queued_jobs_and_expired_leases(self, store: JobStore) -> None:
        assert await store.queue_depth() == 0
        a, b, c, d = await create_all(store, [make_job(1), make_job(2), make_job(3), make_job(4)])
        assert await store.queue_depth() == 4
        assert await store.save(with_state(d, pb.JOB_STATE_FAILED, at=5))
        assert await store.queue_depth() == 3
        short = await store.claim("w1", 0.2)
        long = await store.claim("w2", 30)
        assert short is not None and short.job.id == a.id and long is not None and long.job.id == b.id
        assert await store.save(with_state(short.job, pb.JOB_STATE_RUNNING, at=6), worker_id="w1")
        assert await store.queue_depth() == 1  # c
        await asyncio.sleep(0.4)
        assert await store.queue_depth() == 2  # c, and a whose worker stopped renewing
        again = await store.claim("w3", 30)
        assert again is not None and again.job.id == a.id and again.attempt == 2
        assert await store.queue_depth() == 1
        last = await store.claim("w3", 30)
        assert last is not None and last.job.id == c.id
        assert await store.queue_depth() == 0

    async def test_delete_expired_removes_only_final_jobs_past_their_expiry(self, store: JobStore) -> None:
        old_done, new_done, old_queued, forever = await create_all(
            store, [make_job(1, expire=100), make_job(2, expire=300), make_job(3, expire=100), make_job(4)]
        )
        assert await store.save(with_state(old_done, pb.JOB_STATE_SUCCEEDED, at=10))
        assert await store.save(with_state(new_done, pb.JOB_STATE_CANCELLED, at=10))
        assert await store.save(with_state(forever, pb.JOB_STATE_FAILED, at=10))
        assert await store.delete_expired(T0 + 100) == []  # "before now_s": not at
        assert await store.delete_expired(T0 + 200) == [old_done.id]
        assert await store.get(old_done.id) is None
        assert await store.get(new_done.id) is not None and await store.get(old_queued.id) is not None
        assert await store.get(forever.id) is not None
        assert await store.delete_expired(T0 + 10**6) == [new_done.id]
        page = await store.list(pb.JobFilter(), pb.JOB_ORDER_BY_UNSPECIFIED, 10, "")
        assert {j.id for j in page.jobs} == {old_queued.id, forever.id} and page.total_size == 2

    async def test_jobs_survive_closing_and_reopening(self, new_store: StoreFactory) -> None:
        first = await new_store()
        await first.open()  # opening twice is harmless
        queued, running = await create_all(first, [make_job(1, request_id="keep"), make_job(2)])
        claim = await first.claim("w1", 30)
        assert claim is not None and claim.job.id == queued.id
        await first.close()
        await first.close()  # closing twice too

        reopened = await new_store()
        assert await reopened.get(queued.id) == queued
        assert await reopened.get(running.id) == running
        again, created = await reopened.create(make_job(9, request_id="keep"))
        assert not created and again == queued  # the idempotency key survives too
        nxt = await reopened.claim("w2", 30)  # the first job's lease survives: the next one is handed out
        assert nxt is not None and nxt.job.id == running.id
        assert await reopened.renew(queued.id, "w1", 30)
