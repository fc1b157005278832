"""``ting.separation.v1.SeparationService``: validation, proto <-> domain, scheduling, errors.

Inputs are opened (format, rate, declared duration) on a small pool; decoding, separation, resampling,
loudness and encoding then run together, chunk by chunk, on a bounded pool (``concurrency`` workers, at
most ``max_queue`` waiting), both off the event loop, so memory does not grow with the input's duration.
Stems are encoded as they come into buffers (inline) or staging files (storage) and published when all
are complete. A cancelled call (or one past its deadline) sets its stop flag; engines check it between
chunks, so a worker is freed within one chunk and the staged stems are dropped.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, BinaryIO, Final, TypeVar

import grpc

from ting.audio.v1 import audio_pb2
from ting.separation.v1 import separation_service_pb2 as pb
from ting.separation.v1 import separation_service_pb2_grpc as pb_grpc
from ting_common.audio import AudioLimits, open_audio
from ting_common.errors import (
    CancelledError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    OutOfRangeError,
    ResourceExhaustedError,
)
from ting_common.log import request_id_var
from ting_common.workers import BoundedPool
from ting_separate.config import SeparateSettings
from ting_separate.engines import (
    OPTIONAL_ENGINES,
    CallControl,
    EngineInfo,
    SeparationEngine,
    SeparationOptions,
    StemName,
    StopRequested,
    supported_text,
)
from ting_separate.output import BITS, Format, StemWriter, check_bits
from ting_separate.storage import Destination, S3Output, Staged, check_prefix, open_input

logger = logging.getLogger(__name__)

T = TypeVar("T")

STEM_TO_PROTO: Final[dict[StemName, pb.Stem]] = {
    "vocals": pb.STEM_VOCALS,
    "accompaniment": pb.STEM_ACCOMPANIMENT,
    "drums": pb.STEM_DRUMS,
    "bass": pb.STEM_BASS,
    "other": pb.STEM_OTHER,
    "piano": pb.STEM_PIANO,
    "guitar": pb.STEM_GUITAR,
}
PROTO_TO_STEM: Final[dict[int, StemName]] = {v: k for k, v in STEM_TO_PROTO.items()}
_FORMATS: Final[dict[int, Format]] = {
    pb.OUTPUT_AUDIO_FORMAT_UNSPECIFIED: "wav",
    pb.OUTPUT_AUDIO_FORMAT_WAV: "wav",
    pb.OUTPUT_AUDIO_FORMAT_FLAC: "flac",
}
_MIN_SEGMENT_MS: Final = 1000
_MAX_SEGMENT_MS: Final = 600_000
# Shares of the overall progress: decoding, separating, encoding.
_DECODED: Final = 0.05
_SEPARATED: Final = 0.95

ProgressSink = Callable[[pb.SeparationProgress], None]


@dataclass(frozen=True)
class _Request:
    """A validated request: the engine, its options and the output settings."""

    engine: SeparationEngine
    info: EngineInfo
    options: SeparationOptions
    fmt: Format
    bits: int
    sample_rate: int  # 0 keeps the input's rate
    destination: Destination | None = None  # None: stems inline


@dataclass
class _Input:
    """An opened input, decoded lazily (piece by piece) by the worker that separates it.

    ``source`` is ``ting_common.audio``'s internal source object (``pieces()``, ``info``, ``close()``): the
    public decoders either hold the whole stereo signal or downmix to mono, and a long input must stream.
    """

    source: Any
    sample_rate: int
    expected_samples: int  # 0 when the container declares no duration


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


class SeparationServicer(pb_grpc.SeparationServiceServicer):
    """Implements the SeparationService RPCs over one or more :class:`SeparationEngine`."""

    def __init__(self, settings: SeparateSettings, engines: Sequence[SeparationEngine]) -> None:
        if not engines:
            raise ValueError("at least one separation engine is needed")
        self.settings = settings
        self.engines = {engine.name: engine for engine in engines}
        default = settings.default_for(list(self.engines))
        self.default = default if default in self.engines else engines[0].name
        self.limits = AudioLimits(
            max_bytes=int(settings.max_audio_mb * 1024 * 1024), max_duration_s=settings.max_audio_duration_s
        )
        self._inference = BoundedPool(
            settings.concurrency, settings.max_queue, name="separate-infer", title="separation"
        )
        self._decode = ThreadPoolExecutor(2, thread_name_prefix="separate-decode")
        self._s3: S3Output | None = None
        if settings.s3_bucket_names:
            self._s3 = S3Output.create(
                settings.s3_bucket_names,
                endpoint_url=settings.s3_endpoint_url,
                region=settings.s3_region,
                addressing_style=settings.s3_addressing_style,
                spool_dir=settings.spool_dir,
            )

    def close(self) -> None:
        """Stop the worker pools (after the server stopped)."""
        self._inference.shutdown()
        self._decode.shutdown(wait=False, cancel_futures=True)

    # -- validation --------------------------------------------------------------------------
    def _validate(self, config: pb.SeparationConfig) -> _Request:
        """Check the options (cheap, before the audio is decoded)."""
        name = config.engine or self.default
        engine = self.engines.get(name)
        if engine is None and name in OPTIONAL_ENGINES:
            raise FailedPreconditionError(
                f"the '{name}' engine is not configured on this server: {OPTIONAL_ENGINES[name]}; "
                f"this server has {supported_text(list(self.engines))}"
            )
        if engine is None:
            raise NotFoundError(f"unknown engine '{name}'; this server has {supported_text(list(self.engines))}")
        info = engine.info()
        stems: list[StemName] = []
        for value in config.stems:
            stem = PROTO_TO_STEM.get(value)
            if stem is None:
                raise InvalidArgumentError(
                    f"unknown stem {value}; use one of {supported_text(info.supported_stems)} (engine '{name}')"
                )
            if stem in stems:
                raise InvalidArgumentError(f"stem '{stem}' is requested twice; ask for each stem once")
            stems.append(stem)
        unsupported = [s for s in stems if s not in info.supported_stems]
        if unsupported:
            raise FailedPreconditionError(
                f"the '{name}' engine cannot produce {supported_text(unsupported)}; "
                f"it supports {supported_text(info.supported_stems)} (see ListEngines)"
            )
        output = config.output
        fmt = _FORMATS.get(output.format)
        if fmt is None:
            raise InvalidArgumentError(f"unknown output format {output.format}; use WAV or FLAC")
        if output.sample_rate_hertz and not 8000 <= output.sample_rate_hertz <= 192_000:
            raise OutOfRangeError(
                f"output.sample_rate_hertz must be 8000..192000 (or 0 to keep the input's), "
                f"got {output.sample_rate_hertz}"
            )
        bits = output.bits_per_sample or 16
        if bits not in BITS:
            raise OutOfRangeError(f"output.bits_per_sample must be 16, 24 or 32 (or 0 for 16), got {bits}")
        check_bits(fmt, bits)
        destination = (
            check_prefix(output.uri_prefix, self.settings.storage_root, self._s3) if output.uri_prefix else None
        )
        if config.segment_ms and not _MIN_SEGMENT_MS <= config.segment_ms <= _MAX_SEGMENT_MS:
            raise OutOfRangeError(
                f"segment_ms must be {_MIN_SEGMENT_MS}..{_MAX_SEGMENT_MS} (or 0 for the engine's default), "
                f"got {config.segment_ms}"
            )
        overlap: float | None = None
        if config.HasField("overlap_ratio"):
            overlap = config.overlap_ratio
            if not 0.0 <= overlap < 0.9:
                raise OutOfRangeError(f"overlap_ratio must be in [0, 0.9), got {overlap}")
        if not 0 <= config.shift_count <= 10:
            raise OutOfRangeError(f"shift_count must be 0..10, got {config.shift_count}")
        options = SeparationOptions(
            stems=tuple(stems) or info.default_stems, segment_ms=config.segment_ms, overlap_ratio=overlap
        )
        return _Request(engine, info, options, fmt, bits, output.sample_rate_hertz, destination)

    async def _open_input(self, source: audio_pb2.AudioSource) -> _Input:
        """Open (not decode) the input: format, rate and declared duration are checked here, the samples are
        decoded chunk by chunk while separating. A ``file://`` input is read from disk as it is decoded."""
        fmt = source.format

        def open_() -> _Input:
            data, encoding = open_input(
                source, storage_root=self.settings.storage_root, max_bytes=self.limits.max_bytes
            )
            opened = open_audio(
                data,
                encoding=encoding,
                sample_rate_hint=fmt.sample_rate_hertz,
                channels_hint=fmt.channel_count,
                limits=self.limits,
                max_channels=2,
            )
            rate = int(opened.info.sample_rate)
            return _Input(opened, rate, round(opened.expected_seconds() * rate))

        return await asyncio.get_running_loop().run_in_executor(self._decode, open_)

    def _inline_limit(self) -> int:
        return int(self.settings.max_inline_output_mb * 1024 * 1024)

    def _too_big_inline(self, estimate: float) -> ResourceExhaustedError:
        where = []
        if self.settings.storage_root is not None:
            where.append("file:///<dir>/<prefix> under the server's storage root")
        if self._s3 is not None:
            where.append(f"s3://<bucket>/<prefix>/ in {', '.join(sorted(self._s3.buckets))}")
        how = (
            f"set output.uri_prefix to {' or '.join(where)} to have the stems written to storage (the response "
            "then carries their URIs)"
            if where
            else "an output.uri_prefix would have the stems written to storage, but this server has none "
            "configured (TING_SEPARATE_STORAGE_ROOT or TING_SEPARATE_S3_BUCKETS)"
        )
        return ResourceExhaustedError(
            f"the stems would be about {estimate / 2**20:.1f} MiB inline, over the "
            f"{self.settings.max_inline_output_mb:g} MiB limit; for long audio {how}; or send shorter audio "
            "or ask for fewer stems"
        )

    def _check_inline_size(self, request: _Request, opened: _Input) -> None:
        """Refuse (before separating) inline output that would not fit the inline limit."""
        if request.destination is not None or not opened.expected_samples:
            return  # no declared duration: the writers check the size as they go
        rate = request.sample_rate or opened.sample_rate
        frames = opened.expected_samples * rate / opened.sample_rate
        channels = min(int(opened.source.info.channels or 2), 2)
        estimate = len(request.options.stems) * (frames * channels * request.bits // 8 + 44)
        if estimate > self._inline_limit():
            raise self._too_big_inline(estimate)

    # -- work --------------------------------------------------------------------------------
    async def _run(self, fn: Callable[[], T], control: CallControl) -> T:
        """Run ``fn`` on the bounded pool; a stop requested by the caller surfaces as CANCELLED."""
        try:
            return await self._inference.run(fn, control)
        except StopRequested as exc:
            raise CancelledError("the separation was cancelled") from exc

    def _separate_and_encode(
        self, request: _Request, opened: _Input, control: CallControl, report: ProgressSink | None
    ) -> tuple[list[pb.SeparatedStem], float]:
        """Blocking: decode, separate, resample, measure and encode every stem, chunk by chunk, into staging
        files (or buffers, inline); publish them when all are complete. Returns the stems and the duration."""
        rate = opened.sample_rate
        out_rate = request.sample_rate or rate
        names = request.options.stems
        staged: dict[str, Staged] = {}
        writers: dict[str, StemWriter] = {}
        frames = 0
        limit = self._inline_limit()
        blocks = request.engine.separate_stream(
            opened.source.pieces(), rate, request.options, control, opened.expected_samples
        )
        finished = False
        try:
            for block in blocks:
                for name in names:
                    samples = block[name]
                    if name not in writers:
                        file: BinaryIO
                        if request.destination is None:
                            file = io.BytesIO()
                        else:
                            staged[name] = request.destination.stage(f"{name}.{request.fmt}")
                            file = staged[name].file
                        writers[name] = StemWriter(file, request.fmt, request.bits, rate, out_rate, samples.shape[0])
                    writers[name].write(samples)
                frames += block[names[0]].shape[1]
                if request.destination is None and (size := sum(w.size_bytes for w in writers.values())) > limit:
                    raise self._too_big_inline(size * (opened.expected_samples or 2 * frames) / max(frames, 1))
            if frames == 0:
                raise InvalidArgumentError("the audio contains no audio samples; the file may be empty or cut off")
            duration_s = frames / rate
            duration_ms = _ms(duration_s)

            def stage(which: pb.SeparationStage) -> None:
                if report is not None:
                    progress = pb.SeparationProgress(
                        stage=which, progress=_SEPARATED, processed_ms=duration_ms, duration_ms=duration_ms
                    )
                    report(progress)

            stage(pb.SEPARATION_STAGE_ENCODING)
            measured = {name: writers[name].finish() for name in names}
            if request.destination is not None:
                stage(pb.SEPARATION_STAGE_UPLOADING)
            fmt_proto = pb.OUTPUT_AUDIO_FORMAT_FLAC if request.fmt == "flac" else pb.OUTPUT_AUDIO_FORMAT_WAV
            result = []
            for name in names:  # separation is done: publish every stem, even if the caller goes now
                writer = writers[name]
                size = writer.size_bytes
                where: dict[str, Any]
                if request.destination is None:
                    assert isinstance(writer.file, io.BytesIO)
                    where = {"content": writer.file.getvalue()}
                else:
                    where = {"uri": staged.pop(name).commit()}
                integrated, rms, peak = measured[name]
                result.append(
                    pb.SeparatedStem(
                        stem=STEM_TO_PROTO[name],
                        format=fmt_proto,
                        sample_rate_hertz=out_rate,
                        channel_count=writer.channels,
                        bits_per_sample=request.bits,
                        duration_ms=duration_ms,
                        size_bytes=size,
                        loudness=pb.Loudness(integrated_lufs=integrated, rms_dbfs=rms, peak_dbfs=peak),
                        **where,
                    )
                )
            finished = True
            return result, duration_s
        finally:
            if not finished:  # an error or a stop: nothing half-written stays behind
                for writer in writers.values():
                    writer.abort()
                for leftover in staged.values():
                    leftover.discard()
                close = getattr(blocks, "close", None)  # the engine's generator, and the decoder's with it
                if close is not None:
                    close()
            opened.source.close()

    def _metadata(self, request: _Request, duration_s: float, started: float) -> pb.SeparationMetadata:
        return pb.SeparationMetadata(
            engine=request.info.name,
            model=request.info.model,
            duration_ms=_ms(duration_s),
            processing_ms=_ms(time.perf_counter() - started),
            device=request.info.device,
            request_id=request_id_var.get(),
        )

    async def _prepare(self, request: _Request, source: audio_pb2.AudioSource) -> _Input:
        """Open the input and refuse inline output that would not fit."""
        opened = await self._open_input(source)
        try:
            self._check_inline_size(request, opened)
        except BaseException:
            opened.source.close()
            raise
        return opened

    # -- RPCs --------------------------------------------------------------------------------
    async def Separate(
        self, request: pb.SeparateRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.SeparateResponse:
        started = time.perf_counter()
        validated = self._validate(request.config)
        opened = await self._prepare(validated, request.audio)
        control = CallControl()
        stems, duration_s = await self._run(
            lambda: self._separate_and_encode(validated, opened, control, None), control
        )
        return pb.SeparateResponse(stems=stems, metadata=self._metadata(validated, duration_s, started))

    async def SeparateStream(
        self, request: pb.SeparateStreamRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.SeparateStreamResponse]:
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        updates: asyncio.Queue[pb.SeparationProgress] = asyncio.Queue()
        validated = self._validate(request.config)
        yield pb.SeparateStreamResponse(
            progress=pb.SeparationProgress(stage=pb.SEPARATION_STAGE_DECODING, progress=0.0)
        )
        opened = await self._prepare(validated, request.audio)
        expected_ms = _ms(opened.expected_samples / opened.sample_rate) if opened.sample_rate else 0
        yield pb.SeparateStreamResponse(
            progress=pb.SeparationProgress(
                stage=pb.SEPARATION_STAGE_SEPARATING, progress=_DECODED, processed_ms=0, duration_ms=expected_ms
            )
        )

        def report(progress: pb.SeparationProgress) -> None:
            loop.call_soon_threadsafe(updates.put_nowait, progress)

        def on_progress(done: int, total: int) -> None:
            fraction = min(1.0, done / total) if total else 1.0
            report(
                pb.SeparationProgress(
                    stage=pb.SEPARATION_STAGE_SEPARATING,
                    progress=_DECODED + (_SEPARATED - _DECODED) * fraction,
                    processed_ms=_ms(done / opened.sample_rate),
                    duration_ms=_ms(total / opened.sample_rate),
                )
            )

        control = CallControl(on_progress=on_progress)
        task = asyncio.ensure_future(
            self._run(lambda: self._separate_and_encode(validated, opened, control, report), control)
        )
        try:
            while not task.done() or not updates.empty():
                getter = asyncio.ensure_future(updates.get())
                await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    getter.cancel()
                    continue
                yield pb.SeparateStreamResponse(progress=getter.result())
            stems, duration_s = task.result()
        finally:
            if not task.done():
                control.stop.set()
                task.cancel()
        yield pb.SeparateStreamResponse(
            result=pb.SeparationResult(stems=stems, metadata=self._metadata(validated, duration_s, started))
        )

    async def ListEngines(
        self, request: pb.ListEnginesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ListEnginesResponse:
        names = [self.default, *(n for n in self.engines if n != self.default)]
        return pb.ListEnginesResponse(engines=[self._engine_info(self.engines[n].info()) for n in names])

    def _engine_info(self, info: EngineInfo) -> pb.EngineInfo:
        return pb.EngineInfo(
            name=info.name,
            description=info.description,
            model=info.model,
            supported_stems=[STEM_TO_PROTO[s] for s in info.supported_stems],
            default_stems=[STEM_TO_PROTO[s] for s in info.default_stems],
            loaded=info.loaded,
            default=info.name == self.default,
            device=info.device,
            sample_rate_hertz=info.sample_rate,
            channel_count=info.channels,
            default_segment_ms=info.default_segment_ms,
        )
