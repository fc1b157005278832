"""Jobs survive what production throws at them: a downstream service SIGKILLed mid-job and restarted, and a
gateway replica SIGKILLed mid-job while another replica shares its PostgreSQL job store."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.conftest import SAMPLES
from tests.integration.gateway_stack import (
    FINAL_STATES,
    Services,
    downstream_services,
    gateway_settings,
    running_gateway,
    wait_final,
)
from ting.audio.v1 import audio_pb2
from ting.gateway.v1 import pipeline_service_pb2 as pb
from ting.gateway.v1 import pipeline_service_pb2_grpc as pb_grpc
from ting.summarization.v1 import summarization_service_pb2 as sum_pb
from ting_common.probe import free_port, wait_until_serving

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MEETING = (SAMPLES / "meeting_intro.wav").read_bytes()
POSTGRES_URL = os.environ.get("TING_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def start_asr(port: int) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        TING_ASR_HOST="127.0.0.1",
        TING_ASR_PORT=str(port),
        TING_ASR_SHUTDOWN_DELAY_S="0",
        TING_ASR_LOG_LEVEL="WARNING",
    )
    proc = subprocess.Popen([sys.executable, "-m", "ting_asr"], env=env, start_new_session=True)
    wait_until_serving(f"127.0.0.1:{port}", service="ting.asr.v1.AsrService", timeout_s=120, process=proc)
    return proc


def kill(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


async def wait_for(stub: pb_grpc.PipelineServiceStub, job_id: str, *, stage: int, timeout: float = 120) -> pb.Job:
    """Wait until the job's ``stage`` step is running."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        job = (await stub.GetJob(pb.GetJobRequest(job_id=job_id))).job
        if any(s.stage == stage and s.state == pb.STEP_STATE_RUNNING for s in job.steps):
            return job
        assert job.state not in FINAL_STATES, f"job ended {pb.JobState.Name(job.state)} before the stage ran"
        await asyncio.sleep(0.05)
    raise AssertionError("the stage never started")


def meeting_job() -> pb.CreateJobRequest:
    config = pb.PipelineConfig(
        summary=sum_pb.SummaryConfig(),
        output=pb.OutputOptions(formats=[pb.TRANSCRIPT_FORMAT_SRT]),
    )
    return pb.CreateJobRequest(config=config, audio=audio_pb2.AudioSource(content=MEETING))


