"""GE2E speaker encoder (Resemblyzer's packaged weights) in numpy, without torch.

Resemblyzer (``resemblyzer==0.1.4``, Apache-2.0) ships ``resemblyzer/pretrained.pt``: a GE2E speaker encoder
(Wan et al., 2018) saved with ``torch.save`` in torch's legacy (non-zip) pickle format. Importing ``resemblyzer``
imports torch, so only the file is used here:

* :func:`load_ge2e_weights` reads the checkpoint with a restricted unpickler (a short allow-list of globals, each
  mapped to a small numpy-building function; nothing from torch is imported and no other callable can run).
* :func:`mel_spectrogram` reproduces ``resemblyzer.audio.wav_to_mel_spectrogram`` (``librosa.feature.melspectrogram``
  at 16 kHz: 25 ms Hann window, 10 ms hop, centred STFT with zero padding, power 2, 40 Slaney mel bands). It is a
  linear-power mel spectrogram, not a log one, as in Resemblyzer.
* :class:`GE2EEncoder` runs the 3-layer LSTM (hidden 256) → linear 256 → ReLU → L2 normalisation over 160-frame
  (1.6 s) partial utterances, batched over all partials and looping over time steps only, and averages the partial
  embeddings of a stretch as ``VoiceEncoder.embed_utterance`` does.

Differences from Resemblyzer's ``preprocess_wav`` + ``embed_utterance``: audio must already be 16 kHz mono (no
resampling), and webrtcvad's long-silence trimming is skipped (the diarizer runs its own VAD before windowing).
Volume normalisation (to -30 dBFS, increase only) is kept and applied to each window on its own.
"""

from __future__ import annotations

import collections
import importlib.util
import io
import math
import pickle
import pickletools
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ting_asr.diarization import SAMPLE_RATE, FloatArray

__all__ = [
    "EMBEDDING_DIM",
    "PARTIAL_FRAMES",
    "GE2EEncoder",
    "default_weights_path",
    "load_ge2e_weights",
    "mel_filterbank",
    "mel_spectrogram",
    "normalize_volume",
    "partial_starts",
    "power_spectrogram",
]

# resemblyzer/hparams.py
N_FFT: Final = SAMPLE_RATE * 25 // 1000  # 400 samples: 25 ms window, no zero padding of the frame
HOP_LENGTH: Final = SAMPLE_RATE * 10 // 1000  # 160 samples: 10 ms
N_MELS: Final = 40
PARTIAL_FRAMES: Final = 160  # 1.6 s of frames per partial utterance
HIDDEN_SIZE: Final = 256
NUM_LAYERS: Final = 3
EMBEDDING_DIM: Final = 256
TARGET_DBFS: Final = -30.0
# VoiceEncoder.embed_utterance defaults.
PARTIALS_RATE: Final = 1.3  # partial utterances per second
MIN_COVERAGE: Final = 0.75  # a trailing partial is kept when at least this much of it is real audio

_INT16_MAX: Final = 2**15 - 1
_LEGACY_MAGIC: Final = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL: Final = 1001
_MAX_MEMO: Final = 1 << 20  # memo slots a checkpoint pickle may use (pretrained.pt: 600)
# Partials per LSTM batch: bounds the (time, batch, 4 * hidden) float32 input projections to ~42 MB.
_BATCH: Final = 64

# ---------------------------------------------------------------------------------------------------------------
# Weights: torch checkpoints without torch
# ---------------------------------------------------------------------------------------------------------------

_STORAGE_DTYPES: Final[dict[str, str]] = {
    "FloatStorage": "<f4",
    "DoubleStorage": "<f8",
    "HalfStorage": "<f2",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}


@dataclass(frozen=True)
class _StorageType:
    """Stands in for ``torch.FloatStorage`` and friends: only its element type matters."""

    name: str
    dtype: np.dtype[Any]


@dataclass(frozen=True)
class _StorageRef:
    """A storage named by the pickle (``persistent_load``); its bytes come later (legacy) or from the zip."""

    key: str
    dtype: np.dtype[Any]
    numel: int
    # Legacy views of a bigger storage: (offset, numel) in elements of the root storage ``key``.
    view: tuple[int, int] | None = None


