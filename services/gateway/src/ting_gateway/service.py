"""The gateway's core, shared by its gRPC servicer and its REST API: ``process``, the job operations, the workers.

Jobs are durable: ``create_job`` stores the input (inline audio goes to storage first) and the job (QUEUED) in the
job store before it returns, so an accepted job survives a gateway restart. Workers (``settings.workers`` asyncio
tasks per replica) claim jobs from the store with a lease and renew it while they run; a worker that dies stops
renewing, its lease expires and another worker (in this replica or another one sharing the database) takes the
job over and resumes it - steps that had succeeded are not run again. Every change is saved under the claim, so
a worker that lost its claim can't overwrite the new holder's work. A graceful stop puts running jobs back in
the queue at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Final

from google.protobuf import json_format
from prometheus_client import Counter, Gauge, Histogram
from tenacity import AsyncRetrying, stop_after_attempt, wait_exponential_jitter

from ting.audio.v1 import audio_pb2
from ting.gateway.v1 import pipeline_service_pb2 as pb
from ting.separation.v1 import separation_service_pb2 as sep_pb
from ting_common.audio import AudioEncoding, decode_audio_multichannel, encode_wav
from ting_common.errors import (
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    TingError,
)
from ting_common.sources import read_audio_source
from ting_gateway.config import GatewaySettings
from ting_gateway.downstream import Downstream
from ting_gateway.jobs import Claim, JobStore
from ting_gateway.pipeline import (
    FINAL_STEP_STATES,
    STEM_NAMES,
    InlineOutputs,
    Input,
    Pipeline,
    StepTracker,
    error_status,
    now_ts,
    plan_steps,
    validate_config,
)
from ting_gateway.render import RenderedFile, render
from ting_gateway.storage import Storage
from ting_gateway.storage.links import link_query

logger = logging.getLogger(__name__)

FINAL_JOB_STATES: Final = frozenset(
    {pb.JOB_STATE_SUCCEEDED, pb.JOB_STATE_PARTIALLY_SUCCEEDED, pb.JOB_STATE_FAILED, pb.JOB_STATE_CANCELLED}
)
LABEL_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")
HEADERLESS: Final = frozenset({1, 2, 3, 4})  # LINEAR16, FLOAT32, MULAW, ALAW
STEM_EXTENSIONS: Final = {sep_pb.OUTPUT_AUDIO_FORMAT_FLAC: "flac"}

QUEUE_DEPTH = Gauge("ting_gateway_jobs_queued", "Jobs waiting for a worker (the autoscaling metric).")
JOBS_RUNNING = Gauge("ting_gateway_jobs_running", "Jobs this replica's workers are running.")
JOBS_FINISHED = Counter("ting_gateway_jobs_finished_total", "Jobs that reached a final state here.", ["state"])
JOB_SECONDS = Histogram(
    "ting_gateway_job_seconds",
    "Wall time of a job run by this replica.",
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200),
)


class _Stop(Exception):
    """Why a running job's task was stopped from outside (cancel, lost claim, shutdown)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _to_wav(content: bytes, fmt: audio_pb2.AudioFormat) -> bytes:
    audio = decode_audio_multichannel(
        content,
        encoding=AudioEncoding(fmt.encoding),
        sample_rate_hint=fmt.sample_rate_hertz,
        channels_hint=fmt.channel_count,
    )
    return encode_wav(audio.samples.T, audio.sample_rate)


def _final(state: int) -> bool:
    return state in FINAL_JOB_STATES


def job_event(job: pb.Job, *, step: pb.StepStatus | None = None, final: bool = False) -> pb.JobEvent:
    """An event of ``job`` as it is now: the step that changed, or (``final``) the whole job."""
    event = pb.JobEvent(
        job_id=job.id,
        state=job.state,
        stage=job.stage,
        progress=job.progress,
        message=job.message,
        event_time=now_ts(),
    )
    if step is not None:
        event.step.CopyFrom(step)
    if final:
        event.job.CopyFrom(job)
    return event


