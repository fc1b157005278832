"""What the job stores share: states, timestamps, the normalized list query, page tokens and cancellation.

Both stores keep times as epoch seconds (float) in their columns, taken from the job message's timestamps, so a
keyset cursor is a ``(seconds, id)`` pair that compares the same way in SQLite and PostgreSQL. A page token is
the cursor plus a fingerprint of the filter and order it was issued for, as URL-safe base64 of JSON: opaque to
callers, and rejected with :class:`~ting_common.errors.InvalidArgumentError` when it is malformed or comes back
with another filter or order.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace

from google.protobuf.timestamp_pb2 import Timestamp

from ting.gateway.v1 import pipeline_service_pb2 as pb
from ting_common.errors import InvalidArgumentError

FINAL_STATES: frozenset[int] = frozenset(
    {pb.JOB_STATE_SUCCEEDED, pb.JOB_STATE_PARTIALLY_SUCCEEDED, pb.JOB_STATE_FAILED, pb.JOB_STATE_CANCELLED}
)
"""States a job never leaves."""

ACTIVE_STATES: tuple[int, ...] = (pb.JOB_STATE_QUEUED, pb.JOB_STATE_RUNNING, pb.JOB_STATE_CANCELLING)
"""States in which a job needs a worker (claimable while nobody holds a live lease on it)."""

FINAL_STEP_STATES: frozenset[int] = frozenset(
    {pb.STEP_STATE_SUCCEEDED, pb.STEP_STATE_FAILED, pb.STEP_STATE_SKIPPED, pb.STEP_STATE_CANCELLED}
)
"""Step states a step never leaves."""

DEFAULT_PAGE_SIZE = 50
"""Page size when the caller asks for 0."""

MAX_PAGE_SIZE = 1000
"""Largest page returned; larger requests get this many."""

_TOKEN_VERSION = 1


# --- timestamps -------------------------------------------------------------------------------------------


def to_seconds(ts: Timestamp) -> float:
    """Epoch seconds of a timestamp (an unset one is 0.0)."""
    return ts.seconds + ts.nanos / 1e9


def from_seconds(seconds: float) -> Timestamp:
    """The timestamp of epoch seconds."""
    ts = Timestamp()
    whole = int(seconds // 1)
    ts.seconds = whole
    ts.nanos = min(round((seconds - whole) * 1e9), 999_999_999)
    return ts


def now_timestamp() -> Timestamp:
    """The current time of this process's clock."""
    ts = Timestamp()
    ts.FromNanoseconds(time.time_ns())
    return ts


def expire_seconds(job: pb.Job) -> float | None:
    """The job's ``expire_time`` in epoch seconds, ``None`` when it is kept forever."""
    return to_seconds(job.expire_time) if job.HasField("expire_time") else None


# --- jobs -------------------------------------------------------------------------------------------------


def is_final(state: int) -> bool:
    """Whether ``state`` is final (SUCCEEDED, PARTIALLY_SUCCEEDED, FAILED, CANCELLED)."""
    return state in FINAL_STATES


def new_job_row(job: pb.Job) -> pb.Job:
    """The copy of ``job`` that :meth:`JobStore.create` stores: state QUEUED (UNSPECIFIED is taken as QUEUED),
    ``create_time``/``update_time`` filled with now when the caller left them unset.

    Raises ``ValueError`` (a caller bug, not a request error) without an id or in another state."""
    if not job.id:
        raise ValueError("a job needs an id before it is stored")
    if job.state not in (pb.JOB_STATE_UNSPECIFIED, pb.JOB_STATE_QUEUED):
        raise ValueError(f"a new job must be QUEUED, not {pb.JobState.Name(job.state)}")
    row = pb.Job()
    row.CopyFrom(job)
    row.state = pb.JOB_STATE_QUEUED
    if not row.HasField("create_time"):
        row.create_time.CopyFrom(now_timestamp())
    if not row.HasField("update_time"):
        row.update_time.CopyFrom(row.create_time)
    return row


def cancel_queued(job: pb.Job, now: Timestamp | None = None) -> pb.Job:
    """A QUEUED job cancelled before any worker ran it: state CANCELLED, ``update_time`` and ``finish_time``
    now, and every step that had not reached a final state CANCELLED (finished now). Returns a copy."""
    now = now if now is not None else now_timestamp()
    out = pb.Job()
    out.CopyFrom(job)
    out.state = pb.JOB_STATE_CANCELLED
    out.update_time.CopyFrom(now)
    out.finish_time.CopyFrom(now)
    for step in out.steps:
        if step.state not in FINAL_STEP_STATES:
            step.state = pb.STEP_STATE_CANCELLED
            step.finish_time.CopyFrom(now)
    return out


def mark_cancelling(job: pb.Job, now: Timestamp | None = None) -> pb.Job:
    """A running job whose cancellation was requested: state CANCELLING, ``update_time`` now. Returns a copy."""
    out = pb.Job()
    out.CopyFrom(job)
    out.state = pb.JOB_STATE_CANCELLING
    out.update_time.CopyFrom(now if now is not None else now_timestamp())
    return out


def keep_cancelling(job: pb.Job, cancel_requested: bool) -> pb.Job:
    """The job as :meth:`JobStore.save` writes it: when cancellation was requested and the worker reports a
    transient state, the state stays CANCELLING (never downgraded to RUNNING). Returns ``job`` or a copy."""
    if not cancel_requested or job.state not in (pb.JOB_STATE_QUEUED, pb.JOB_STATE_RUNNING):
        return job
    out = pb.Job()
    out.CopyFrom(job)
    out.state = pb.JOB_STATE_CANCELLING
    return out


