"""Stream decoders (ting_asr.stream_audio): Ogg/Opus and WebM/Opus cut anywhere, decoded as they arrive.

The streams are encoded here with PyAV's libopus from the speech sample, the way a browser's MediaRecorder sends them:
one blob per 100 ms ``timeslice``, WebM as a live stream (Segment and Clusters of unknown size, no Cues)."""

from __future__ import annotations

import io
import random
import threading
from collections.abc import Callable, Iterator
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import pytest
from av.audio.frame import AudioFrame

from ting_asr.stream_audio import (
    THREAD_PREFIX,
    ContainerStreamDecoder,
    PcmDecoder,
    StreamDecoder,
    stream_decoder,
)
from ting_common.audio import AudioEncoding, decode_audio, encode_wav
from ting_common.errors import InvalidArgumentError, UnimplementedError

from ..conftest import SAMPLES

FloatArray = npt.NDArray[np.float32]
RATE = 16_000
OGG, WEBM = AudioEncoding.OGG_OPUS, AudioEncoding.WEBM_OPUS
NAMES = {OGG: "Ogg/Opus", WEBM: "WebM/Opus"}
# Audio held back behind the bytes pushed: an Ogg page (100 ms here) or a WebM cluster's block, libopus' own
# frame and look-ahead, the resampler's filter. Measured ~0.21 s (Ogg) and ~0.13 s (WebM).
LOOK_AHEAD_S = 0.3

pytestmark = pytest.mark.skipif("libopus" not in av.codecs_available, reason="PyAV was built without libopus")


# -- making streams ---------------------------------------------------------------------------------------
class _Sink:
    """A write-only, unseekable file: the muxer writes a live stream, as a browser does."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> int:
        self.data += data
        return len(data)


def timeslice_blobs(
    samples: FloatArray,
    encoding: AudioEncoding,
    *,
    slice_ms: int = 100,
    rate: int = RATE,
    channels: int = 1,
    codec: str = "libopus",
) -> list[bytes]:
    """``samples`` (16 kHz mono, or ``(channels, n)`` at ``rate``) encoded as Ogg/Opus or WebM/Opus and cut like
    MediaRecorder's ``timeslice`` blobs: after each ``slice_ms`` of audio, the bytes the muxer has written."""
    fmt = "ogg" if encoding is OGG else "webm"
    options = (
        {"page_duration": str(slice_ms * 1000)} if fmt == "ogg" else {"live": "1", "cluster_time_limit": str(slice_ms)}
    )
    planar = np.atleast_2d(samples)
    layout = "mono" if channels == 1 else "stereo"
    sink = _Sink()
    blobs: list[bytes] = []
    with av.open(sink, "w", format=fmt, options=options) as container:
        stream: Any = container.add_stream(codec, rate=48_000 if codec == "libopus" else rate, layout=layout)
        if codec == "libopus":
            stream.bit_rate = 32_000 * channels
        pcm = (np.clip(planar, -1, 1) * 32767).astype(np.int16)
        step = rate * slice_ms // 1000
        for start in range(0, pcm.shape[1], step):
            block = np.ascontiguousarray(pcm[:, start : start + step].T).reshape(1, -1)
            frame = AudioFrame.from_ndarray(block, format="s16", layout=layout)
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
            blobs.append(bytes(sink.data))
            sink.data.clear()
        for packet in stream.encode(None):
            container.mux(packet)
    blobs.append(bytes(sink.data))
    blobs = [b for b in blobs if b]
    return unknown_size_clusters(blobs) if fmt == "webm" else blobs


def _vint(data: bytes, pos: int) -> tuple[int, int]:
    """An EBML variable-size integer at ``pos``: (value, length)."""
    length = 9 - data[pos].bit_length()
    value = int.from_bytes(data[pos : pos + length], "big") & ((1 << (7 * length)) - 1)
    return value, length


_CLUSTER = bytes.fromhex("1f43b675")
_UNKNOWN_SIZE = bytes.fromhex("01ffffffffffffff")


