"""Streaming recognition at real-time pace: latency, WER and drops with 1, 2 and 4 concurrent streams.

Streams the repo samples (and the ``../shared/eval/asr`` clips when present, non-Chinese) as 100 ms LINEAR16 chunks at
real-time pace through an in-process ASR server, N streams at once. For every utterance it measures the first-partial
latency (first interim's arrival minus the wall time its speech onset was sent) and the final latency (final's arrival
minus the wall time its speech end was sent); it prints p50/p95, the streaming WER (finals joined) against the offline
WER (``Recognize`` on the same clips), interims sent and dropped (the server's per-stream counters, read from its
"stream ended" log records), errors, the process's CPU use (cores busy: CPU seconds per wall second, client and
server together, as both run here) and its peak RSS.

    python bench/streaming.py [--levels 1,2,4] [--max-seconds 40] [--model base] [--json]

``--max-seconds`` bounds each level: no new clip starts after it (clips that started finish). With ``--json`` the last
line is ``{"streams": {"1": {"first_partial_p50_s", "final_p50_s", "final_p95_s", "wer", "offline_wer", "errors"}}}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import resource
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import numpy as np

from ting.asr.v1 import asr_service_pb2 as pb
from ting.asr.v1 import asr_service_pb2_grpc as pb_grpc
from ting.audio.v1 import audio_pb2
from ting_asr.config import AsrSettings
from ting_asr.server import create_engine, create_server
from ting_common.audio import decode_audio
from ting_common.scoring import error_rate

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
EVAL = ROOT.parent / "shared" / "eval" / "asr"
CHUNK_S = 0.1


@dataclass
class Clip:
    name: str
    language: str
    reference: str
    pcm: bytes

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / 32000


@dataclass
class Level:
    first_partial: list[float] = field(default_factory=list)
    final: list[float] = field(default_factory=list)
    wers: list[float] = field(default_factory=list)
    errors: int = 0


class StreamCounters(logging.Handler):
    """Sums the interims sent and dropped that each stream logs when it ends (``ting_asr.streaming``)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.interims = 0
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() == "stream ended":
            self.interims += int(getattr(record, "interims", 0))
            self.dropped += int(getattr(record, "dropped_interims", 0))

    def take(self) -> tuple[int, int]:
        out = (self.interims, self.dropped)
        self.interims = self.dropped = 0
        return out


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load_clips() -> list[Clip]:
    items = [("meeting_intro.wav", "en"), ("es_weather.wav", "es")]
    clips = [Clip(n, lang, (SAMPLES / n).with_suffix(".txt").read_text(), pcm16(SAMPLES / n)) for n, lang in items]
    manifest = EVAL / "manifest.jsonl"
    if manifest.exists():
        for line in manifest.read_text().splitlines():
            row = json.loads(line)
            if row["language"] != "zh":
                clips.append(Clip(row["audio"], row["language"], row["text"], pcm16(EVAL / row["audio"])))
    return clips


def pcm16(path: Path) -> bytes:
    samples = decode_audio(str(path), target_sample_rate=16000).samples
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


def config(language: str) -> pb.StreamingRecognizeRequest:
    return pb.StreamingRecognizeRequest(
        streaming_config=pb.StreamingRecognitionConfig(
            config=pb.RecognitionConfig(language_code=language),
            audio_format=audio_pb2.AudioFormat(encoding=audio_pb2.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=16000),
            interim_results=True,
        )
    )