class AsrProcess:
    """The module's ASR service process; a test may replace it (same port)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.proc = start_asr(port)


@pytest.fixture(scope="module")
def asr() -> Iterator[AsrProcess]:
    running = AsrProcess(free_port())
    yield running
    kill(running.proc)


@pytest.fixture(scope="module")
def asr_port(asr: AsrProcess) -> int:
    return asr.port


@pytest.fixture(scope="module")
async def services(asr_port: int) -> AsyncIterator[Services]:
    async with downstream_services(f"127.0.0.1:{asr_port}") as running:
        yield running


async def test_asr_killed_mid_job_and_restarted_the_job_completes_once(
    services: Services, asr: AsrProcess, tmp_path: Path
) -> None:
    settings = gateway_settings(services, tmp_path, workers=1, retry_attempts=10, retry_initial_s=0.5, retry_max_s=2.0)
    async with running_gateway(settings) as app, grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        stub = pb_grpc.PipelineServiceStub(channel)
        job_id = (await stub.CreateJob(meeting_job())).job.id
        await wait_for(stub, job_id, stage=pb.PIPELINE_STAGE_TRANSCRIBING)
        # SIGKILL every ASR process on that port (the module's one), then bring a new one up on the same port.
        victims = await asyncio.to_thread(_listeners, asr.port)
        assert victims == [asr.proc.pid]
        kill(asr.proc)
        await asyncio.sleep(0.5)
        asr.proc = await asyncio.to_thread(start_asr, asr.port)
        job = await wait_final(stub, job_id)
        assert job.state == pb.JOB_STATE_SUCCEEDED, job.error.message
        assert "meeting" in job.result.transcript.text.lower()
        transcribing = next(s for s in job.steps if s.stage == pb.PIPELINE_STAGE_TRANSCRIBING)
        assert transcribing.state == pb.STEP_STATE_SUCCEEDED
        listed = await stub.ListJobs(pb.ListJobsRequest())
        assert listed.total_size == 1 and [a.filename for a in job.result.artifacts] == ["transcript.srt"]


def _listeners(port: int) -> list[int]:
    """Pids of the ASR processes listening on ``port``."""
    import psutil

    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if "ting_asr" not in " ".join(proc.info["cmdline"] or ()):
                continue
            if any(c.laddr and c.laddr.port == port and c.status == "LISTEN" for c in proc.net_connections("tcp")):
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found


# -- PostgreSQL: two replicas, one of them SIGKILLed mid-job ----------------------------------------------------


@pytest.fixture
def postgres_url(ci: bool) -> str:
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            pass
    except Exception as exc:
        if ci:
            pytest.fail(f"PostgreSQL at {POSTGRES_URL} is unreachable in CI: {exc}")
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is unreachable (set TING_TEST_POSTGRES_URL): {exc}")
    return POSTGRES_URL


async def test_a_killed_replica_loses_its_claim_and_another_replica_finishes_the_job(
    services: Services, postgres_url: str, tmp_path: Path
) -> None:
    table = f"ting_jobs_t{uuid.uuid4().hex[:10]}"
    jobs_url = postgres_url
    storage = tmp_path / "shared-storage"
    # Replica A: a real gateway process that owns the only worker at first.
    port_a, http_a = free_port(), free_port()
    env = dict(
        os.environ,
        TING_GATEWAY_HOST="127.0.0.1",
        TING_GATEWAY_PORT=str(port_a),
        TING_GATEWAY_HTTP_HOST="127.0.0.1",
        TING_GATEWAY_HTTP_PORT=str(http_a),
        TING_GATEWAY_ASR_ADDRESS=services.asr,
        TING_GATEWAY_TRANSLATE_ADDRESS=services.translate,
        TING_GATEWAY_SUMMARIZE_ADDRESS=services.summarize,
        TING_GATEWAY_SEPARATE_ADDRESS=services.separate,
        TING_GATEWAY_STORAGE_URL=str(storage),
        TING_GATEWAY_JOBS_URL=jobs_url,
        TING_GATEWAY_JOBS_TABLE=table,
        TING_GATEWAY_WORKERS="1",
        TING_GATEWAY_LEASE_S="2",
        TING_GATEWAY_POLL_INTERVAL_S="0.1",
        TING_GATEWAY_LINK_SECRET="replica-shared-secret-0123456789",
        TING_GATEWAY_LOG_LEVEL="WARNING",
    )
    replica_a = await asyncio.to_thread(
        subprocess.Popen, [sys.executable, "-m", "ting_gateway"], env=env, start_new_session=True
    )
    try:
        await asyncio.to_thread(
            wait_until_serving, f"127.0.0.1:{port_a}", service="ting.gateway.v1.PipelineService", process=replica_a
        )
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port_a}") as channel:
            stub_a = pb_grpc.PipelineServiceStub(channel)
            job_id = (await stub_a.CreateJob(meeting_job())).job.id
            await wait_for(stub_a, job_id, stage=pb.PIPELINE_STAGE_TRANSCRIBING)
        kill(replica_a)  # the crash: no requeue, the claim just stops being renewed
        # Replica B: same database and storage, started after the crash.
        settings_b = gateway_settings(
            services,
            tmp_path / "b",
            workers=1,
            lease_s=2.0,
            storage_url=str(storage),
            jobs_url=jobs_url,
            jobs_table=table,
            link_secret="replica-shared-secret-0123456789",
        )
        async with running_gateway(settings_b) as app_b, grpc.aio.insecure_channel(f"127.0.0.1:{app_b.port}") as ch:
            stub_b = pb_grpc.PipelineServiceStub(ch)
            job = await wait_final(stub_b, job_id)
            assert job.state == pb.JOB_STATE_SUCCEEDED, job.error.message
            assert "meeting" in job.result.transcript.text.lower()
            listed = await stub_b.ListJobs(pb.ListJobsRequest())
            assert listed.total_size == 1
    finally:
        kill(replica_a)
        import psycopg

        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}")