def unknown_size_clusters(blobs: list[bytes]) -> list[bytes]:
    """Rewrite a live WebM's Clusters to unknown size, as Chrome's MediaRecorder writes them (FFmpeg sizes them)."""
    data = b"".join(blobs)
    _, id_len = _vint(data, 0)
    size, size_len = _vint(data, id_len)
    pos = id_len + size_len + size  # past the EBML header: the Segment
    _, id_len = _vint(data, pos)
    _, size_len = _vint(data, pos + id_len)
    pos += id_len + size_len
    out = bytearray(data[:pos])
    shifts: list[tuple[int, int]] = []  # (old offset, bytes added before it)
    added = 0
    while pos < len(data):
        _, id_len = _vint(data, pos)
        size, size_len = _vint(data, pos + id_len)
        element_id = data[pos : pos + id_len]
        body = data[pos + id_len + size_len : pos + id_len + size_len + size]
        if element_id == _CLUSTER:
            out += element_id + _UNKNOWN_SIZE + body
            added += len(_UNKNOWN_SIZE) - size_len
        else:
            out += data[pos : pos + id_len + size_len + size]
        pos += id_len + size_len + size
        shifts.append((pos, added))
    cuts, offset = [], 0
    for blob in blobs:
        offset += len(blob)
        cuts.append(offset + max((a for end, a in shifts if end <= offset), default=0))
    return [bytes(out[a:b]) for a, b in zip([0, *cuts[:-1]], cuts, strict=True)]


def random_pieces(data: bytes, rng: random.Random, largest: int = 64 * 1024) -> Iterator[bytes]:
    """``data`` cut at random places, pieces from 1 byte to ``largest`` (log-uniform)."""
    pos = 0
    while pos < len(data):
        size = max(1, int(2 ** rng.uniform(0, np.log2(largest))))
        yield data[pos : pos + size]
        pos += size


def decode_all(decoder: StreamDecoder, pieces: Iterator[bytes] | list[bytes]) -> FloatArray:
    out = [decoder.push(piece) for piece in pieces]
    out.append(decoder.flush())
    return np.concatenate(out)


def decoder_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)]


@pytest.fixture(scope="module")
def speech() -> FloatArray:
    """Eight seconds of the meeting sample, 16 kHz mono."""
    return decode_audio(str(SAMPLES / "meeting_intro.wav")).samples[: 8 * RATE]


@pytest.fixture(scope="module", params=[OGG, WEBM], ids=["ogg", "webm"])
def encoded(request: pytest.FixtureRequest, speech: FloatArray) -> tuple[AudioEncoding, list[bytes]]:
    return request.param, timeslice_blobs(speech, request.param)


@pytest.fixture(autouse=True)
def no_thread_left() -> Iterator[None]:
    yield
    assert not decoder_threads(), "a decoder thread outlived its test"


def similar(decoded: FloatArray, reference: FloatArray) -> None:
    """Same length within 5 ms, and the same waveform."""
    assert abs(decoded.size - reference.size) <= RATE * 0.005, (decoded.size, reference.size)
    n = min(decoded.size, reference.size)
    assert np.corrcoef(decoded[:n], reference[:n])[0, 1] > 0.999
    assert decoded.dtype == np.float32 and np.abs(decoded).max() <= 1.0


# -- decoding -------------------------------------------------------------------------------------------
def test_the_streams_are_what_a_browser_sends(encoded: tuple[AudioEncoding, list[bytes]]) -> None:
    encoding, blobs = encoded
    data = b"".join(blobs)
    assert len(blobs) > 70 and max(len(b) for b in blobs[1:-1]) < 2000  # ~100 ms blobs at 32 kb/s
    if encoding is WEBM:
        assert data.count(_CLUSTER + _UNKNOWN_SIZE) == data.count(_CLUSTER) > 50
    decoded = decode_audio(data)
    assert decoded.source_codec == "opus" and decoded.duration_s == pytest.approx(8.0, abs=0.01)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_pieces_decode_like_the_whole_file(encoded: tuple[AudioEncoding, list[bytes]], seed: int) -> None:
    encoding, blobs = encoded
    data = b"".join(blobs)
    decoded = decode_all(stream_decoder(encoding, 0, 0), random_pieces(data, random.Random(seed)))
    similar(decoded, decode_audio(data).samples)


def test_audio_comes_out_as_the_blobs_arrive(encoded: tuple[AudioEncoding, list[bytes]], speech: FloatArray) -> None:
    encoding, blobs = encoded
    decoder = stream_decoder(encoding, 0, 0)
    decoded = 0
    lags = []
    for index, blob in enumerate(blobs[:-1]):
        decoded += decoder.push(blob).size
        lags.append((index + 1) * 0.1 - decoded / RATE)
    assert max(lags) <= LOOK_AHEAD_S, lags
    decoded += decoder.push(blobs[-1]).size + decoder.flush().size
    assert decoded == pytest.approx(speech.size, abs=RATE * 0.005)


def test_one_byte_at_a_time(speech: FloatArray) -> None:
    data = b"".join(timeslice_blobs(speech[: 2 * RATE], OGG))
    decoded = decode_all(stream_decoder(OGG, 0, 0), [data[i : i + 1] for i in range(len(data))])
    similar(decoded, decode_audio(data).samples)


