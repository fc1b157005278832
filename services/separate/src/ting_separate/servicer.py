"""``ting.separation.v1.SeparationService``: validation, proto <-> domain, scheduling, errors.

Decoding runs on a small pool, separation + encoding on a bounded pool (``concurrency`` workers, at most
``max_queue`` waiting), both off the event loop. A cancelled call (or one past its deadline) sets its
stop flag; engines check it between chunks, so a worker is freed within one chunk.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import grpc
import numpy as np
from scipy import signal

from ting.audio.v1 import audio_pb2
from ting.separation.v1 import separation_service_pb2 as pb
from ting.separation.v1 import separation_service_pb2_grpc as pb_grpc
from ting_common.audio import (
    AudioLimits,
    MultichannelAudio,
    decode_audio_multichannel,
    encode_flac,
    encode_wav,
)
from ting_common.errors import (
    CancelledError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    OutOfRangeError,
    ResourceExhaustedError,
    UnimplementedError,
)
from ting_common.log import request_id_var
from ting_common.loudness import loudness
from ting_common.sources import read_audio_source
from ting_common.workers import BoundedPool
from ting_separate.config import SeparateSettings
from ting_separate.engines import (
    OPTIONAL_ENGINES,
    CallControl,
    EngineInfo,
    FloatArray,
    SeparationEngine,
    SeparationOptions,
    StemName,
    StopRequested,
    supported_text,
)
from ting_separate.storage import Destination, check_prefix

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
_FORMATS: Final[dict[int, str]] = {
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
    fmt: str
    sample_rate: int  # 0 keeps the input's rate
    destination: Destination | None = None  # None: stems inline


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


class SeparationServicer(pb_grpc.SeparationServiceServicer):
    """Implements the SeparationService RPCs over one or more :class:`SeparationEngine`."""

    def __init__(self, settings: SeparateSettings, engines: Sequence[SeparationEngine]) -> None:
        if not engines:
            raise ValueError("at least one separation engine is needed")
        self.settings = settings
        self.engines = {engine.name: engine for engine in engines}
        self.default = settings.default_engine if settings.default_engine in self.engines else engines[0].name
        self.limits = AudioLimits(
            max_bytes=int(settings.max_audio_mb * 1024 * 1024), max_duration_s=settings.max_audio_duration_s
        )
        self._inference = BoundedPool(
            settings.concurrency, settings.max_queue, name="separate-infer", title="separation"
        )
        self._decode = ThreadPoolExecutor(2, thread_name_prefix="separate-decode")

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
        if output.bits_per_sample not in (0, 16, 24, 32):
            raise OutOfRangeError(f"output.bits_per_sample must be 16, 24 or 32, got {output.bits_per_sample}")
        if output.bits_per_sample in (24, 32):
            raise UnimplementedError("only 16-bit stems are served so far; leave bits_per_sample at 0 or 16")
        destination = check_prefix(output.uri_prefix, self.settings.storage_root) if output.uri_prefix else None
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
        return _Request(engine, info, options, fmt, output.sample_rate_hertz, destination)

    async def _load_audio(self, source: audio_pb2.AudioSource) -> MultichannelAudio:
        fmt = source.format

        def load() -> MultichannelAudio:
            audio = read_audio_source(source, storage_root=self.settings.storage_root, max_bytes=self.limits.max_bytes)
            return decode_audio_multichannel(
                audio.data,
                encoding=audio.encoding,
                sample_rate_hint=fmt.sample_rate_hertz,
                channels_hint=fmt.channel_count,
                max_channels=2,  # engines separate mono or stereo; more channels are downmixed to stereo
                limits=self.limits,
            )

        return await asyncio.get_running_loop().run_in_executor(self._decode, load)

    def _check_inline_size(self, request: _Request, audio: MultichannelAudio) -> None:
        """Refuse (before separating) output that would not fit the inline limit."""
        if request.destination is not None:
            return
        rate = request.sample_rate or audio.sample_rate
        frames = audio.samples.shape[1] * rate / audio.sample_rate
        estimate = len(request.options.stems) * (frames * audio.channels * 2 + 44)
        limit = self.settings.max_inline_output_mb * 1024 * 1024
        if estimate > limit:
            raise ResourceExhaustedError(
                f"the stems would be about {estimate / 2**20:.0f} MiB inline, over the "
                f"{self.settings.max_inline_output_mb:.0f} MiB limit; send shorter audio, fewer stems, "
                "or an output.uri_prefix under the server's storage root"
            )

    # -- work --------------------------------------------------------------------------------
    async def _run(self, fn: Callable[[], T], control: CallControl) -> T:
        """Run ``fn`` on the bounded pool; a stop requested by the caller surfaces as CANCELLED."""
        try:
            return await self._inference.run(fn, control)
        except StopRequested as exc:
            raise CancelledError("the separation was cancelled") from exc

    def _separate_and_encode(
        self, request: _Request, audio: MultichannelAudio, control: CallControl, report: ProgressSink | None
    ) -> list[pb.SeparatedStem]:
        """Blocking: separate, resample when asked, encode and measure every stem."""
        stems = request.engine.separate(audio.samples, audio.sample_rate, request.options, control)
        duration_ms = _ms(audio.duration_s)
        if report is not None:
            report(
                pb.SeparationProgress(
                    stage=pb.SEPARATION_STAGE_ENCODING,
                    progress=_SEPARATED,
                    processed_ms=duration_ms,
                    duration_ms=duration_ms,
                )
            )
        out_rate = request.sample_rate or audio.sample_rate
        fmt_proto = pb.OUTPUT_AUDIO_FORMAT_FLAC if request.fmt == "flac" else pb.OUTPUT_AUDIO_FORMAT_WAV
        result = []
        for name in request.options.stems:
            control.check()
            samples: FloatArray = stems[name]
            if out_rate != audio.sample_rate:
                samples = _resample(samples, audio.sample_rate, out_rate)
            content = _encode(samples, out_rate, request.fmt)
            integrated, rms, peak = loudness(samples, out_rate)
            size = len(content)
            where: dict[str, Any] = {"content": content}
            if request.destination is not None:
                if report is not None:
                    report(
                        pb.SeparationProgress(
                            stage=pb.SEPARATION_STAGE_UPLOADING,
                            progress=_SEPARATED,
                            processed_ms=duration_ms,
                            duration_ms=duration_ms,
                        )
                    )
                where = {"uri": request.destination.write(f"{name}.{request.fmt}", content)}
            del content
            result.append(
                pb.SeparatedStem(
                    stem=STEM_TO_PROTO[name],
                    format=fmt_proto,
                    sample_rate_hertz=out_rate,
                    channel_count=samples.shape[0],
                    bits_per_sample=16,
                    duration_ms=duration_ms,
                    size_bytes=size,
                    loudness=pb.Loudness(integrated_lufs=integrated, rms_dbfs=rms, peak_dbfs=peak),
                    **where,
                )
            )
        return result

    def _metadata(self, request: _Request, audio: MultichannelAudio, started: float) -> pb.SeparationMetadata:
        return pb.SeparationMetadata(
            engine=request.info.name,
            model=request.info.model,
            duration_ms=_ms(audio.duration_s),
            processing_ms=_ms(time.perf_counter() - started),
            device=request.info.device,
            request_id=request_id_var.get(),
        )

    async def _prepare(self, config: pb.SeparationConfig, source: audio_pb2.AudioSource) -> tuple[_Request, Any]:
        request = self._validate(config)
        audio = await self._load_audio(source)
        self._check_inline_size(request, audio)
        return request, audio

    # -- RPCs --------------------------------------------------------------------------------
    async def Separate(
        self, request: pb.SeparateRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.SeparateResponse:
        started = time.perf_counter()
        validated, audio = await self._prepare(request.config, request.audio)
        control = CallControl()
        stems = await self._run(lambda: self._separate_and_encode(validated, audio, control, None), control)
        return pb.SeparateResponse(stems=stems, metadata=self._metadata(validated, audio, started))

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
        audio = await self._load_audio(request.audio)
        self._check_inline_size(validated, audio)
        duration_ms = _ms(audio.duration_s)
        yield pb.SeparateStreamResponse(
            progress=pb.SeparationProgress(
                stage=pb.SEPARATION_STAGE_SEPARATING, progress=_DECODED, processed_ms=0, duration_ms=duration_ms
            )
        )

        def report(progress: pb.SeparationProgress) -> None:
            loop.call_soon_threadsafe(updates.put_nowait, progress)

        def on_progress(done: int, total: int) -> None:
            fraction = done / total if total else 1.0
            report(
                pb.SeparationProgress(
                    stage=pb.SEPARATION_STAGE_SEPARATING,
                    progress=_DECODED + (_SEPARATED - _DECODED) * fraction,
                    processed_ms=round(duration_ms * fraction),
                    duration_ms=duration_ms,
                )
            )

        control = CallControl(on_progress=on_progress)
        task = asyncio.ensure_future(
            self._run(lambda: self._separate_and_encode(validated, audio, control, report), control)
        )
        try:
            while not task.done() or not updates.empty():
                getter = asyncio.ensure_future(updates.get())
                await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    getter.cancel()
                    continue
                yield pb.SeparateStreamResponse(progress=getter.result())
            stems = task.result()
        finally:
            if not task.done():
                control.stop.set()
                task.cancel()
        yield pb.SeparateStreamResponse(
            result=pb.SeparationResult(stems=stems, metadata=self._metadata(validated, audio, started))
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


def _encode(samples: FloatArray, sample_rate: int, fmt: str) -> bytes:
    """A ``(channels, samples)`` stem as a ``"wav"`` or ``"flac"`` file (16-bit PCM)."""
    return encode_flac(samples.T, sample_rate) if fmt == "flac" else encode_wav(samples.T, sample_rate)


def _resample(samples: FloatArray, source_rate: int, target_rate: int) -> FloatArray:
    """Polyphase resampling of ``(channels, samples)`` from ``source_rate`` to ``target_rate``."""
    from math import gcd

    g = gcd(source_rate, target_rate)
    out = signal.resample_poly(samples, target_rate // g, source_rate // g, axis=-1)
    return np.asarray(out, dtype=np.float32)
