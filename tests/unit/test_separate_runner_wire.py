"""The separation runner's wire format, host and client-side remote engine, without a server.

A remote engine here talks to an in-memory :class:`RunnerHost` through the same bytes the real transports carry
(JSON header + float32 samples, framed as over HTTP), so the chunk-geometry refactor and the wire are checked
for identical stems without starting Triton or BentoML (tests/integration/test_separate_runners.py does that).
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from ting_common.errors import (
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    UnavailableError,
)
from ting_common.runners import RunnerUnavailableError, parse_answer
from ting_separate.config import SeparateSettings
from ting_separate.engines import CallControl, ChunkPlan, FloatArray, SeparationOptions, StemName, StopRequested
from ting_separate.engines.chunking import collect, stream_in_batches
from ting_separate.engines.dsp import SUPPORTED, DspEngine, separate_chunk
from ting_separate.engines.remote import RemoteSeparationEngine, describe_runner
from ting_separate.runner import (
    EMPTY,
    RunnerHost,
    frame,
    info_from_wire,
    info_to_wire,
    pack_chunks,
    pack_stems,
    unframe,
    unpack_chunks,
    unpack_stems,
)

RATE = 44100


def free_port() -> int:
    """A loopback port nothing listens on (bound and released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _audio(seconds: float = 3.0, channels: int = 2) -> FloatArray:
    rng = np.random.default_rng(7)
    n = round(seconds * RATE)
    t = np.arange(n) / RATE
    voice = 0.3 * np.sin(2 * np.pi * 330 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2
    pads = 0.1 * rng.standard_normal((channels, n))
    mixed: FloatArray = (voice[None] + pads * np.linspace(0.2, 1.0, channels)[:, None]).astype(np.float32)
    return mixed


class LoopbackTransport:
    """Carries each request through :class:`RunnerHost` as bytes, like the HTTP transport."""

    where = "a loopback runner"

    def __init__(self, host: RunnerHost) -> None:
        self.host = host
        self.calls: list[dict[str, Any]] = []

    def call(
        self, header: dict[str, Any], samples: FloatArray, control: CallControl | None
    ) -> tuple[dict[str, Any], FloatArray]:
        self.calls.append(header)
        request = frame(header, samples)
        raw_header, raw_samples = unframe(request)
        answer, stems = self.host.handle_json(raw_header, raw_samples.tobytes())
        raw_answer, answer_samples = unframe(frame(answer, stems))
        return parse_answer(raw_answer, self.where), answer_samples

    def close(self) -> None:
        pass


@pytest.fixture
def transport() -> LoopbackTransport:
    return LoopbackTransport(RunnerHost([DspEngine()]))


def test_chunks_round_trip_any_lengths() -> None:
    chunks = [_audio(0.01)[:, :n] for n in (441, 17, 0, 300)]
    samples, channels, lengths = pack_chunks(chunks)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert (channels, lengths) == (2, [441, 17, 0, 300])
    for got, want in zip(unpack_chunks(samples, channels, lengths), chunks, strict=True):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(InvalidArgumentError, match="need"):
        unpack_chunks(samples[:-1], channels, lengths)


def test_stems_round_trip_and_a_short_answer_is_internal() -> None:
    results: list[dict[StemName, FloatArray]] = [
        {"vocals": _audio(0.01)[:, :n], "accompaniment": -_audio(0.01)[:, :n]} for n in (100, 33)
    ]
    header, samples = pack_stems(results, ("vocals", "accompaniment"))
    header = json.loads(json.dumps(header))
    back = unpack_stems(header, samples)
    for got, want in zip(back, results, strict=True):
        np.testing.assert_array_equal(got["vocals"], want["vocals"])
        np.testing.assert_array_equal(got["accompaniment"], want["accompaniment"])
    with pytest.raises(InternalError, match="promises"):
        unpack_stems(header, samples[:-2])


def test_frame_is_bytes_not_json_lists_and_round_trips() -> None:
    samples = np.linspace(-1, 1, 1000, dtype=np.float32)
    body = frame({"stems": ["vocals"]}, samples)
    assert len(body) < 4 + 100 + 4 * samples.size  # float32 bytes, not decimal text
    raw, back = unframe(body)
    assert json.loads(raw) == {"stems": ["vocals"]}
    np.testing.assert_array_equal(back, samples)
    with pytest.raises(InternalError):
        unframe(body[:10])


def test_engine_info_round_trips() -> None:
    info = DspEngine().info()
    assert info_from_wire(json.loads(json.dumps(info_to_wire(info)))) == info


def test_host_answers_errors_as_wire_errors() -> None:
    host = RunnerHost([DspEngine()])
    base = {"engine": "dsp", "sample_rate": RATE, "channels": 2, "segment_ms": 0, "overlap_ratio": None}
    cases: list[tuple[bytes, type[Exception], str]] = [
        (b"not json", InvalidArgumentError, "not JSON"),
        (json.dumps({**base, "op": "plan", "stems": ["drums"]}).encode(), FailedPreconditionError, "drums"),
        (json.dumps({**base, "op": "plan", "engine": "demucs", "stems": []}).encode(), NotFoundError, "no engine"),
        (
            json.dumps({**base, "op": "separate", "stems": ["vocals"], "lengths": [10]}).encode(),
            InvalidArgumentError,
            "need 20",
        ),
        (json.dumps({**base, "op": "explode", "stems": []}).encode(), InvalidArgumentError, "unknown op"),
    ]
    for raw, error, text in cases:
        answer, samples = host.handle_raw(raw, EMPTY)
        assert samples.size == 0
        assert "error" in json.loads(answer)
        with pytest.raises(error, match=text):
            parse_answer(answer, "the runner")


def test_host_plan_is_the_engines_own() -> None:
    host = RunnerHost([DspEngine()])
    options = SeparationOptions(stems=("vocals",), segment_ms=2000, overlap_ratio=0.25)
    header = {"op": "plan", "engine": "dsp", "sample_rate": RATE, "channels": 2, "stems": ["vocals"]}
    answer, _ = host.handle({**header, "segment_ms": 2000, "overlap_ratio": 0.25}, EMPTY)
    assert ChunkPlan(**answer["plan"]) == DspEngine().plan(RATE, 2, options)
    assert DspEngine().plan(RATE, 2, options) == ChunkPlan(chunk=2 * RATE, overlap=RATE // 2, context=0, batch=1)


def test_dsp_refactor_matches_the_chunked_path_it_replaced() -> None:
    """separate_stream = stream_in_batches over plan + separate_chunks, as the engine did before (all stems, then
    the requested ones picked)."""
    audio = _audio(3.0)
    engine = DspEngine()
    options = SeparationOptions(stems=("vocals", "accompaniment"), segment_ms=1000)
    settings = replace(engine.settings, chunk_s=1.0)
    chunk = RATE
    old = collect(
        stream_in_batches(
            [audio],
            SUPPORTED,
            lambda pieces: [separate_chunk(piece, RATE, settings) for piece in pieces],
            chunk=chunk,
            overlap=min(round(settings.crossfade_s * RATE), chunk // 4),
            batch=1,
            control=CallControl(),
        ),
        SUPPORTED,
    )
    new = engine.separate(audio, RATE, options, CallControl())
    vocals_only = engine.separate(audio, RATE, replace(options, stems=("vocals",)), CallControl())
    for stem in SUPPORTED:
        np.testing.assert_array_equal(new[stem], old[stem])
    np.testing.assert_array_equal(vocals_only["vocals"], old["vocals"])


@pytest.mark.parametrize("channels", [1, 2])
def test_remote_engine_gives_the_in_process_stems(transport: LoopbackTransport, channels: int) -> None:
    audio = _audio(3.0, channels)
    options = SeparationOptions(stems=("vocals", "accompaniment"), segment_ms=800, overlap_ratio=0.2)
    (info,) = describe_runner(transport)
    remote = RemoteSeparationEngine(info, transport)
    assert remote.info().description.endswith("— served by a loopback runner")
    progress: list[tuple[int, int]] = []
    control = CallControl(on_progress=lambda done, total: progress.append((done, total)))
    # Fed in odd-sized blocks: the chunking happens on this side and must not depend on the block sizes.
    blocks = [audio[:, i : i + 12_345] for i in range(0, audio.shape[1], 12_345)]
    got = collect(remote.separate_stream(blocks, RATE, options, control, audio.shape[1]), options.stems)
    want = DspEngine().separate(audio, RATE, options, CallControl())
    for stem in options.stems:
        np.testing.assert_allclose(got[stem], want[stem], atol=1e-6, rtol=0)
    assert progress[-1] == (audio.shape[1], audio.shape[1])
    assert [call["op"] for call in transport.calls].count("separate") == len(progress) > 3


def test_runner_error_reaches_the_remote_engine(transport: LoopbackTransport) -> None:
    (info,) = describe_runner(transport)
    stale = RemoteSeparationEngine(replace(info, supported_stems=(*info.supported_stems, "drums")), transport)
    with pytest.raises(FailedPreconditionError, match="cannot produce drums"):
        stale.separate(_audio(1.0), RATE, SeparationOptions(stems=("drums",)), CallControl())


def test_remote_engine_stops_between_batches(transport: LoopbackTransport) -> None:
    (info,) = describe_runner(transport)
    control = CallControl()
    control.stop.set()
    with pytest.raises(StopRequested):
        RemoteSeparationEngine(info, transport).separate(_audio(1.0), RATE, SeparationOptions(), control)


def test_unreachable_runners_are_unavailable_naming_them() -> None:
    from ting_separate.engines.bento import bento_engines
    from ting_separate.engines.triton import triton_engines

    port = free_port()  # nothing listens there
    for settings, where in (
        (
            SeparateSettings(runner="triton", triton_url=f"127.0.0.1:{port}", runner_retries=1, runner_timeout_s=0.5),
            f"Triton at 127.0.0.1:{port}",
        ),
        (
            SeparateSettings(runner="bento", bento_url=f"http://127.0.0.1:{port}", runner_retries=1),
            f"BentoML at http://127.0.0.1:{port}",
        ),
    ):
        started = time.monotonic()
        with pytest.raises(UnavailableError) as info:
            (triton_engines if settings.runner == "triton" else bento_engines)(settings)
        assert isinstance(info.value, RunnerUnavailableError)
        assert where in info.value.message and "2 attempt(s)" in info.value.message
        assert time.monotonic() - started < 10