def test_one_large_chunk_is_fed_through_the_bounded_pipe(speech: FloatArray) -> None:
    long = np.tile(speech, 4)  # 32 s: about 130 KB, twice the pipe
    data = b"".join(timeslice_blobs(long, WEBM))
    assert len(data) > 2 * 64 * 1024
    decoded = decode_all(stream_decoder(WEBM, 0, 0), [data])
    similar(decoded, decode_audio(data).samples)


def test_stereo_48k_is_downmixed(speech: FloatArray) -> None:
    import av.audio.resampler

    up = av.audio.resampler.AudioResampler(format="flt", layout="mono", rate=48_000)
    frame = AudioFrame.from_ndarray(speech.reshape(1, -1), format="flt", layout="mono")
    frame.sample_rate = RATE
    at48 = np.concatenate([f.to_ndarray().reshape(-1) for f in [*up.resample(frame), *up.resample(None)]])
    stereo = np.stack([at48, at48 * 0.5]).astype(np.float32)
    data = b"".join(timeslice_blobs(stereo, OGG, rate=48_000, channels=2))
    decoded = decode_all(stream_decoder(OGG, 0, 0), random_pieces(data, random.Random(3)))
    n = min(decoded.size, speech.size)
    assert abs(decoded.size - speech.size) <= RATE * 0.005
    assert np.corrcoef(decoded[:n], speech[:n])[0, 1] > 0.95


def test_vorbis_in_ogg_is_accepted_too(speech: FloatArray) -> None:
    buffer = io.BytesIO()
    stereo = np.repeat((speech[: 3 * RATE] * 32767).astype(np.int16), 2).reshape(1, -1)
    with av.open(buffer, "w", format="ogg") as container:
        stream: Any = container.add_stream("vorbis", rate=RATE, layout="stereo")  # FFmpeg's encoder: stereo only
        stream.codec_context.options = {"strict": "-2"}
        frame = AudioFrame.from_ndarray(stereo, format="s16", layout="stereo")
        frame.sample_rate = RATE
        frame.pts = 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    data = buffer.getvalue()
    decoder = stream_decoder(OGG, 0, 0)
    decoded = decode_all(decoder, random_pieces(data, random.Random(5), largest=1024))
    assert isinstance(decoder, ContainerStreamDecoder) and decoder.codec == "vorbis"
    similar(decoded, decode_audio(data).samples)


