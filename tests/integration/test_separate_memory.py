"""A long input is separated in bounded memory: the real server in its own process, its peak RSS measured.

Eight minutes of CD-quality stereo (44.1 kHz) are synthesized into a WAV under the storage root (written block
by block, never committed), then separated from its ``file://`` URI to a ``file://`` prefix. Holding the
decoded input and two float32 stems would take 3 x 106 MiB = 318 MiB (plus 53 MiB of input WAV and 106 MiB of
encoded stems if those were held too); the server's peak resident memory may grow by at most a quarter of the
318 MiB over its idle size. Linux only (``/proc/<pid>/status`` and ``clear_refs``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

import grpc
import numpy as np
import pytest

from ting.audio.v1 import audio_pb2
from ting.separation.v1 import separation_service_pb2 as pb
from ting.separation.v1 import separation_service_pb2_grpc as pb_grpc
from ting_common.audio import probe_duration
from ting_common.probe import free_port, wait_until_serving
from ting_separate.output import StemEncoder

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc"),
]

RATE = 44100
MINUTES = 8
MIB = 1 << 20


def write_long_wav(path: Path, seconds: int) -> None:
    """A stereo mix (a centred tone with syllables over a panned, repeating noise bed), one second at a time."""
    rng = np.random.default_rng(7)
    bed = 0.05 * rng.standard_normal((2, 2 * RATE)).astype(np.float32)  # a 2 s loop
    with path.open("wb") as out:
        encoder = StemEncoder(out, "wav", 16, RATE, 2)
        for second in range(seconds):
            t = second + np.arange(RATE) / RATE
            voice = 0.2 * np.sin(2 * np.pi * 220 * (1 + (second % 5) / 8) * t) * np.abs(np.sin(np.pi * 3 * t))
            loop = bed[:, (second % 2) * RATE : (second % 2 + 1) * RATE] * np.array([[1.0], [0.4]], np.float32)
            encoder.write((loop + voice.astype(np.float32)).astype(np.float32))
        encoder.close()


def memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, Path]]:
    root = tmp_path_factory.mktemp("memory")
    port = free_port()
    env = {
        **os.environ,
        "TING_SEPARATE_HOST": "127.0.0.1",
        "TING_SEPARATE_PORT": str(port),
        "TING_SEPARATE_STORAGE_ROOT": str(root),
        "TING_SEPARATE_MAX_AUDIO_DURATION_S": "3600",
        "TING_SEPARATE_MAX_AUDIO_MB": "1024",
        "TING_SEPARATE_CONCURRENCY": "1",
    }
    process = subprocess.Popen([sys.executable, "-m", "ting_separate"], env=env, start_new_session=True)
    try:
        wait_until_serving(f"127.0.0.1:{port}", timeout_s=60, process=process)
        yield f"127.0.0.1:{port}", process.pid, root
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def separate_to_storage(address: str, source: Path, prefix: str) -> list[pb.SeparateStreamResponse]:
    with grpc.insecure_channel(address) as channel:
        request = pb.SeparateStreamRequest(
            config=pb.SeparationConfig(
                stems=[pb.STEM_VOCALS, pb.STEM_ACCOMPANIMENT],
                segment_ms=10_000,
                output=pb.StemOutputConfig(uri_prefix=prefix),
            ),
            audio=audio_pb2.AudioSource(uri=f"file://{source}"),
        )
        return list(pb_grpc.SeparationServiceStub(channel).SeparateStream(request, timeout=600))


def peak_growth_mib(
    address: str, pid: int, source: Path, prefix: str, idle: int
) -> tuple[float, list[pb.SeparateStreamResponse]]:
    """Separate ``source`` and return how far the server's peak RSS rose above ``idle`` (KiB) during the call."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
    messages = separate_to_storage(address, source, prefix)
    return (memory_kib(pid, "VmHWM") - idle) / 1024, messages


def test_long_input_is_separated_in_bounded_memory(server: tuple[str, int, Path]) -> None:
    address, pid, root = server
    warm, short, long = root / "warm.wav", root / "short.wav", root / "long.wav"
    write_long_wav(warm, 25)  # imports, codecs and allocator pools settle on a first call
    write_long_wav(short, 60)
    seconds = MINUTES * 60
    write_long_wav(long, seconds)
    separate_to_storage(address, warm, f"file://{root}/warm-")
    idle = memory_kib(pid, "VmRSS")  # after the first call: what a served call leaves allocated counts as growth

    short_mib, _ = peak_growth_mib(address, pid, short, f"file://{root}/short-", idle)
    long_mib, messages = peak_growth_mib(address, pid, long, f"file://{root}/out/long-", idle)

    frames = seconds * RATE
    whole_mib = 3 * frames * 2 * 4 / MIB  # decoded input + two stems, float32 stereo
    print(
        f"\npeak RSS growth: {short_mib:.0f} MiB for 1 min, {long_mib:.0f} MiB for {MINUTES} min of 44.1 kHz "
        f"stereo; holding the {MINUTES} min input + 2 stems as float32 would take {whole_mib:.0f} MiB"
    )
    assert long_mib < whole_mib / 3, (long_mib, whole_mib)
    assert long_mib < short_mib + 24, (long_mib, short_mib)  # 8x the audio, (about) the same peak

    result = messages[-1].result
    separating = [m.progress for m in messages[:-1] if m.progress.stage == pb.SEPARATION_STAGE_SEPARATING]
    assert len(separating) >= seconds // 10  # a progress event per 10 s chunk
    assert separating[-1].processed_ms == pytest.approx(seconds * 1000, abs=1)
    assert result.metadata.duration_ms == seconds * 1000
    for stem in result.stems:
        path = Path(unquote(urlparse(stem.uri).path))
        assert path.parent == root / "out"
        assert path.stat().st_size == stem.size_bytes == 44 + frames * 2 * 2
        assert probe_duration(str(path)) == pytest.approx(seconds, abs=0.01)