@dataclass(frozen=True)
class _TensorRef:
    """What ``torch._utils._rebuild_tensor_v2`` would build: a strided view of a storage."""

    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _int_tuple(value: object, what: str) -> tuple[int, ...]:
    if not isinstance(value, tuple) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ValueError(f"torch checkpoint: {what} must be a tuple of ints, got {value!r}")
    return value


def _rebuild_tensor(storage: object, offset: object, size: object, stride: object, *_rest: object) -> _TensorRef:
    """``torch._utils._rebuild_tensor(_v2)``: (storage, offset, size, stride[, requires_grad, hooks, metadata])."""
    if not isinstance(storage, _StorageRef):
        raise ValueError("torch checkpoint: a tensor is not backed by a storage")
    if not isinstance(offset, int) or offset < 0:
        raise ValueError(f"torch checkpoint: bad storage offset {offset!r}")
    return _TensorRef(storage, offset, _int_tuple(size, "tensor size"), _int_tuple(stride, "tensor stride"))


def _rebuild_parameter(data: object, *_rest: object) -> object:
    """``torch._utils._rebuild_parameter``: an ``nn.Parameter`` is its tensor here."""
    if not isinstance(data, _TensorRef):
        raise ValueError("torch checkpoint: a parameter does not hold a tensor")
    return data


_ALLOWED_GLOBALS: Final[dict[tuple[str, str], object]] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _StorageType(name, np.dtype(code)) for name, code in _STORAGE_DTYPES.items()},
}


class _CheckpointUnpickler(pickle.Unpickler):
    """Unpickles torch checkpoints into :class:`_TensorRef` placeholders; any other global is refused.

    ``storages`` collects the storages the pickle names, by key. With ``allow_globals=False`` (the legacy
    format's header pickles) no global at all is allowed.
    """

    def __init__(self, file: io.BytesIO, *, allow_globals: bool = True) -> None:
        super().__init__(file)
        self._allow_globals = allow_globals
        self.storages: dict[str, _StorageRef] = {}

    def find_class(self, module: str, name: str) -> Any:
        allowed = _ALLOWED_GLOBALS.get((module, name)) if self._allow_globals else None
        if allowed is None:
            raise pickle.UnpicklingError(f"torch checkpoint: global {module}.{name} is not allowed")
        return allowed

    def persistent_load(self, pid: Any) -> Any:
        # Legacy: ('storage', type, key, location, numel, view_metadata); zip: ('storage', type, key, location, numel).
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"torch checkpoint: unsupported persistent id {pid!r}")
        storage_type, key, _location, numel = pid[1:5]
        view_metadata = pid[5] if len(pid) == 6 else None
        if not isinstance(storage_type, _StorageType) or not isinstance(key, str):
            raise pickle.UnpicklingError(f"torch checkpoint: unsupported storage {pid!r}")
        if not isinstance(numel, int) or numel < 0:
            raise pickle.UnpicklingError(f"torch checkpoint: bad storage size {numel!r}")
        root = self.storages.setdefault(key, _StorageRef(key, storage_type.dtype, numel))
        if root.dtype != storage_type.dtype or root.numel != numel:
            raise pickle.UnpicklingError(f"torch checkpoint: storage {key} is named with two types or sizes")
        if view_metadata is None:
            return root
        view_key, view_offset, view_numel = view_metadata
        if not (isinstance(view_offset, int) and isinstance(view_numel, int)):
            raise pickle.UnpicklingError(f"torch checkpoint: bad storage view {view_metadata!r}")
        if view_offset < 0 or view_numel < 0 or view_offset + view_numel > numel:
            raise pickle.UnpicklingError(f"torch checkpoint: storage view {view_key} out of range")
        return _StorageRef(key, storage_type.dtype, numel, (view_offset, view_numel))


