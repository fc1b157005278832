"""The numpy GE2E speaker encoder on Resemblyzer's packaged weights, without torch.

``tests/fixtures/ge2e_reference.npz`` was made with the real ``resemblyzer.VoiceEncoder`` (torch 2.13.0 CPU,
librosa 0.11.0, in a throwaway venv outside the workspace): two espeak-ng clips resampled to 16 kHz with sox —
``audio_a`` (en+m3, 2.4 s: two partials) and ``audio_b`` (en+f2 at 0.05 of its level, 1.6 s: volume normalisation
raises it) — with Resemblyzer's ``normalize_volume`` → ``wav_to_mel_spectrogram`` / ``embed_utterance`` outputs
(``mel_b``, ``embedding``, ``partial_embeddings_a``) and ``window_embedding``: ``embed_utterance`` of each clip's
``window`` (1 s, one zero-padded partial) normalised on its own. Its ``source`` entry says the same.
"""

from __future__ import annotations

import io
import pickle
import pickletools
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ting_asr.diarization import SpeakerEncoder
from ting_asr.diarization.encoder import (
    EMBEDDING_DIM,
    PARTIAL_FRAMES,
    GE2EEncoder,
    default_weights_path,
    load_ge2e_weights,
    mel_filterbank,
    mel_spectrogram,
    normalize_volume,
    partial_starts,
)
from ting_common.audio import decode_audio

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "ge2e_reference.npz"

EXPECTED_SHAPES = {
    "similarity_weight": (1,),
    "similarity_bias": (1,),
    **{
        name: shape
        for layer in range(3)
        for name, shape in (
            (f"lstm.weight_ih_l{layer}", (1024, 40 if layer == 0 else 256)),
            (f"lstm.weight_hh_l{layer}", (1024, 256)),
            (f"lstm.bias_ih_l{layer}", (1024,)),
            (f"lstm.bias_hh_l{layer}", (1024,)),
        )
    },
    "linear.weight": (256, 256),
    "linear.bias": (256,),
}


@pytest.fixture(scope="module")
def encoder() -> GE2EEncoder:
    return GE2EEncoder()


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(FIXTURE) as data:
        return {key: data[key] for key in data.files}


def pcm_to_float(pcm: np.ndarray) -> np.ndarray:
    """int16 → float32 as ``librosa.load`` reads a 16-bit WAV."""
    return (pcm.astype(np.float32) / 32768.0).astype(np.float32)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


# --- weights ------------------------------------------------------------------------------------------------------


def test_packaged_weights_load_with_every_tensor_shape() -> None:
    weights = load_ge2e_weights(default_weights_path())
    assert {name: array.shape for name, array in weights.items()} == EXPECTED_SHAPES
    for name, array in weights.items():
        assert array.dtype == np.float32, name
        assert array.flags.c_contiguous and array.flags.writeable, name
        assert np.isfinite(array).all(), name
    # The LSTM tensors are views into one flat (cuDNN) storage: the offsets must land on distinct data.
    assert not np.array_equal(weights["lstm.weight_hh_l1"], weights["lstm.weight_hh_l2"])


def split_legacy(path: Path) -> tuple[bytes, list[str], dict[str, bytes]]:
    """The object pickle, storage keys and storage bytes of a legacy torch file (all float32 storages)."""
    data = path.read_bytes()
    stream = io.BytesIO(data)
    # The packaged file itself: its header and key-list pickles hold plain values only.
    for _ in range(3):  # magic number, protocol version, sys info
        pickle.load(stream)  # noqa: S301
    start = stream.tell()
    for _ in pickletools.genops(stream):  # walk the object pickle without loading it
        pass
    object_pickle = data[start : stream.tell()]
    keys = pickle.load(stream)  # noqa: S301
    storages: dict[str, bytes] = {}
    offset = stream.tell()
    for key in keys:
        numel = int.from_bytes(data[offset : offset + 8], "little")
        storages[key] = data[offset + 8 : offset + 8 + 4 * numel]
        offset += 8 + 4 * numel
    assert offset == len(data)
    return object_pickle, keys, storages