def job_view(job: pb.Job, view: int) -> pb.Job:
    """``job`` trimmed to ``view`` (BASIC drops config and result)."""
    if view == pb.JOB_VIEW_BASIC:
        trimmed = pb.Job()
        trimmed.CopyFrom(job)
        trimmed.ClearField("config")
        trimmed.ClearField("result")
        return trimmed
    return job


def check_labels(labels: dict[str, str]) -> None:
    """INVALID_ARGUMENT unless labels follow the contract (≤64; lowercase keys 1..63; values ≤63)."""
    if len(labels) > 64:
        raise InvalidArgumentError(f"at most 64 labels, got {len(labels)}")
    for key, value in labels.items():
        if not (1 <= len(key) <= 63 and key[0].isalpha() and key[0].islower() and set(key) <= LABEL_CHARS):
            raise InvalidArgumentError(
                f"label key '{key}': 1..63 lowercase letters, digits, '_' or '-', starting with a letter"
            )
        if len(value) > 63 or not set(value) <= LABEL_CHARS:
            raise InvalidArgumentError(f"label '{key}': the value must be at most 63 lowercase letters, digits, _ or -")


def check_job_request(request: pb.CreateJobRequest) -> None:
    """Everything about a job request that can be checked before its audio is stored (INVALID_ARGUMENT,
    OUT_OF_RANGE): the pipeline config, the idempotency key, name, labels and callback URL."""
    validate_config(request.config)
    if len(request.request_id) > 128:
        raise InvalidArgumentError("request_id: at most 128 characters")
    if len(request.display_name) > 256:
        raise InvalidArgumentError("display_name: at most 256 characters")
    check_labels(dict(request.labels))
    if request.callback_url and not request.callback_url.startswith(("http://", "https://")):
        raise InvalidArgumentError("callback_url must be an http:// or https:// URL")


class StorageOutputs:
    """Jobs: stems and rendered files go to the storage, under the job's output prefix."""

    def __init__(self, gateway: Gateway, prefix_key: str) -> None:
        self.gateway = gateway
        self.prefix_key = prefix_key

    async def stem(self, stem: sep_pb.SeparatedStem) -> sep_pb.SeparatedStem:
        ext = STEM_EXTENSIONS.get(stem.format, "wav")
        name = STEM_NAMES.get(stem.stem, "stem")
        key = f"{self.prefix_key}stems/{name}.{ext}"
        content_type = "audio/flac" if ext == "flac" else "audio/wav"
        stored = await asyncio.to_thread(self.gateway.storage.put, key, stem.content, content_type=content_type)
        kept = sep_pb.SeparatedStem()
        kept.CopyFrom(stem)
        kept.uri = stored.uri
        kept.size_bytes = stored.size_bytes
        return kept

    async def artifact(self, file: RenderedFile) -> pb.Artifact:
        key = f"{self.prefix_key}{file.filename}"
        stored = await asyncio.to_thread(self.gateway.storage.put, key, file.content, content_type=file.content_type)
        artifact = pb.Artifact(
            kind=file.kind,
            format=file.format,
            language_code=file.language_code,
            filename=file.filename,
            content_type=file.content_type,
            uri=stored.uri,
            size_bytes=stored.size_bytes,
        )
        self.gateway.attach_link(artifact)
        return artifact