async def stream_clip(stub: pb_grpc.AsrServiceStub, clip: Clip, level: Level) -> None:
    step = int(CHUNK_S * 32000)
    started = time.monotonic()

    async def gen() -> AsyncIterator[pb.StreamingRecognizeRequest]:
        yield config(clip.language)
        for i, pos in enumerate(range(0, len(clip.pcm), step)):
            # Real-time pace: chunk i leaves when its last sample would have been recorded.
            await asyncio.sleep(max(0.0, started + (i + 1) * CHUNK_S - time.monotonic()))
            yield pb.StreamingRecognizeRequest(audio_content=clip.pcm[pos : pos + step])

    finals: list[str] = []
    onset: dict[int, float] = {}
    seen_partial: set[int] = set()
    speech_end: float | None = None
    try:
        async for resp in stub.StreamingRecognize(gen(), timeout=600):
            now = time.monotonic()
            if resp.speech_event.type == pb.SPEECH_EVENT_TYPE_SPEECH_ACTIVITY_BEGIN:
                onset[len(finals)] = started + resp.speech_event.offset_ms / 1000
            elif resp.speech_event.type in (
                pb.SPEECH_EVENT_TYPE_SPEECH_ACTIVITY_END,
                pb.SPEECH_EVENT_TYPE_END_OF_UTTERANCE,
            ):
                speech_end = started + resp.speech_event.offset_ms / 1000
            for r in resp.results:
                if r.is_final:
                    finals.append(r.text)
                    if speech_end is not None:
                        level.final.append(now - max(speech_end, started + r.end_ms / 1000 - 0.2))
                        speech_end = None
                elif r.utterance_index not in seen_partial:
                    seen_partial.add(r.utterance_index)
                    if r.utterance_index in onset:
                        level.first_partial.append(now - onset[r.utterance_index])
    except grpc.aio.AioRpcError as exc:
        level.errors += 1
        print(f"  {clip.name}: {exc.code().name} {exc.details()}")
        return
    level.wers.append(error_rate(clip.reference, " ".join(finals), clip.language))


async def run_level(address: str, clips: list[Clip], n: int, max_seconds: float) -> Level:
    level = Level()
    deadline = time.monotonic() + max_seconds
    queue = list(clips)

    async def worker(k: int) -> None:
        i = k
        async with grpc.aio.insecure_channel(address) as ch:
            stub = pb_grpc.AsrServiceStub(ch)
            while time.monotonic() < deadline:
                await stream_clip(stub, queue[i % len(queue)], level)
                i += n

    await asyncio.gather(*(worker(k) for k in range(n)))
    return level


async def offline_wer(address: str, clips: list[Clip]) -> float:
    wers = []
    async with grpc.aio.insecure_channel(address) as ch:
        stub = pb_grpc.AsrServiceStub(ch)
        for clip in clips:
            resp = await stub.Recognize(
                pb.RecognizeRequest(
                    config=pb.RecognitionConfig(language_code=clip.language),
                    audio=audio_pb2.AudioSource(
                        content=clip.pcm,
                        format=audio_pb2.AudioFormat(
                            encoding=audio_pb2.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=16000
                        ),
                    ),
                ),
                timeout=600,
            )
            text = " ".join(s.text for s in resp.transcript.segments)
            wers.append(error_rate(clip.reference, text, clip.language))
    return statistics.mean(wers)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,2,4")
    parser.add_argument("--max-seconds", type=float, default=40.0, help="no new clip starts after this, per level")
    parser.add_argument("--model", default="base")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    settings = AsrSettings(
        host="127.0.0.1", port=0, model=args.model, streaming_max_streams=max(levels), shutdown_delay_s=0.0
    )
    engine = create_engine(settings)
    app, port = create_server(settings, engine)
    await app.start()
    address = f"127.0.0.1:{port}"
    clips = load_clips()
    try:
        offline = await offline_wer(address, clips)
        print(f"offline WER over {len(clips)} clips: {offline:.3f}")
        out: dict[str, Any] = {}
        counters = StreamCounters()
        stream_log = logging.getLogger("ting_asr.streaming")
        stream_log.addHandler(counters)
        stream_log.setLevel(logging.INFO)
        for n in levels:
            counters.take()
            cpu0, wall0 = cpu_seconds(), time.monotonic()
            level = await run_level(address, clips, n, args.max_seconds)
            cpu = (cpu_seconds() - cpu0) / max(time.monotonic() - wall0, 1e-9)
            interims, dropped = counters.take()
            wer = round(statistics.mean(level.wers), 3) if level.wers else float("nan")
            out[str(n)] = {
                "first_partial_p50_s": pct(level.first_partial, 0.5),
                "first_partial_p95_s": pct(level.first_partial, 0.95),
                "final_p50_s": pct(level.final, 0.5),
                "final_p95_s": pct(level.final, 0.95),
                "wer": wer,
                "offline_wer": round(offline, 3),
                "clips": len(level.wers),
                "errors": level.errors,
                "interims": interims,
                "dropped_partials": dropped,
                "cpu_cores": round(cpu, 2),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            }
            print(f"{n} stream(s): {out[str(n)]}")
    finally:
        await app.drain(0)
        engine.close()
    if args.json:
        print(json.dumps({"streams": out}))


if __name__ == "__main__":
    asyncio.run(main())