def test_zip_format_checkpoint_loads_the_same_tensors(tmp_path: Path) -> None:
    legacy = default_weights_path()
    object_pickle, _keys, storages = split_legacy(legacy)
    converted = tmp_path / "pretrained_zip.pt"
    with zipfile.ZipFile(converted, "w") as archive:
        archive.writestr("pretrained/data.pkl", object_pickle)
        archive.writestr("pretrained/byteorder", "little")
        for key, raw in storages.items():
            archive.writestr(f"pretrained/data/{key}", raw)
    expected = load_ge2e_weights(legacy)
    loaded = load_ge2e_weights(converted)
    assert loaded.keys() == expected.keys()
    for name, array in expected.items():
        np.testing.assert_array_equal(loaded[name], array)


def legacy_file(path: Path, object_pickle: bytes, *, magic: bytes | None = None) -> Path:
    header = magic if magic is not None else pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
    header += pickle.dumps(1001, protocol=2)
    header += pickle.dumps({"protocol_version": 1001, "little_endian": True}, protocol=2)
    path.write_bytes(header + object_pickle + pickle.dumps([], protocol=2))
    return path


def malicious_pickle(marker: Path) -> bytes:
    """``os.system('touch <marker>')`` when unpickled by a plain unpickler."""
    return b"cos\nsystem\n(V" + f"touch {marker}".encode() + b"\ntR."


def test_plain_pickle_would_run_the_crafted_payload(tmp_path: Path) -> None:
    """The payload below is live: a plain unpickler runs it (so the refusal tests check something real)."""
    marker = tmp_path / "ran"
    pickle.loads(malicious_pickle(marker))  # noqa: S301 - demonstrating the attack on purpose
    assert marker.exists()


def test_restricted_unpickler_refuses_other_globals(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = malicious_pickle(marker)
    attempts = {
        "object": legacy_file(tmp_path / "object.pt", payload),
        "magic": legacy_file(tmp_path / "magic.pt", b"", magic=payload),
        "zip": tmp_path / "evil_zip.pt",
    }
    with zipfile.ZipFile(attempts["zip"], "w") as archive:
        archive.writestr("evil/data.pkl", payload)
    for where, path in attempts.items():
        with pytest.raises(ValueError, match=r"os\.system is not allowed"):
            load_ge2e_weights(path)
        assert not marker.exists(), where


def test_allowed_names_cannot_smuggle_builtins(tmp_path: Path) -> None:
    # A torch-looking module with a name outside the allow-list, and eval via builtins.
    for module, name in (("torch", "load"), ("torch._utils", "_rebuild_from_type_v2"), ("builtins", "eval")):
        payload = f"c{module}\n{name}\n(V1\ntR.".encode()
        with pytest.raises(ValueError, match="is not allowed"):
            load_ge2e_weights(legacy_file(tmp_path / "x.pt", payload))


def test_huge_memo_index_is_refused_before_unpickling(tmp_path: Path) -> None:
    # LONG_BINPUT 0xFFFFFFF0 would make the C unpickler size its memo for four billion entries.
    payload = b"\x80\x02K\x01r\xf0\xff\xff\xff."
    with pytest.raises(ValueError, match="memo index"):
        load_ge2e_weights(legacy_file(tmp_path / "memo.pt", payload))


def test_corrupted_checkpoints_raise_value_error_only(tmp_path: Path) -> None:
    """Random byte flips in the pickled part of the real file: every outcome is a load or a ValueError."""
    original = default_weights_path().read_bytes()
    rng = np.random.default_rng(7)
    path = tmp_path / "corrupt.pt"
    outcomes = {"loaded": 0, "refused": 0}
    for _ in range(80):
        corrupt = bytearray(original)
        for position in rng.integers(0, 6700, size=rng.integers(1, 4)):  # headers + object pickle + keys
            corrupt[int(position)] = int(rng.integers(0, 256))
        path.write_bytes(bytes(corrupt))
        try:
            load_ge2e_weights(path)
            outcomes["loaded"] += 1
        except ValueError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a torch checkpoint"),
        (b"PK\x03\x04 not really a zip", "not a torch checkpoint"),
        (b"just some text", "not a torch checkpoint"),
        (pickle.dumps(12345, protocol=2), "bad magic number"),
    ],
)
def test_other_files_are_a_clear_value_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "weights.pt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        load_ge2e_weights(path)