class Gateway:
    """Process, jobs and workers over a downstream, a storage and a job store."""

    def __init__(self, settings: GatewaySettings, downstream: Downstream, storage: Storage, store: JobStore) -> None:
        self.settings = settings
        self.downstream = downstream
        self.storage = storage
        self.store = store
        self.pipeline = Pipeline(downstream)
        self._workers: list[asyncio.Task[None]] = []
        self._background: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self._changed = asyncio.Condition()
        self._stopping = False
        self._host = f"{socket.gethostname()}-{os.getpid()}"

    # -- life cycle ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the store and start the workers and the housekeeping task."""
        await self.store.open()
        for index in range(self.settings.workers):
            self._workers.append(asyncio.create_task(self._worker(index), name=f"gateway-worker-{index}"))
        self._background.append(asyncio.create_task(self._housekeeping(), name="gateway-housekeeping"))

    async def stop(self) -> None:
        """Stop the workers (running jobs go back to the queue), then close the store and the channels."""
        self._stopping = True
        self._wake.set()
        for task in self._workers + self._background:
            task.cancel()
        await asyncio.gather(*self._workers, *self._background, return_exceptions=True)
        self._workers.clear()
        self._background.clear()
        await self.store.close()
        await self.downstream.close()

    # -- links ----------------------------------------------------------------------------------------------

    def link_for(self, uri: str) -> tuple[str, datetime] | None:
        """A download URL for a stored object and when it expires: presigned by the store when it can, else a
        link to this gateway signed with ``link_secret``."""
        expires_s = self.settings.link_expiry_s
        expire = datetime.now(UTC) + timedelta(seconds=expires_s)
        try:
            url = self.storage.presign(uri, expires_s)
            if url:
                return url, expire
            key = self.storage.key_of(uri)
        except TingError:
            return None
        query = link_query(key, expires_s, self.settings.link_secret.encode())
        base = self.settings.public_url or f"http://127.0.0.1:{self.settings.http_port}"
        from urllib.parse import quote, urlencode

        return f"{base}/v1/files/{quote(key)}?{urlencode(query)}", datetime.fromtimestamp(int(query["expires"]), UTC)

    def attach_link(self, artifact: pb.Artifact) -> None:
        """Set ``url`` and ``url_expire_time`` of a stored artifact."""
        if not artifact.uri:
            return
        link = self.link_for(artifact.uri)
        if link is not None:
            artifact.url = link[0]
            artifact.url_expire_time.FromDatetime(link[1])

    # -- Process ---------------------------------------------------------------------------------------------

    async def _read_source(self, source: audio_pb2.AudioSource) -> Input:
        if source.WhichOneof("source") == "uri":  # the gateway's own storage, not a file root
            data = await asyncio.to_thread(self.storage.read, source.uri, max_bytes=self.settings.max_upload_bytes)
            return Input(data, source.format)
        # Inline audio (or none): the services' shared checks (oneof, encoding, size).
        audio = read_audio_source(source, storage_root=None, max_bytes=self.settings.max_upload_bytes)
        return Input(audio.data, source.format)

    async def process(
        self, config: pb.PipelineConfig, audio: audio_pb2.AudioSource, request_id: str
    ) -> pb.ProcessResponse:
        """Run a pipeline while the caller waits; outputs inline. The primary step's error is raised."""
        started = time.perf_counter()
        validate_config(config)
        if audio.WhichOneof("source") is None:
            raise InvalidArgumentError("no audio: set audio.content (bytes) or audio.uri")
        if audio.WhichOneof("source") == "uri":
            self.storage.key_of(audio.uri)  # PERMISSION_DENIED before any work when outside the storage
        tracker = StepTracker(plan_steps(config))
        result = pb.PipelineResult()

        async def fetch() -> Input:
            return await self._read_source(audio)

        outcome = await self.pipeline.run(
            config, fetch, tracker, result, InlineOutputs(), max_duration_s=self.settings.max_sync_audio_s
        )
        return pb.ProcessResponse(
            result=result,
            steps=tracker.steps,
            state=outcome.state,
            audio_duration_ms=outcome.audio_duration_ms,
            processing_ms=round((time.perf_counter() - started) * 1000),
            request_id=request_id,
        )

    # -- jobs -------------------------------------------------------------------------------------------------

    async def create_job(self, request: pb.CreateJobRequest) -> pb.Job:
        """Validate, store the input, persist the job QUEUED and wake a worker; idempotent by ``request_id``."""
        check_job_request(request)
        kind = request.audio.WhichOneof("source")
        if kind is None:
            raise InvalidArgumentError("no audio: set audio.content (bytes) or audio.uri")
        job_id = str(uuid.uuid4())
        prefix_key = f"jobs/{job_id}/"
        if request.output_uri_prefix:
            prefix_key = self.storage.key_of(request.output_uri_prefix.rstrip("/")) + "/"
        headerless = request.audio.format.encoding in HEADERLESS
        if kind == "uri":
            if headerless:
                raise InvalidArgumentError(
                    "a job reads a stored object as a file (wav, flac, ogg, mp3, m4a, ...); send headerless PCM inline"
                )
            await asyncio.to_thread(self.storage.stat, request.audio.uri)  # NOT_FOUND / PERMISSION_DENIED now
            input_uri = request.audio.uri
        else:
            if not request.audio.content:
                raise InvalidArgumentError("the audio is empty (0 bytes)")
            content = read_audio_source(request.audio, storage_root=None, max_bytes=self.settings.max_upload_bytes).data
            if headerless:  # the job keeps a self-describing file, so no hint has to be stored beside it
                content = await asyncio.to_thread(_to_wav, content, request.audio.format)
            stored = await asyncio.to_thread(
                self.storage.put,
                f"jobs/{job_id}/input",
                content,
                content_type="application/octet-stream",
                max_bytes=self.settings.max_upload_bytes,
            )
            input_uri = stored.uri
        return await self.enqueue(request, job_id, input_uri, prefix_key)

    async def enqueue(self, request: pb.CreateJobRequest, job_id: str, input_uri: str, prefix_key: str) -> pb.Job:
        """Persist a job whose input is already in storage (the REST upload path streams it there first)."""
        saved, created = await self.submit(self.new_job(request, job_id, input_uri, prefix_key))
        if not created and request.audio.WhichOneof("source") == "content":
            with contextlib.suppress(TingError):
                await asyncio.to_thread(self.storage.delete_prefix, f"jobs/{job_id}/")
        return saved

    async def submit(self, job: pb.Job) -> tuple[pb.Job, bool]:
        """Persist a QUEUED job and wake a worker; the stored job and whether it is new (see ``request_id``).
        Steps already SUCCEEDED with their result present are not run again (a live stream saved as a job
        arrives transcribed)."""
        saved, created = await self.store.create(job)
        if created:
            logger.info("job created", extra={"job_id": job.id})
            self._wake.set()
            await self._notify()
        return saved, created

    def new_job(self, request: pb.CreateJobRequest, job_id: str, input_uri: str, prefix_key: str) -> pb.Job:
        """A QUEUED job for ``request`` whose input is stored at ``input_uri``, outputs under ``prefix_key``."""
        now = now_ts()
        job = pb.Job(
            id=job_id,
            display_name=request.display_name,
            state=pb.JOB_STATE_QUEUED,
            progress=0.0,
            message="queued",
            steps=plan_steps(request.config),
            labels=dict(request.labels),
            request_id=request.request_id,
            input_uri=input_uri,
            output_uri_prefix=self.storage.uri(prefix_key.rstrip("/")) + "/",
            callback_url=request.callback_url,
            config=request.config,
        )
        job.create_time.CopyFrom(now)
        job.update_time.CopyFrom(now)
        return job

    async def get_job(self, job_id: str, view: int = pb.JOB_VIEW_FULL) -> pb.Job:
        """The job (NOT_FOUND when unknown) with fresh download links."""
        job = await self.store.get(job_id)
        if job is None:
            raise NotFoundError(f"no job '{job_id}'")
        for artifact in job.result.artifacts:
            self.attach_link(artifact)
        return job_view(job, view or pb.JOB_VIEW_FULL)

    async def list_jobs(self, request: pb.ListJobsRequest) -> pb.ListJobsResponse:
        """A page of jobs (BASIC unless FULL was asked for)."""
        if not 0 <= request.page_size <= 1000:
            raise InvalidArgumentError(f"page_size must be 0..1000, got {request.page_size}")
        page = await self.store.list(request.filter, request.order_by, request.page_size or 50, request.page_token)
        view = request.view or pb.JOB_VIEW_BASIC
        return pb.ListJobsResponse(
            jobs=[job_view(job, view) for job in page.jobs],
            next_page_token=page.next_page_token,
            total_size=page.total_size,
        )

    async def cancel_job(self, job_id: str) -> pb.Job:
        """Request cancellation (QUEUED → CANCELLED now; RUNNING → CANCELLING until its worker stops)."""
        job = await self.store.request_cancel(job_id)
        if job is None:
            raise NotFoundError(f"no job '{job_id}'")
        if job.state == pb.JOB_STATE_CANCELLED and job.finish_time.ToDatetime(UTC) >= datetime.now(UTC) - timedelta(
            seconds=5
        ):
            JOBS_FINISHED.labels("cancelled").inc()
        await self._notify()
        return job

    async def rename_speakers(self, job_id: str, names: dict[str, str]) -> pb.Job:
        """Merge speaker names into a finished job's config and render its outputs again with them."""
        for label, name in names.items():
            if not label or len(label) > 32:
                raise InvalidArgumentError(f"speaker label '{label}': 1..32 characters")
            if len(name) > 128:
                raise InvalidArgumentError(f"name of {label}: at most 128 characters")
        job = await self.store.get(job_id)
        if job is None:
            raise NotFoundError(f"no job '{job_id}'")
        if not _final(job.state):
            raise FailedPreconditionError(
                f"job '{job_id}' is {pb.JobState.Name(job.state).removeprefix('JOB_STATE_')}; rename its speakers "
                "once it has finished"
            )
        for label, name in names.items():
            if name:
                job.config.speaker_names[label] = name
            elif label in job.config.speaker_names:
                del job.config.speaker_names[label]
        if job.config.output.formats and job.result.HasField("transcript"):
            files = render(job.result, job.config.output, dict(job.config.speaker_names))
            outputs = StorageOutputs(self, self.storage.key_of(job.output_uri_prefix.rstrip("/")) + "/")
            del job.result.artifacts[:]
            for file in files:
                job.result.artifacts.append(await outputs.artifact(file))
        job.update_time.CopyFrom(now_ts())
        await self.store.save(job)
        await self._notify()
        return job

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def watch_job(self, job_id: str) -> AsyncIterator[pb.JobEvent]:
        """A snapshot, then an event per change (polled from the store, woken early by this replica's own
        changes), a heartbeat at least every 15 s, and the final event carrying the whole job."""
        job = await self.get_job(job_id)
        last_key: tuple[object, ...] | None = None
        last_sent = 0.0
        while True:
            if _final(job.state):
                for artifact in job.result.artifacts:
                    self.attach_link(artifact)
                yield job_event(job, final=True)
                return
            key = (
                job.state,
                job.stage,
                round(job.progress, 3),
                job.message,
                tuple((s.state, round(s.progress, 3)) for s in job.steps),
            )
            now = time.monotonic()
            if key != last_key or now - last_sent >= 15:
                changed_step = self._changed_step(job, last_key)
                yield job_event(job, step=changed_step)
                last_key, last_sent = key, now
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout=0.5)
            await asyncio.sleep(0.05)  # at most a few events per second
            fresh = await self.store.get(job_id)
            if fresh is None:
                raise NotFoundError(f"job '{job_id}' was deleted")
            job = fresh

    @staticmethod
    def _changed_step(job: pb.Job, last_key: tuple[object, ...] | None) -> pb.StepStatus | None:
        if last_key is None:
            return None
        before = last_key[4]
        assert isinstance(before, tuple)
        for index, step in enumerate(job.steps):
            if index >= len(before) or before[index] != (step.state, round(step.progress, 3)):
                return step
        return None

    # -- workers ----------------------------------------------------------------------------------------------

    async def _worker(self, index: int) -> None:
        worker_id = f"{self._host}-{index}-{uuid.uuid4().hex[:8]}"
        while not self._stopping:
            try:
                claim = await self.store.claim(worker_id, self.settings.lease_s)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("cannot claim jobs; retrying")
                await asyncio.sleep(self.settings.poll_interval_s * 4)
                continue
            if claim is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.settings.poll_interval_s)
                continue
            JOBS_RUNNING.inc()
            try:
                await self._run_claim(claim)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("worker failed on job %s", claim.job.id)
            finally:
                JOBS_RUNNING.dec()

    async def _run_claim(self, claim: Claim) -> None:
        job = claim.job
        worker_id = claim.worker_id
        logger.info("job claimed", extra={"job_id": job.id, "attempt": claim.attempt, "worker": worker_id})
        if job.state == pb.JOB_STATE_CANCELLING or await self.store.cancel_requested(job.id):
            await self._finish(job, worker_id, pb.JOB_STATE_CANCELLED, "cancelled")
            return
        if not job.steps:
            job.steps.extend(plan_steps(job.config))
        for step in job.steps:  # a resumed run: what was running starts again
            if step.state == pb.STEP_STATE_RUNNING:
                step.state = pb.STEP_STATE_PENDING
                step.progress = 0.0
        job.state = pb.JOB_STATE_RUNNING
        if not job.HasField("start_time"):
            job.start_time.CopyFrom(now_ts())
        job.message = "running" if claim.attempt == 1 else f"resumed (attempt {claim.attempt})"
        if not await self._save(job, worker_id):
            return
        started = time.perf_counter()
        stop_reason: list[str] = []
        run = asyncio.current_task()
        assert run is not None

        async def on_change(step: pb.StepStatus | None) -> None:
            job.stage = tracker.stage()
            job.progress = max(job.progress, round(tracker.overall(), 4))
            job.message = tracker.message
            if not await self._save(job, worker_id):
                raise _Stop("lost")

        tracker = StepTracker(job.steps, on_change)  # the tracker updates the job's own step messages

        async def fetch() -> Input:
            data = await asyncio.to_thread(self.storage.read, job.input_uri, max_bytes=self.settings.max_upload_bytes)
            return Input(data, audio_pb2.AudioFormat())

        async def on_duration(duration_ms: int) -> None:
            job.audio_duration_ms = duration_ms

        pipeline_task = asyncio.create_task(
            self.pipeline.run(
                job.config,
                fetch,
                tracker,
                job.result,
                StorageOutputs(self, self.storage.key_of(job.output_uri_prefix.rstrip("/")) + "/"),
                known_duration_ms=job.audio_duration_ms,
                on_duration=on_duration,
            )
        )
        keeper = asyncio.create_task(self._keep_claim(job.id, worker_id, pipeline_task, stop_reason))
        try:
            outcome = await pipeline_task
        except asyncio.CancelledError:
            reason = stop_reason[0] if stop_reason else ("shutdown" if self._stopping else "cancelled")
            if run.cancelling():
                reason = "shutdown"
            await asyncio.shield(self._stopped(job, worker_id, reason))
            if reason == "shutdown" and run.cancelling():
                raise
            return
        except _Stop:
            logger.warning("job %s: claim lost to another worker; stopping here", job.id)
            return
        except TingError as exc:
            job.error.CopyFrom(error_status(exc))
            await self._finish(job, worker_id, pb.JOB_STATE_FAILED, exc.message)
            return
        except Exception as exc:
            logger.exception("job %s failed unexpectedly", job.id)
            job.error.CopyFrom(error_status(InternalError("internal error; the gateway log has the details")))
            await self._finish(job, worker_id, pb.JOB_STATE_FAILED, f"internal error ({type(exc).__name__})")
            return
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            JOB_SECONDS.observe(time.perf_counter() - started)
        job.audio_duration_ms = outcome.audio_duration_ms
        message = "done" if outcome.state == pb.JOB_STATE_SUCCEEDED else "done, some steps failed"
        await self._finish(job, worker_id, outcome.state, message)

    async def _keep_claim(self, job_id: str, worker_id: str, task: asyncio.Task[object], reason: list[str]) -> None:
        """Renew the lease; stop the run when cancellation is requested or the claim is lost."""
        interval = self.settings.lease_s / 3
        renewed = time.monotonic()
        while not task.done():
            await asyncio.sleep(min(interval, 0.5))
            try:
                if await self.store.cancel_requested(job_id):
                    reason.append("cancelled")
                    task.cancel()
                    return
                if time.monotonic() - renewed >= interval:
                    if not await self.store.renew(job_id, worker_id, self.settings.lease_s):
                        reason.append("lost")
                        task.cancel()
                        return
                    renewed = time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("cannot renew the claim on job %s", job_id)

    async def _stopped(self, job: pb.Job, worker_id: str, reason: str) -> None:
        if reason == "lost":
            logger.warning("job %s: claim lost; another worker has it", job.id)
            return
        if reason == "shutdown":
            # Back to the queue at once, keeping what finished, so a restarted replica resumes without waiting
            # for the lease to expire.
            for step in job.steps:
                if step.state in (pb.STEP_STATE_RUNNING, pb.STEP_STATE_CANCELLED):
                    step.state = pb.STEP_STATE_PENDING
                    step.progress = 0.0
                    step.ClearField("finish_time")
            job.state = pb.JOB_STATE_QUEUED
            job.message = "requeued (gateway stopping)"
            job.update_time.CopyFrom(now_ts())
            await self.store.save(job, worker_id=worker_id)
            await self.store.renew(job.id, worker_id, 0.0)
            return
        await self._finish(job, worker_id, pb.JOB_STATE_CANCELLED, "cancelled")

    async def _save(self, job: pb.Job, worker_id: str) -> bool:
        job.update_time.CopyFrom(now_ts())
        saved = await self.store.save(job, worker_id=worker_id)
        await self._notify()
        return saved

    async def _finish(self, job: pb.Job, worker_id: str, state: int, message: str) -> None:
        job.state = state  # type: ignore[assignment]
        job.message = message
        if state in (pb.JOB_STATE_SUCCEEDED, pb.JOB_STATE_PARTIALLY_SUCCEEDED):
            job.progress = 1.0
        for step in job.steps:
            if step.state not in FINAL_STEP_STATES:
                step.state = pb.STEP_STATE_CANCELLED if state == pb.JOB_STATE_CANCELLED else pb.STEP_STATE_SKIPPED
                step.finish_time.CopyFrom(now_ts())
        job.finish_time.CopyFrom(now_ts())
        if self.settings.retention_days > 0:
            job.expire_time.FromDatetime(datetime.now(UTC) + timedelta(days=self.settings.retention_days))
        if not await self._save(job, worker_id):
            logger.warning("job %s: finished here, but the claim was lost; the other worker's result stands", job.id)
            return
        JOBS_FINISHED.labels(pb.JobState.Name(state).removeprefix("JOB_STATE_").lower()).inc()
        logger.info("job finished", extra={"job_id": job.id, "state": pb.JobState.Name(state)})
        if job.callback_url:
            self._background.append(asyncio.create_task(self._callback(job)))

    async def _callback(self, job: pb.Job) -> None:
        body = json_format.MessageToJson(job_event(job, final=True)).encode()

        def post() -> None:
            req = urllib.request.Request(  # noqa: S310 - http(s) checked at creation
                job.callback_url, data=body, headers={"Content-Type": "application/json"}, method="POST"
            )
            with urllib.request.urlopen(req, timeout=10) as response:  # noqa: S310
                response.read()

        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(5), wait=wait_exponential_jitter(initial=1, max=30), reraise=True
            ):
                with attempt:
                    await asyncio.to_thread(post)
        except Exception as exc:
            logger.warning("callback for job %s to %s failed: %s", job.id, job.callback_url, exc)

    async def _housekeeping(self) -> None:
        """Export the queue depth; delete expired jobs and their files."""
        last_cleanup = 0.0
        while True:
            try:
                QUEUE_DEPTH.set(await self.store.queue_depth())
                if time.monotonic() - last_cleanup > 600:
                    last_cleanup = time.monotonic()
                    for job_id in await self.store.delete_expired(time.time()):
                        await asyncio.to_thread(self.storage.delete_prefix, f"jobs/{job_id}/")
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("housekeeping failed")
            await asyncio.sleep(2.0)


def json_of(message: object) -> dict[str, object]:
    """proto3 JSON of a message (for REST)."""
    return json.loads(json_format.MessageToJson(message))  # type: ignore[arg-type,no-any-return]
