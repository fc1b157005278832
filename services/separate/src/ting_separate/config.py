"""Settings of the separation service (``TING_SEPARATE_*`` environment variables)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, cast

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from ting_common.settings import ServiceSettings
from ting_separate.engines import ALL_STEMS, StemName


class SeparateSettings(ServiceSettings):
    """Everything the separation service reads from its environment. Every field is ``TING_SEPARATE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="TING_SEPARATE_", env_nested_delimiter="__", extra="ignore")

    port: int = Field(50054, ge=0, le=65535, description="gRPC port (`TING_SEPARATE_PORT`); 0 picks a free one.")
    default_engine: Literal["auto", "learned", "dsp", "onnx"] = Field(
        "auto",
        description="Engine used when a request names none. `auto`: `learned` when its weights are there (`make "
        "setup` trains them), else `dsp`. `learned` and `dsp` are embedded and need no download; `onnx` needs "
        "`TING_SEPARATE_ONNX_MODEL_PATH`.",
    )
    learned: bool = Field(
        True, description="Serve the `learned` engine when its weights are there (`false` leaves it out)."
    )
    learned_model_path: Path | None = Field(
        None,
        description="Weights of the `learned` engine (`python -m ting_separate.learned.train` writes them); unset: "
        "`<venv>/models/separate/mask_mlp.npz`, and the engine is left out when that file is missing. A set path "
        "that is missing or unreadable stops the service at start.",
    )
    learned_conv_model_path: Path | None = Field(
        None,
        description="The `learned` engine's optional U-Net mask (`python -m ting_separate.learned.train_conv` writes "
        "it; `make separator-unet`), averaged with the MLP's mask when present; unset: "
        "`<venv>/models/separate/mask_unet.onnx` when that file is there. A set path that is missing or unreadable "
        "stops the service at start.",
    )
    learned_conv_share: float = Field(
        0.5, ge=0.0, le=1.0, description="Weight of the U-Net's mask next to the MLP's (1 - this) when both are there."
    )
    concurrency: int = Field(1, ge=1, le=64, description="Separations that run at the same time (worker threads).")
    max_queue: int = Field(
        8, ge=0, le=10_000, description="Calls allowed to wait for a worker; beyond that RESOURCE_EXHAUSTED."
    )
    max_audio_mb: float = Field(200.0, gt=0, description="Largest accepted audio payload in MiB.")
    max_audio_duration_s: float = Field(
        1800.0,
        gt=0,
        description="Longest accepted audio in seconds (memory does not grow with it: audio is decoded, "
        "separated and encoded chunk by chunk).",
    )
    max_inline_output_mb: float = Field(
        64.0,
        gt=0,
        description="Largest inline output (all stems together, estimated before separating), MiB; longer audio "
        "needs an `output.uri_prefix`.",
    )
    storage_root: Path | None = Field(
        None,
        description="Directory that `file://` URIs (input audio and `output.uri_prefix`) may point into; unset "
        "disables file URIs.",
    )
    s3_buckets: str = Field(
        "",
        description="Comma-separated buckets that `s3://bucket/prefix/` output may write to; empty disables S3 "
        "output. Credentials come from the standard AWS chain (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, "
        "profiles, instance roles).",
    )
    s3_endpoint_url: str | None = Field(
        None,
        description="`http(s)://host:port` of an S3-compatible store (SeaweedFS, MinIO, Ceph RGW); unset: AWS "
        "(or `AWS_ENDPOINT_URL_S3`).",
    )
    s3_region: str | None = Field(None, description="Signing region; unset reads `AWS_REGION`, then `us-east-1`.")
    s3_addressing_style: Literal["auto", "path", "virtual"] = Field(
        "auto", description="`path` (what most self-hosted stores want), `virtual` or `auto` (boto3 decides)."
    )
    spool_dir: Path | None = Field(
        None,
        description="Directory for stems being encoded before their S3 upload (anonymous temporary files); "
        "unset: the system temporary directory.",
    )

    # -- model runners: the engines served out of process (NVIDIA Triton, BentoML) instead of in this one --
    runner: Literal["in-process", "triton", "bento"] = Field(
        "in-process",
        description="Where the engines run (`TING_SEPARATE_RUNNER`): `in-process` (this server), `triton` (the "
        "`separator` model of an NVIDIA Triton server, KServe v2 gRPC) or `bento` (the BentoML `SeparatorRunner` "
        "service, HTTP). A runner hosts the same engines (its own `TING_SEPARATE_ONNX_*`); this server keeps the "
        "chunking, so the stems are the same.",
    )
    triton_url: str = Field(
        "127.0.0.1:8001", description="`host:port` of Triton's gRPC endpoint (`TING_SEPARATE_TRITON_URL`)."
    )
    triton_model: str = Field("separator", description="Triton model name (`TING_SEPARATE_TRITON_MODEL`).")
    triton_model_version: str = Field(
        "", description="Triton model version; empty: the server's version policy decides."
    )
    bento_url: str = Field(
        "http://127.0.0.1:3000", description="Base URL of the BentoML separator runner (`TING_SEPARATE_BENTO_URL`)."
    )
    runner_timeout_s: float = Field(
        600.0, gt=0, description="Longest wait for one runner request (one batch of chunks), seconds."
    )
    runner_retries: int = Field(
        3,
        ge=0,
        le=20,
        description="Retries (exponential backoff with jitter) when the runner is unreachable; then UNAVAILABLE.",
    )

    # -- the `onnx` engine: a neural separator exported to ONNX, run in process with onnxruntime --
    onnx_model_path: Path | None = Field(
        None,
        description="ONNX separator to load at startup (input float32 [batch, channels, samples], output "
        "[batch, stems, channels, samples]); unset: no `onnx` engine. A missing or unreadable file stops the "
        "service at startup.",
    )
    onnx_stems: str = Field(
        "drums,bass,other,vocals",
        description="Comma-separated stems of the model's output, in its order (htdemucs: drums,bass,other,vocals).",
    )
    onnx_sample_rate: int = Field(44100, ge=8000, le=192_000, description="Sample rate the model works at, Hz.")
    onnx_channels: int = Field(2, ge=1, le=2, description="Channels the model takes (2 for Demucs, 1 for mono).")
    onnx_segment_s: float = Field(
        7.8,
        gt=0.1,
        le=600,
        description="Segment length fed to the model, seconds (htdemucs: 7.8); a model whose time axis is fixed "
        "in the graph imposes its own.",
    )
    onnx_overlap: float = Field(
        0.25, ge=0.0, lt=0.9, description="Overlap of consecutive segments (cross-faded), as a share of a segment."
    )
    onnx_batch_size: int = Field(
        4, ge=1, le=256, description="Segments per onnxruntime call (a batch axis fixed in the graph wins)."
    )
    onnx_intra_op_threads: int = Field(
        0, ge=0, le=256, description="onnxruntime intra-op threads per call; 0 lets onnxruntime choose."
    )
    onnx_device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="`auto`: CUDAExecutionProvider when onnxruntime has it, else CPU."
    )

    @field_validator("onnx_stems")
    @classmethod
    def _known_stems(cls, value: str) -> str:
        names = [name.strip() for name in value.split(",") if name.strip()]
        unknown = [name for name in names if name not in ALL_STEMS]
        if not names or unknown:
            raise ValueError(f"stems must be a comma-separated list of {', '.join(ALL_STEMS)}; got {value!r}")
        if len(set(names)) != len(names):
            raise ValueError(f"a stem is named twice in {value!r}")
        return ",".join(names)

    @property
    def s3_bucket_names(self) -> tuple[str, ...]:
        """:attr:`s3_buckets` as a tuple (empty: no S3 output)."""
        return tuple(name.strip() for name in self.s3_buckets.split(",") if name.strip())

    @property
    def onnx_stem_names(self) -> tuple[StemName, ...]:
        """:attr:`onnx_stems` as a tuple, in the model's output order."""
        return tuple(cast(StemName, name) for name in self.onnx_stems.split(","))

    @property
    def learned_weights(self) -> Path:
        """Where the ``learned`` engine's weights are: :attr:`learned_model_path`, else where set-up writes them
        (``<venv>/models/separate/mask_mlp.npz``)."""
        if self.learned_model_path is not None:
            return self.learned_model_path
        return Path(sys.prefix) / "models" / "separate" / "mask_mlp.npz"

    @property
    def learned_conv_weights(self) -> Path:
        """Where the ``learned`` engine's optional U-Net is: :attr:`learned_conv_model_path`, else where
        ``train_conv`` writes it (``<venv>/models/separate/mask_unet.onnx``)."""
        if self.learned_conv_model_path is not None:
            return self.learned_conv_model_path
        return Path(sys.prefix) / "models" / "separate" / "mask_unet.onnx"

    @property
    def learned_conv_in_use(self) -> Path | None:
        """The U-Net the ``learned`` engine loads: a configured path always (it must load), the set-up default
        only when the file is there, else none."""
        path = self.learned_conv_weights
        return path if self.learned_conv_model_path is not None or path.is_file() else None

    def default_for(self, engines: Sequence[str]) -> str:
        """The default engine among ``engines``: the configured one, or for ``auto`` ``learned`` when it is
        there, else ``dsp``."""
        if self.default_engine != "auto":
            return self.default_engine
        return "learned" if "learned" in engines else "dsp"