def _materialize(tensor: _TensorRef, buffers: dict[str, npt.NDArray[Any]]) -> npt.NDArray[Any]:
    """Copy a strided view out of its storage, checking that every element lies inside it."""
    ref = tensor.storage
    if not isinstance(ref, _StorageRef) or ref.key not in buffers:
        raise ValueError("torch checkpoint: a tensor names an unknown storage")
    buffer = buffers[ref.key]
    if ref.view is not None:
        buffer = buffer[ref.view[0] : ref.view[0] + ref.view[1]]
    if len(tensor.shape) != len(tensor.stride) or any(n < 0 for n in tensor.shape):
        raise ValueError(f"torch checkpoint: bad tensor geometry {tensor.shape} / {tensor.stride}")
    if any(s < 0 for s in tensor.stride):
        raise ValueError("torch checkpoint: negative strides are not supported")
    count = math.prod(tensor.shape)
    if count == 0:
        return np.zeros(tensor.shape, dtype=buffer.dtype)
    if count > buffer.shape[0]:  # also bounds the copy below: a crafted stride of 0 cannot ask for gigabytes
        raise ValueError(
            f"torch checkpoint: a tensor has more elements than storage {ref.key} (expanded views are not supported)"
        )
    last = tensor.offset + sum((n - 1) * s for n, s in zip(tensor.shape, tensor.stride, strict=True))
    if last >= buffer.shape[0]:
        raise ValueError(f"torch checkpoint: tensor reaches past the end of storage {ref.key}")
    view = np.lib.stride_tricks.as_strided(
        buffer[tensor.offset :],
        shape=tensor.shape,
        strides=tuple(s * buffer.itemsize for s in tensor.stride),
        writeable=False,
    )
    return np.array(view, dtype=buffer.dtype.newbyteorder("="), order="C")


def _state_dict(obj: object) -> dict[str, _TensorRef]:
    """The tensors of a checkpoint: ``model_state`` / ``state_dict`` of a training checkpoint, or the dict itself."""
    if isinstance(obj, dict):
        for key in ("model_state", "state_dict"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict):
        raise ValueError(f"torch checkpoint: expected a dict of tensors, got {type(obj).__name__}")
    tensors = {str(k): v for k, v in obj.items() if isinstance(v, _TensorRef)}
    if not tensors:
        raise ValueError("torch checkpoint: no tensors found")
    return tensors


def _unpickle(stream: io.BytesIO, where: str, *, allow_globals: bool = True) -> tuple[Any, dict[str, _StorageRef]]:
    """Unpickle the next pickle of ``stream`` and the storages it names; anything wrong is a :class:`ValueError`.

    The opcodes are walked first (:func:`pickletools.genops` runs nothing) to refuse memo indices that would make
    the C unpickler allocate gigabytes for a few crafted bytes.
    """
    start = stream.tell()
    try:
        for opcode, arg, _pos in pickletools.genops(stream):
            if opcode.name in ("PUT", "BINPUT", "LONG_BINPUT") and isinstance(arg, int) and arg > _MAX_MEMO:
                raise ValueError(f"memo index {arg} is out of range")
        stream.seek(start)
        unpickler = _CheckpointUnpickler(stream, allow_globals=allow_globals)
        return unpickler.load(), unpickler.storages
    except Exception as exc:  # untrusted bytes: pickle can fail in many ways (EOF, bad opcodes, refused globals)
        raise ValueError(f"not a torch checkpoint ({where}: {exc})") from exc


