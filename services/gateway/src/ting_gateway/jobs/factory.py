"""Open the job store a URL names: ``sqlite:///path`` (embedded default) or ``postgresql://...`` (replicas)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from ting_common.errors import InvalidArgumentError
from ting_gateway.jobs import JobStore


def open_job_store(url: str, *, table: str = "ting_jobs") -> JobStore:
    """A (not yet opened) store for ``url``; call ``await store.open()``."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        from ting_gateway.jobs.sqlite import SqliteJobStore

        path = Path(unquote(parsed.path))
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteJobStore(path)
    if parsed.scheme in {"postgres", "postgresql"}:
        from ting_gateway.jobs.postgres import PostgresJobStore

        return PostgresJobStore(url, table=table)
    raise InvalidArgumentError(
        f"jobs URL '{url}': use sqlite:///path/jobs.sqlite3 or postgresql://user@host:5432/db (TING_GATEWAY_JOBS_URL)"
    )