def labels_json(labels: Mapping[str, str]) -> str:
    """The labels column: a JSON object with sorted keys."""
    return json.dumps(dict(labels), sort_keys=True, separators=(",", ":"))


def labels_match(labels: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    """Whether ``labels`` carries every label of ``wanted``; an empty wanted value matches any value of its key."""
    return all(key in labels and (not value or labels[key] == value) for key, value in wanted.items())


# --- list queries -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Order:
    """A sort order of :meth:`JobStore.list`: by ``column`` (``create_time`` or ``update_time``), then ``id``,
    both in the same direction."""

    column: str
    descending: bool


_ORDERS: dict[int, Order] = {
    pb.JOB_ORDER_BY_UNSPECIFIED: Order("create_time", True),
    pb.JOB_ORDER_BY_CREATE_TIME_DESC: Order("create_time", True),
    pb.JOB_ORDER_BY_CREATE_TIME_ASC: Order("create_time", False),
    pb.JOB_ORDER_BY_UPDATE_TIME_DESC: Order("update_time", True),
    pb.JOB_ORDER_BY_UPDATE_TIME_ASC: Order("update_time", False),
}


@dataclass(frozen=True)
class Cursor:
    """A keyset position: the sort value and id of the last job of the previous page."""

    value: float
    job_id: str


@dataclass(frozen=True)
class JobQuery:
    """A :class:`~ting.gateway.v1.pipeline_service_pb2.JobFilter` and order, normalized (UNSPECIFIED order is
    newest first; states deduplicated and sorted; labels split into key+value and key-only conditions), with
    the page size clamped to ``1..MAX_PAGE_SIZE`` (0 is :data:`DEFAULT_PAGE_SIZE`) and the decoded cursor."""

    states: tuple[int, ...]
    labels_equal: tuple[tuple[str, str], ...]
    labels_present: tuple[str, ...]
    create_time_start: float | None
    create_time_end: float | None
    order: Order
    page_size: int
    cursor: Cursor | None

    @classmethod
    def parse(cls, job_filter: pb.JobFilter, order_by: pb.JobOrderBy, page_size: int, page_token: str) -> JobQuery:
        """Normalize the arguments of :meth:`JobStore.list`; raises ``InvalidArgumentError`` for an unknown
        order, a negative page size, or a page token that is malformed or was issued for another filter/order."""
        order = _ORDERS.get(int(order_by))
        if order is None:
            raise InvalidArgumentError(f"order_by {int(order_by)} is not a known JobOrderBy value")
        if page_size < 0:
            raise InvalidArgumentError(f"page_size must be 0..{MAX_PAGE_SIZE}, got {page_size}")
        labels = sorted(job_filter.labels.items())
        query = cls(
            states=tuple(sorted({int(state) for state in job_filter.states})),
            labels_equal=tuple((key, value) for key, value in labels if value),
            labels_present=tuple(key for key, value in labels if not value),
            create_time_start=(
                to_seconds(job_filter.create_time_start) if job_filter.HasField("create_time_start") else None
            ),
            create_time_end=to_seconds(job_filter.create_time_end) if job_filter.HasField("create_time_end") else None,
            order=order,
            page_size=min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
            cursor=None,
        )
        if not page_token:
            return query
        return replace(query, cursor=decode_page_token(page_token, query.fingerprint()))

    def fingerprint(self) -> str:
        """A short hash of the filter and order (not the page size, which may change between pages)."""
        canonical = json.dumps(
            [
                list(self.states),
                [list(pair) for pair in self.labels_equal],
                list(self.labels_present),
                self.create_time_start,
                self.create_time_end,
                self.order.column,
                self.order.descending,
            ],
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def matches(self, job: pb.Job) -> bool:
        """Whether ``job`` passes the filter (the reference semantics the SQL of both stores implements)."""
        created = to_seconds(job.create_time)
        return (
            (not self.states or job.state in self.states)
            and labels_match(job.labels, dict(self.labels_equal) | dict.fromkeys(self.labels_present, ""))
            and (self.create_time_start is None or created >= self.create_time_start)
            and (self.create_time_end is None or created < self.create_time_end)
        )

    def next_token(self, last: pb.Job) -> str:
        """The page token that continues after ``last`` (the last job of a full page)."""
        value = to_seconds(last.create_time if self.order.column == "create_time" else last.update_time)
        return encode_page_token(Cursor(value, last.id), self.fingerprint())


def encode_page_token(cursor: Cursor, fingerprint: str) -> str:
    """An opaque page token: URL-safe base64 (unpadded) of JSON ``{"v", "k", "i", "f"}``."""
    payload = {"v": _TOKEN_VERSION, "k": cursor.value, "i": cursor.job_id, "f": fingerprint}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str, fingerprint: str) -> Cursor:
    """The cursor of a page token issued for ``fingerprint``; ``InvalidArgumentError`` otherwise."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidArgumentError(
            "page_token is malformed; pass the next_page_token of the previous response unchanged"
        ) from exc
    if (
        not isinstance(payload, dict)
        or payload.get("v") != _TOKEN_VERSION
        or not isinstance(payload.get("k"), int | float)
        or isinstance(payload.get("k"), bool)
        or not isinstance(payload.get("i"), str)
        or not isinstance(payload.get("f"), str)
    ):
        raise InvalidArgumentError(
            "page_token is malformed; pass the next_page_token of the previous response unchanged"
        )
    if payload["f"] != fingerprint:
        raise InvalidArgumentError(
            "page_token was issued for another filter or order; a token is only valid with the filter and "
            "order of the request that returned it (start again without a token)"
        )
    return Cursor(float(payload["k"]), payload["i"])