def _load_legacy(data: bytes) -> dict[str, npt.NDArray[Any]]:
    """torch's legacy format: magic, protocol, sys info, the object, its storage keys, then each storage's bytes."""
    stream = io.BytesIO(data)
    magic, _ = _unpickle(stream, "magic number", allow_globals=False)
    if magic != _LEGACY_MAGIC:
        raise ValueError("not a torch checkpoint (bad magic number)")
    protocol, _ = _unpickle(stream, "protocol version", allow_globals=False)
    if protocol != _LEGACY_PROTOCOL:
        raise ValueError(f"torch checkpoint: unsupported legacy protocol {protocol!r}")
    sys_info, _ = _unpickle(stream, "system info", allow_globals=False)
    if not isinstance(sys_info, dict) or sys_info.get("little_endian") is not True:
        raise ValueError("torch checkpoint: only little-endian checkpoints are supported")
    obj, storages = _unpickle(stream, "object")
    keys, _ = _unpickle(stream, "storage keys", allow_globals=False)
    if not isinstance(keys, list) or set(keys) != set(storages) or len(keys) != len(set(keys)):
        raise ValueError("torch checkpoint: the storage key list does not match the storages in the pickle")

    buffers: dict[str, npt.NDArray[Any]] = {}
    offset = stream.tell()
    for key in keys:
        ref = storages[key]
        if offset + 8 > len(data):
            raise ValueError(f"torch checkpoint: truncated before storage {key}")
        numel = int.from_bytes(data[offset : offset + 8], "little", signed=True)
        if numel != ref.numel:
            raise ValueError(f"torch checkpoint: storage {key} holds {numel} elements, the pickle says {ref.numel}")
        offset += 8
        nbytes = numel * ref.dtype.itemsize
        if offset + nbytes > len(data):
            raise ValueError(f"torch checkpoint: storage {key} is truncated")
        buffers[key] = np.frombuffer(data, dtype=ref.dtype, count=numel, offset=offset)
        offset += nbytes
    return {name: _materialize(t, buffers) for name, t in _state_dict(obj).items()}


def _load_zip(path: Path) -> dict[str, npt.NDArray[Any]]:
    """torch's zip format (``torch.save`` since 1.6): ``<archive>/data.pkl`` and raw ``<archive>/data/<key>``."""
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise ValueError(f"{path}: a zip file, but not a torch checkpoint (no single <archive>/data.pkl)")
        prefix = pickles[0][: -len("data.pkl")]
        names = set(archive.namelist())
        if f"{prefix}byteorder" in names and archive.read(f"{prefix}byteorder").strip() != b"little":
            raise ValueError("torch checkpoint: only little-endian checkpoints are supported")
        obj, storages = _unpickle(io.BytesIO(archive.read(pickles[0])), pickles[0])
        buffers: dict[str, npt.NDArray[Any]] = {}
        for key, ref in storages.items():
            member = f"{prefix}data/{key}"
            if member not in names:
                raise ValueError(f"torch checkpoint: storage {member} is missing")
            raw = archive.read(member)
            if len(raw) != ref.numel * ref.dtype.itemsize:
                raise ValueError(
                    f"torch checkpoint: storage {member} has {len(raw)} bytes, expected "
                    f"{ref.numel * ref.dtype.itemsize}"
                )
            buffers[key] = np.frombuffer(raw, dtype=ref.dtype)
    return {name: _materialize(t, buffers) for name, t in _state_dict(obj).items()}


def load_ge2e_weights(path: Path) -> dict[str, npt.NDArray[Any]]:
    """The tensors of a torch checkpoint as numpy arrays, by state-dict name, without importing torch.

    Reads both torch's legacy pickle format (Resemblyzer's ``pretrained.pt``) and the zip format; the tensors come
    from the checkpoint's ``model_state`` (or ``state_dict``) when it has one. Only a few globals are allowed in the
    pickles (``collections.OrderedDict``, ``torch._utils._rebuild_tensor(_v2)``, ``_rebuild_parameter`` and the
    ``torch.*Storage`` types), so a crafted file cannot run code. Raises :class:`ValueError` for anything else.
    """
    if zipfile.is_zipfile(path):
        return _load_zip(path)
    return _load_legacy(Path(path).read_bytes())


def default_weights_path() -> Path:
    """``pretrained.pt`` inside the installed ``resemblyzer`` package (found without importing it: it imports torch)."""
    spec = importlib.util.find_spec("resemblyzer")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / "pretrained.pt"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("GE2E weights not found: install resemblyzer==0.1.4 (with --no-deps) for pretrained.pt")


# ---------------------------------------------------------------------------------------------------------------
# Audio front end (librosa's, as Resemblyzer calls it)
# ---------------------------------------------------------------------------------------------------------------

_F_SP: Final = 200.0 / 3  # Slaney mel scale: linear below 1 kHz ...
_MIN_LOG_HZ: Final = 1000.0
_MIN_LOG_MEL: Final = _MIN_LOG_HZ / _F_SP
_LOG_STEP: Final = math.log(6.4) / 27.0  # ... logarithmic above