def test_truncated_and_foreign_zip_files_are_refused(tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(default_weights_path().read_bytes()[:-1000])
    with pytest.raises(ValueError, match="truncated"):
        load_ge2e_weights(truncated)
    foreign = tmp_path / "foreign.pt"
    with zipfile.ZipFile(foreign, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match="not a torch checkpoint"):
        load_ge2e_weights(foreign)


# --- front end ----------------------------------------------------------------------------------------------------


def test_mel_filterbank_is_slaney_normalised() -> None:
    basis = mel_filterbank()
    assert basis.shape == (40, 201) and basis.dtype == np.float32
    assert (basis >= 0).all() and (basis.sum(axis=1) > 0).all()
    # Slaney area normalisation: each triangle's area in Hz (height x base / 2) is 1.
    hz_per_bin = 16000 / 400
    areas = basis.sum(axis=1) * hz_per_bin
    np.testing.assert_allclose(areas, 1.0, rtol=0.1)


def test_mel_spectrogram_matches_librosa_reference(reference: dict[str, np.ndarray]) -> None:
    wav = normalize_volume(pcm_to_float(reference["audio_b"]))
    mel = mel_spectrogram(wav)
    expected = reference["mel_b"]
    assert mel.shape == expected.shape == (1 + wav.shape[0] // 160, 40)
    assert np.abs(mel - expected).max() <= 1e-5 * expected.max()


def test_normalize_volume_raises_quiet_audio_only() -> None:
    t = np.arange(16000, dtype=np.float32) / 16000
    quiet = (0.001 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    loud = (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    raised = normalize_volume(quiet)
    rms_dbfs = 20 * np.log10(np.sqrt(np.mean((raised * 32767.0) ** 2)) / 32767.0)
    assert rms_dbfs == pytest.approx(-30.0, abs=1e-3)
    np.testing.assert_array_equal(normalize_volume(loud), loud)
    np.testing.assert_array_equal(normalize_volume(np.zeros(100, np.float32)), np.zeros(100, np.float32))


@pytest.mark.parametrize(
    ("n_samples", "starts"),
    # What VoiceEncoder.compute_partial_slices(n, rate=1.3, min_coverage=0.75) returns (a partial every 77 frames).
    [
        (0, [0]),
        (1, [0]),
        (24000, [0]),
        (25600, [0]),
        (38400, [0, 77]),
        (41000, [0, 77]),
        (45000, [0, 77, 154]),
        (160000, list(range(0, 848, 77))),
    ],
)
def test_partial_starts_follow_resemblyzer(n_samples: int, starts: list[int]) -> None:
    assert partial_starts(n_samples) == starts


# --- embeddings ---------------------------------------------------------------------------------------------------


def test_encoder_satisfies_the_protocol(encoder: GE2EEncoder) -> None:
    speaker_encoder: SpeakerEncoder = encoder
    assert (speaker_encoder.dim, speaker_encoder.sample_rate) == (EMBEDDING_DIM, 16000) == (256, 16000)


def test_embeddings_match_torch_reference(encoder: GE2EEncoder, reference: dict[str, np.ndarray]) -> None:
    for index, name in enumerate(("audio_a", "audio_b")):
        embedding = encoder.embed_utterance(pcm_to_float(reference[name]))
        assert embedding.shape == (256,) and embedding.dtype == np.float32
        assert cosine(embedding, reference["embedding"][index]) > 0.999
        assert np.abs(embedding - reference["embedding"][index]).max() < 1e-4


def test_partial_embeddings_match_torch_reference(encoder: GE2EEncoder, reference: dict[str, np.ndarray]) -> None:
    wav = normalize_volume(pcm_to_float(reference["audio_a"]))
    starts = partial_starts(wav.shape[0])
    padded = np.pad(wav, (0, max(0, (starts[-1] + PARTIAL_FRAMES) * 160 - wav.shape[0])))
    mel = mel_spectrogram(padded)
    partials = encoder.embed_partials(np.stack([mel[s : s + PARTIAL_FRAMES] for s in starts]))
    expected = reference["partial_embeddings_a"]
    assert partials.shape == expected.shape == (2, 256)
    for got, want in zip(partials, expected, strict=True):
        assert cosine(got, want) > 0.999


def test_window_embeddings_match_torch_reference(encoder: GE2EEncoder, reference: dict[str, np.ndarray]) -> None:
    start, end = (int(v) for v in reference["window"])
    for index, name in enumerate(("audio_a", "audio_b")):
        (embedding,) = encoder.embed(pcm_to_float(reference[name]), [(start, end)])
        assert cosine(embedding, reference["window_embedding"][index]) > 0.999


def test_batch_equals_one_by_one(encoder: GE2EEncoder, reference: dict[str, np.ndarray]) -> None:
    audio = np.concatenate([pcm_to_float(reference["audio_a"]), pcm_to_float(reference["audio_b"])])
    # Short (one padded partial), empty, long (several partials), and enough windows to span batches.
    windows = [(0, 8000), (100, 100), (0, audio.shape[0]), (30000, 60000)]
    windows += [(s, s + 24000) for s in range(0, audio.shape[0] - 24000, 600)]
    together = encoder.embed(audio, windows)
    assert together.shape == (len(windows), 256) and together.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert (together >= 0).all()  # ReLU before normalisation
    alone = np.stack([encoder.embed(audio, [window])[0] for window in windows[:6]])
    np.testing.assert_allclose(together[:6], alone, atol=1e-5)
    np.testing.assert_allclose(together[2], encoder.embed_utterance(audio), atol=1e-5)


def test_no_windows_and_bad_windows(encoder: GE2EEncoder) -> None:
    audio = np.zeros(16000, dtype=np.float32)
    assert encoder.embed(audio, []).shape == (0, 256)
    for window in ((-1, 100), (0, 16001), (200, 100)):
        with pytest.raises(ValueError, match="outside the audio"):
            encoder.embed(audio, [window])
    with pytest.raises(ValueError, match="mono"):
        encoder.embed(np.zeros((2, 100), dtype=np.float32), [(0, 50)])


def espeak(voice: str, text: str) -> np.ndarray:
    wav = subprocess.run(["espeak-ng", "-v", voice, "--stdout", text], check=True, capture_output=True).stdout
    return decode_audio(wav, target_sample_rate=16000).samples


def test_same_voice_is_closer_than_another_voice(encoder: GE2EEncoder, ci: bool) -> None:
    if shutil.which("espeak-ng") is None:
        if ci:
            pytest.fail("espeak-ng missing in CI (apt-get install espeak-ng)")
        pytest.skip("espeak-ng is not installed")
    texts = (
        "The quick brown fox jumps over the lazy dog near the river bank.",
        "Please call Stella and ask her to bring these things with her from the store.",
    )
    voices = ("en+m3", "en+f2")
    embeddings = {(v, t): encoder.embed_utterance(espeak(v, text)) for v in voices for t, text in enumerate(texts)}
    same = [cosine(embeddings[v, 0], embeddings[v, 1]) for v in voices]
    different = [cosine(embeddings[voices[0], a], embeddings[voices[1], b]) for a in range(2) for b in range(2)]
    assert min(same) > max(different) + 0.05, (same, different)