def test_a_truncated_tail_keeps_the_audio_before_it(speech: FloatArray) -> None:
    data = b"".join(timeslice_blobs(speech, OGG))
    decoded = decode_all(stream_decoder(OGG, 0, 0), [data[: len(data) // 2 + 123]])
    assert 3.5 * RATE < decoded.size < 4.5 * RATE


def test_an_empty_stream_decodes_to_nothing() -> None:
    decoder = stream_decoder(WEBM, 0, 0)
    assert decoder.push(b"").size == 0
    assert decoder.flush().size == 0


# -- the factory -----------------------------------------------------------------------------------------
def test_the_factory_picks_the_decoder() -> None:
    assert isinstance(stream_decoder(AudioEncoding.LINEAR16, 16000, 1), PcmDecoder)
    assert isinstance(stream_decoder(AudioEncoding.FLOAT32, 8000, 0), PcmDecoder)  # 0 channels: mono
    # Containers describe themselves: a rate or channel count given with them is ignored.
    for encoding in (OGG, WEBM):
        assert isinstance(stream_decoder(encoding, 0, 0), ContainerStreamDecoder)
        assert isinstance(stream_decoder(encoding, 4000, 99), ContainerStreamDecoder)
    with pytest.raises(InvalidArgumentError, match="sample_rate_hertz"):
        stream_decoder(AudioEncoding.LINEAR16, 4000, 1)
    for encoding in (AudioEncoding.MULAW, AudioEncoding.WAV, AudioEncoding.MP3):
        with pytest.raises(UnimplementedError, match="Ogg/Opus or WebM/Opus"):
            stream_decoder(encoding, 16000, 1)


# -- wrong input ------------------------------------------------------------------------------------------
def _garbage(speech: FloatArray) -> dict[str, Callable[[AudioEncoding], bytes]]:
    pcm = (speech * 32767).astype("<i2").tobytes()
    wav = encode_wav(speech, RATE)
    noise = np.random.default_rng(0).bytes(3 * 1024 * 1024)
    ogg = b"".join(timeslice_blobs(speech, OGG))
    webm = b"".join(timeslice_blobs(speech, WEBM))
    own = {OGG: ogg, WEBM: webm}
    other = {OGG: webm, WEBM: ogg}
    return {
        "random": lambda _: noise,
        "pcm": lambda _: pcm,
        "wav": lambda _: wav,
        "the-other-container": lambda e: other[e],
        "signature-then-random": lambda e: own[e][:4] + noise,
        "headers-then-random": lambda e: own[e][:600] + noise,
        "headers-then-zeros": lambda e: own[e][:600] + bytes(len(noise)),
    }


GARBAGE = [
    "random",
    "pcm",
    "wav",
    "the-other-container",
    "signature-then-random",
    "headers-then-random",
    "headers-then-zeros",
]


@pytest.mark.parametrize("kind", GARBAGE)
@pytest.mark.parametrize("encoding", [OGG, WEBM], ids=["ogg", "webm"])
def test_not_the_declared_container_is_refused_within_bounded_bytes(
    speech: FloatArray, encoding: AudioEncoding, kind: str
) -> None:
    data = _garbage(speech)[kind](encoding)
    decoder = stream_decoder(encoding, 0, 0)
    pushed = 0

    def feed() -> None:
        nonlocal pushed
        for piece in random_pieces(data, random.Random(4), largest=4096):
            decoder.push(piece)
            pushed += len(piece)
        decoder.flush()

    with pytest.raises(InvalidArgumentError, match=f"audio chunks are not {NAMES[encoding]}") as info:
        feed()
    # Refused at the signature, at a demuxer error (Ogg's resync gives up after a page), or after 1 MiB of no audio.
    assert pushed <= 1024 * 1024 + 64 * 1024 + 4096, pushed
    if kind in ("random", "pcm", "wav", "the-other-container"):
        assert pushed < 4, pushed  # the first bytes tell
    if kind == "wav":
        assert "WAV" in str(info.value)
    assert not decoder_threads()
    with pytest.raises(InvalidArgumentError):
        decoder.push(b"OggS")  # the stream is over


def test_a_stream_ending_inside_its_headers_is_refused(speech: FloatArray) -> None:
    data = b"".join(timeslice_blobs(speech, OGG))
    for cut in (2, 30):
        decoder = stream_decoder(OGG, 0, 0)
        decoder.push(data[:cut])
        with pytest.raises(InvalidArgumentError, match="not Ogg/Opus"):
            decoder.flush()


def test_another_codec_in_ogg_is_refused(speech: FloatArray) -> None:
    data = b"".join(timeslice_blobs(speech, OGG, codec="flac"))
    decoder = stream_decoder(OGG, 0, 0)
    with pytest.raises(InvalidArgumentError, match="codec is flac"):
        decode_all(decoder, [data[:20_000], data[20_000:]])


# -- the thread ends with the stream -----------------------------------------------------------------------
def test_the_thread_runs_while_the_stream_does_and_ends_with_it(speech: FloatArray) -> None:
    blobs = timeslice_blobs(speech, WEBM)
    decoder = stream_decoder(WEBM, 0, 0)
    assert isinstance(decoder, ContainerStreamDecoder)
    assert not decoder.alive  # started by the first bytes, not before
    decoder.push(b"".join(blobs[:5]))
    assert decoder.alive and len(decoder_threads()) == 1
    decoder.flush()
    assert not decoder.alive
    decoder.close()  # idempotent


def test_close_mid_stream_stops_the_thread(speech: FloatArray) -> None:
    blobs = timeslice_blobs(speech, OGG)
    decoders = [stream_decoder(OGG, 0, 0) for _ in range(3)]
    for decoder in decoders:
        decoder.push(b"".join(blobs[:20]))
    assert len(decoder_threads()) == 3
    for decoder in decoders:
        decoder.close()
    assert not decoder_threads()
    with pytest.raises(InvalidArgumentError, match="ended"):
        decoders[0].push(blobs[21])


def test_close_from_another_thread_while_push_waits(speech: FloatArray) -> None:
    data = b"".join(timeslice_blobs(np.tile(speech, 8), OGG))  # ~260 KB: several pipe fills
    decoder = stream_decoder(OGG, 0, 0)
    decoder.push(data[:1000])
    errors: list[BaseException] = []

    def push_all() -> None:
        try:
            decoder.push(data[1000:])
        except BaseException as exc:  # collected for the assertion
            errors.append(exc)

    pusher = threading.Thread(target=push_all)
    pusher.start()
    decoder.close()
    pusher.join(10)
    assert not pusher.is_alive() and not errors
    assert not decoder_threads()


def test_many_streams_leave_no_thread(speech: FloatArray) -> None:
    data = b"".join(timeslice_blobs(speech[: RATE // 2], WEBM))
    for seed in range(20):
        decoder = stream_decoder(WEBM, 0, 0)
        for piece in random_pieces(data, random.Random(seed), largest=512):
            decoder.push(piece)
        if seed % 2:
            decoder.flush()
        decoder.close()
    assert not decoder_threads()
