"""``ting.gateway.v1.PipelineService``: protocol only - auth, proto in and out; the work is in :mod:`.service`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from ting.gateway.v1 import pipeline_service_pb2 as pb
from ting.gateway.v1 import pipeline_service_pb2_grpc as pb_grpc
from ting_common.errors import InvalidArgumentError
from ting_common.log import request_id_var
from ting_gateway.auth import Auth
from ting_gateway.service import Gateway


def _authorization(context: grpc.aio.ServicerContext) -> str | None:  # type: ignore[type-arg]
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            return value if isinstance(value, str) else value.decode()
    return None


class PipelineServicer(pb_grpc.PipelineServiceServicer):
    """Implements the PipelineService RPCs over a :class:`Gateway`."""

    def __init__(self, gateway: Gateway, auth: Auth) -> None:
        self.gateway = gateway
        self.auth = auth

    def _caller(self, context: grpc.aio.ServicerContext) -> str:  # type: ignore[type-arg]
        return self.auth.caller(_authorization(context))

    async def Process(
        self,
        request: pb.ProcessRequest,
        context: grpc.aio.ServicerContext,  # type: ignore[type-arg]
    ) -> pb.ProcessResponse:
        caller = self._caller(context)
        with self.auth.slot(caller):
            return await self.gateway.process(request.config, request.audio, request_id_var.get())

    async def CreateJob(
        self,
        request: pb.CreateJobRequest,
        context: grpc.aio.ServicerContext,  # type: ignore[type-arg]
    ) -> pb.CreateJobResponse:
        self._caller(context)
        return pb.CreateJobResponse(job=await self.gateway.create_job(request))

    async def GetJob(
        self,
        request: pb.GetJobRequest,
        context: grpc.aio.ServicerContext,  # type: ignore[type-arg]
    ) -> pb.GetJobResponse:
        self._caller(context)
        if not request.job_id:
            raise InvalidArgumentError("job_id is required")
        return pb.GetJobResponse(job=await self.gateway.get_job(request.job_id, request.view))

    async def ListJobs(
        self,
        request: pb.ListJobsRequest,
        context: grpc.aio.ServicerContext,  # type: ignore[type-arg]
    ) -> pb.ListJobsResponse:
        self._caller(context)
        return await self.gateway.list_jobs(request)

    async def CancelJob(
        self,
        request: pb.CancelJobRequest,
        context: grpc.aio.ServicerContext,  # type: ignore[type-arg]
    ) -> pb.CancelJobResponse:
        self._caller(context)
        if not request.job_id:
            raise InvalidArgumentError("job_id is required")
        return pb.CancelJobResponse(job=await self.gateway.cancel_job(request.job_id))

    async def WatchJob(
        self,
        request: pb.WatchJobRequest,
        context: grpc.aio.ServicerContext,  # type: ignore[type-arg]
    ) -> AsyncIterator[pb.WatchJobResponse]:
        self._caller(context)
        if not request.job_id:
            raise InvalidArgumentError("job_id is required")
        async for event in self.gateway.watch_job(request.job_id):
            yield pb.WatchJobResponse(event=event)

    async def RenameSpeakers(
        self,
        request: pb.RenameSpeakersRequest,
        context: grpc.aio.ServicerContext,  # type: ignore[type-arg]
    ) -> pb.RenameSpeakersResponse:
        self._caller(context)
        if not request.job_id:
            raise InvalidArgumentError("job_id is required")
        job = await self.gateway.rename_speakers(request.job_id, dict(request.speaker_names))
        return pb.RenameSpeakersResponse(job=job)