def _hz_to_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    mel = hz / _F_SP
    above = hz >= _MIN_LOG_HZ
    mel[above] = _MIN_LOG_MEL + np.log(hz[above] / _MIN_LOG_HZ) / _LOG_STEP
    return mel


def _mel_to_hz(mel: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    hz = _F_SP * mel
    above = mel >= _MIN_LOG_MEL
    hz[above] = _MIN_LOG_HZ * np.exp(_LOG_STEP * (mel[above] - _MIN_LOG_MEL))
    return hz


def mel_filterbank(
    sample_rate: int = SAMPLE_RATE,
    n_fft: int = N_FFT,
    n_mels: int = N_MELS,
    fmin: float = 0.0,
    fmax: float | None = None,
) -> FloatArray:
    """``librosa.filters.mel`` with its defaults (Slaney mel scale, ``htk=False``, ``norm='slaney'``):
    triangular filters, shape ``(n_mels, 1 + n_fft // 2)``, float32."""
    fmax = sample_rate / 2 if fmax is None else fmax
    fft_freqs = np.fft.rfftfreq(n_fft, d=1.0 / sample_rate)
    mel_low, mel_high = _hz_to_mel(np.array([fmin, fmax], dtype=np.float64))
    mel_edges = np.linspace(float(mel_low), float(mel_high), n_mels + 2)
    hz_edges = _mel_to_hz(mel_edges)
    widths = np.diff(hz_edges)
    ramps = np.subtract.outer(hz_edges, fft_freqs)
    weights = np.zeros((n_mels, fft_freqs.shape[0]), dtype=np.float32)
    for i in range(n_mels):
        lower = -ramps[i] / widths[i]
        upper = ramps[i + 2] / widths[i + 1]
        weights[i] = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (hz_edges[2 : n_mels + 2] - hz_edges[:n_mels]))[:, np.newaxis]  # Slaney area norm
    return weights


def _hann(n: int) -> npt.NDArray[np.float64]:
    """Periodic Hann window, computed as ``scipy.signal.get_window('hann', n, fftbins=True)`` does."""
    phase = np.linspace(-np.pi, np.pi, n + 1)
    window: npt.NDArray[np.float64] = (0.5 + 0.5 * np.cos(phase))[:n]
    return window


_WINDOW: Final = _hann(N_FFT)
_MEL_BASIS_T: Final = np.ascontiguousarray(mel_filterbank().T)  # (1 + N_FFT // 2, N_MELS)


def power_spectrogram(wav: npt.ArrayLike, n_fft: int = N_FFT, hop_length: int = HOP_LENGTH) -> FloatArray:
    """``np.abs(librosa.stft(wav, n_fft=n_fft, hop_length=hop_length)) ** 2`` transposed to ``(frames, bins)``.

    Hann window of ``n_fft`` samples, ``center=True`` with librosa's (>= 0.10) default ``pad_mode='constant'``: the
    signal is padded with ``n_fft // 2`` zeros at both ends, so there are ``1 + len(wav) // hop_length`` frames.
    (librosa < 0.10 padded by reflection; the two differ only in the first and last two frames.)
    """
    signal = np.asarray(wav, dtype=np.float32)
    padded = np.pad(signal, n_fft // 2)
    n_frames = 1 + (padded.shape[0] - n_fft) // hop_length
    frames = np.lib.stride_tricks.as_strided(
        padded, shape=(n_frames, n_fft), strides=(hop_length * padded.itemsize, padded.itemsize), writeable=False
    )
    window = _WINDOW if n_fft == N_FFT else _hann(n_fft)
    spectrum = np.fft.rfft(frames * window, axis=1)  # float64, as librosa multiplies by its float64 window
    power: FloatArray = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    return power


def mel_spectrogram(wav: npt.ArrayLike) -> FloatArray:
    """``resemblyzer.audio.wav_to_mel_spectrogram``: 40-band mel power (not log) spectrogram of 16 kHz audio,
    shape ``(frames, 40)``, float32, one frame per 10 ms (``1 + len(wav) // 160`` frames)."""
    mel: FloatArray = power_spectrogram(wav) @ _MEL_BASIS_T
    return mel


def normalize_volume(wav: npt.ArrayLike, target_dbfs: float = TARGET_DBFS) -> FloatArray:
    """``resemblyzer.audio.normalize_volume(wav, -30, increase_only=True)``: raise quiet audio to ``target_dbfs``
    (RMS relative to int16 full scale); louder audio, and all-zero audio, are returned unchanged."""
    signal = np.asarray(wav, dtype=np.float32)
    if signal.size == 0:
        return signal
    rms = float(np.sqrt(np.mean(np.square(signal * np.float32(_INT16_MAX)))))
    if rms <= 0.0:
        return signal
    change_db = target_dbfs - 20.0 * math.log10(rms / _INT16_MAX)
    if change_db < 0:
        return signal
    louder: FloatArray = signal * np.float32(10.0 ** (change_db / 20.0))
    return louder


def partial_starts(n_samples: int, rate: float = PARTIALS_RATE, min_coverage: float = MIN_COVERAGE) -> list[int]:
    """First mel frame of each 160-frame partial utterance of ``n_samples`` of audio, as
    ``VoiceEncoder.compute_partial_slices``: one partial every ``1 / rate`` s; a trailing partial is kept only when at
    least ``min_coverage`` of it is audio; at least one partial always (zero-padded when the audio is shorter)."""
    if not 0 < min_coverage <= 1:
        raise ValueError(f"min_coverage must be in (0, 1], got {min_coverage}")
    n_frames = math.ceil((n_samples + 1) / HOP_LENGTH)
    frame_step = round((SAMPLE_RATE / rate) / HOP_LENGTH)
    if not 0 < frame_step <= PARTIAL_FRAMES:
        raise ValueError(f"rate {rate} is out of range: partials must overlap or touch and be at least 1 frame apart")
    starts = list(range(0, max(1, n_frames - PARTIAL_FRAMES + frame_step + 1), frame_step))
    coverage = (n_samples - starts[-1] * HOP_LENGTH) / (PARTIAL_FRAMES * HOP_LENGTH)
    if coverage < min_coverage and len(starts) > 1:
        starts.pop()
    return starts


def _partial_mels(wav: FloatArray, rate: float, min_coverage: float) -> npt.NDArray[np.float32]:
    """The ``(partials, 160, 40)`` mel inputs of one stretch of (volume-normalised) audio."""
    starts = partial_starts(wav.shape[0], rate, min_coverage)
    needed = (starts[-1] + PARTIAL_FRAMES) * HOP_LENGTH
    if needed >= wav.shape[0]:  # as embed_utterance: pad with zeros up to the end of the last partial
        wav = np.pad(wav, (0, needed - wav.shape[0]))
    mel = mel_spectrogram(wav)
    index = np.asarray(starts)[:, np.newaxis] + np.arange(PARTIAL_FRAMES)
    return mel[index]


# ---------------------------------------------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------------------------------------------


def _sigmoid_(x: npt.NDArray[np.float32]) -> None:
    """In-place logistic function, as ``0.5 * tanh(x / 2) + 0.5`` (one transcendental, no overflow)."""
    x *= 0.5
    np.tanh(x, out=x)
    x *= 0.5
    x += 0.5


@dataclass(frozen=True)
class _LstmLayer:
    w_ih_t: npt.NDArray[np.float32]  # (inputs, 4 * hidden), gates reordered to i, f, o, g
    w_hh_t: npt.NDArray[np.float32]  # (hidden, 4 * hidden)
    bias: npt.NDArray[np.float32]  # (4 * hidden,) = b_ih + b_hh


def _lstm_layer(weights: dict[str, npt.NDArray[Any]], layer: int, inputs: int) -> _LstmLayer:
    h = HIDDEN_SIZE
    expected = {
        f"lstm.weight_ih_l{layer}": (4 * h, inputs),
        f"lstm.weight_hh_l{layer}": (4 * h, h),
        f"lstm.bias_ih_l{layer}": (4 * h,),
        f"lstm.bias_hh_l{layer}": (4 * h,),
    }
    for name, shape in expected.items():
        if name not in weights:
            raise ValueError(f"GE2E weights: {name} is missing")
        if weights[name].shape != shape:
            raise ValueError(f"GE2E weights: {name} has shape {weights[name].shape}, expected {shape}")
    # torch orders the gates i, f, g, o; i, f, o first lets one sigmoid cover a contiguous 3 * hidden block.
    order = np.concatenate([np.arange(0, 2 * h), np.arange(3 * h, 4 * h), np.arange(2 * h, 3 * h)])

    def f32(name: str) -> npt.NDArray[np.float32]:
        reordered: npt.NDArray[np.float32] = np.asarray(weights[name], dtype=np.float32)[order]
        return reordered

    bias = f32(f"lstm.bias_ih_l{layer}") + f32(f"lstm.bias_hh_l{layer}")
    return _LstmLayer(
        w_ih_t=np.ascontiguousarray(f32(f"lstm.weight_ih_l{layer}").T),
        w_hh_t=np.ascontiguousarray(f32(f"lstm.weight_hh_l{layer}").T),
        bias=bias,
    )


def _l2_normalize(x: npt.NDArray[np.float32]) -> FloatArray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    normalized: FloatArray = (x / np.maximum(norms, np.float32(1e-12))).astype(np.float32)
    return normalized


class GE2EEncoder:
    """:class:`~ting_asr.diarization.SpeakerEncoder` on Resemblyzer's GE2E weights, in numpy (float32).

    ``weights_path`` defaults to ``pretrained.pt`` of the installed ``resemblyzer`` package. Thread-safe: the
    weights are read-only after loading. numpy's BLAS threads do the matrix products.
    """

    dim: int = EMBEDDING_DIM
    sample_rate: int = SAMPLE_RATE

    def __init__(self, weights_path: Path | None = None) -> None:
        path = default_weights_path() if weights_path is None else Path(weights_path)
        weights = load_ge2e_weights(path)
        self.weights_path = path
        self._layers = tuple(
            _lstm_layer(weights, layer, N_MELS if layer == 0 else HIDDEN_SIZE) for layer in range(NUM_LAYERS)
        )
        for name, shape in (("linear.weight", (EMBEDDING_DIM, HIDDEN_SIZE)), ("linear.bias", (EMBEDDING_DIM,))):
            if name not in weights or weights[name].shape != shape:
                raise ValueError(f"GE2E weights: {name} is missing or not of shape {shape}")
        self._linear_t = np.ascontiguousarray(np.asarray(weights["linear.weight"], dtype=np.float32).T)
        self._linear_b = np.asarray(weights["linear.bias"], dtype=np.float32)

    def embed_partials(self, mels: npt.ArrayLike) -> FloatArray:
        """``VoiceEncoder.forward``: L2-normalised embeddings ``(batch, 256)`` of mel inputs ``(batch, frames, 40)``
        (any number of frames; Resemblyzer uses 160)."""
        batch = np.asarray(mels, dtype=np.float32)
        if batch.ndim != 3 or batch.shape[2] != N_MELS or batch.shape[1] == 0:
            raise ValueError(f"mels must have shape (batch, frames>0, {N_MELS}), got {batch.shape}")
        out = np.empty((batch.shape[0], EMBEDDING_DIM), dtype=np.float32)
        for start in range(0, batch.shape[0], _BATCH):
            hidden = self._lstm(batch[start : start + _BATCH])
            out[start : start + _BATCH] = np.maximum(hidden @ self._linear_t + self._linear_b, 0.0)
        return _l2_normalize(out)

    def _lstm(self, mels: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Final hidden state of the last layer; batch-vectorised, one step of Python per frame and layer."""
        n_batch, n_steps, _ = mels.shape
        h_size = HIDDEN_SIZE
        x = np.ascontiguousarray(mels.transpose(1, 0, 2))  # time-major: (steps, batch, features)
        h = np.zeros((n_batch, h_size), dtype=np.float32)
        for index, layer in enumerate(self._layers):
            last = index == len(self._layers) - 1
            # Input projections of every step in one matrix product: (steps, batch, 4 * hidden).
            projected = (x.reshape(n_steps * n_batch, -1) @ layer.w_ih_t).reshape(n_steps, n_batch, 4 * h_size)
            projected += layer.bias
            outputs = None if last else np.empty((n_steps, n_batch, h_size), dtype=np.float32)
            h = np.zeros((n_batch, h_size), dtype=np.float32)
            c = np.zeros((n_batch, h_size), dtype=np.float32)
            gates = np.empty((n_batch, 4 * h_size), dtype=np.float32)
            scratch = np.empty((n_batch, h_size), dtype=np.float32)
            for t in range(n_steps):
                np.matmul(h, layer.w_hh_t, out=gates)
                gates += projected[t]
                _sigmoid_(gates[:, : 3 * h_size])
                np.tanh(gates[:, 3 * h_size :], out=gates[:, 3 * h_size :])
                c *= gates[:, h_size : 2 * h_size]  # forget
                np.multiply(gates[:, :h_size], gates[:, 3 * h_size :], out=scratch)  # input * candidate
                c += scratch
                np.tanh(c, out=scratch)
                np.multiply(gates[:, 2 * h_size : 3 * h_size], scratch, out=h)  # output * tanh(cell)
                if outputs is not None:
                    outputs[t] = h
            if outputs is not None:
                x = outputs
        return h

    def embed(self, audio: FloatArray, windows: Sequence[tuple[int, int]]) -> FloatArray:
        """One L2-normalised embedding per ``[start, end)`` window of 16 kHz mono ``audio``: ``(n, 256)`` float32.

        Each window is handled as ``embed_utterance`` handles its audio: volume-normalised on its own, cut into
        1.6 s partials at 1.3 per second, and the partials' embeddings averaged. A window shorter than 1.6 s is one
        partial padded with zeros (an empty window: all zeros). All partials of all windows run as one batch.
        """
        return self._embed(np.asarray(audio, dtype=np.float32), windows, PARTIALS_RATE, MIN_COVERAGE)

    def embed_utterance(
        self, audio: FloatArray, rate: float = PARTIALS_RATE, min_coverage: float = MIN_COVERAGE
    ) -> FloatArray:
        """``VoiceEncoder.embed_utterance(preprocess_wav(audio))`` for 16 kHz mono ``audio``, without webrtcvad's
        silence trimming: the L2-normalised mean of the partial embeddings, shape ``(256,)``."""
        signal = np.asarray(audio, dtype=np.float32)
        if signal.ndim != 1:
            raise ValueError(f"audio must be mono (1-D), got shape {signal.shape}")
        embedding: FloatArray = self._embed(signal, [(0, signal.shape[0])], rate, min_coverage)[0]
        return embedding

    def _embed(
        self, audio: FloatArray, windows: Sequence[tuple[int, int]], rate: float, min_coverage: float
    ) -> FloatArray:
        if audio.ndim != 1:
            raise ValueError(f"audio must be mono (1-D), got shape {audio.shape}")
        for start, end in windows:
            if not 0 <= start <= end <= audio.shape[0]:
                raise ValueError(f"window [{start}, {end}) is outside the audio (0..{audio.shape[0]} samples)")
        sums = np.zeros((len(windows), EMBEDDING_DIM), dtype=np.float32)
        counts = np.zeros(len(windows), dtype=np.float32)
        pending: list[npt.NDArray[np.float32]] = []
        owners: list[int] = []

        def run_pending() -> None:
            # Mean of each window's partials, as Resemblyzer (the norm of the mean is taken after).
            np.add.at(sums, owners, self.embed_partials(np.concatenate(pending)))
            pending.clear()
            owners.clear()

        # Mel inputs are made and run a batch at a time, so memory stays bounded for hours of windows.
        for index, (start, end) in enumerate(windows):
            mels = _partial_mels(normalize_volume(audio[start:end]), rate, min_coverage)
            pending.append(mels)
            owners.extend([index] * mels.shape[0])
            counts[index] = mels.shape[0]
            if len(owners) >= _BATCH:
                run_pending()
        if owners:
            run_pending()
        means: npt.NDArray[np.float32] = (sums / np.maximum(counts, 1.0)[:, np.newaxis]).astype(np.float32)
        return _l2_normalize(means)
