"""The ASR model runner on BentoML: ``bentoml serve services/asr/runners/bento/service.py:WhisperRunner``.

It hosts the in-process faster-whisper engine (:func:`ting_asr.runner.engine_from_parameters`) behind the runner wire
format of :mod:`ting_asr.engines.remote`, and :class:`ting_asr.engines.bento.BentoAsrEngine` calls it. The model,
device and workers are never fixed here: the ASR service's own settings decide (``TING_ASR_MODEL``,
``TING_ASR_PRELOAD``, ``TING_ASR_DEVICE``, ``TING_ASR_COMPUTE_TYPE``, ``TING_ASR_CPU_THREADS``,
``TING_ASR_CONCURRENCY``, ``TING_ASR_CACHE_DIR``), and ``TING_BENTO_MAX_CONCURRENCY`` bounds the requests accepted.

Endpoints (HTTP, BentoML's new SDK has no gRPC serving):

* ``POST /transcribe``: ``multipart/form-data`` with a ``request`` part (the request JSON,
  ``{"op": "transcribe", "options": {...}}``) and an ``audio`` file part holding 16 kHz mono float32 samples as raw
  little-endian bytes. Multipart is BentoML's documented way to receive binary data (a ``pathlib.Path`` parameter);
  20 s of audio is 1.3 MB of bytes instead of ~4 MB of JSON numbers, and nothing is parsed number by number. The
  answer is the handler's JSON; a runner error keeps its JSON body (``{"error": {"code", "message"}}``) and sets the
  HTTP status of its error class (``TingError.http_code``: 400, 404, 409, 413, 500, 503, ...), so proxies and logs
  see failures too.
* ``POST /describe``: the models the runner serves (what ``ListModels`` reports).

Batching: ``batchable=True`` is deliberately **not** used. BentoML's adaptive batching pays when one forward pass over
a stacked batch costs about as much as one over a single input. Whisper here decodes each request on its own:
variable-length audio cut into 30 s windows, per-request options (language, task, beam, prompt, temperature
fallback, word timestamps), a beam search per window, and faster-whisper has no batched API over independent
requests with different options. A "batch" would only be a loop, adding the batching window's latency and making
one slow request hold the others. Parallelism comes instead from CTranslate2's workers (``concurrency``): the API is
synchronous, BentoML runs it in its thread pool (``threads``), and up to ``concurrency`` recognitions decode at once
while further ones wait in CTranslate2's queue; ``traffic.max_concurrency`` bounds what the runner accepts at all
(beyond it BentoML answers 503, which the engine retries).
"""

from __future__ import annotations

import json
import os
import pathlib
import typing as t

import bentoml

with bentoml.importing():
    import numpy as np

    from ting_asr.runner import engine_from_parameters
    from ting_common.errors import InvalidArgumentError
    from ting_common.runners import error_from_wire, error_to_wire

# Requests the runner accepts at once (running plus waiting for a CTranslate2 worker); the thread pool matches.
MAX_CONCURRENCY = int(os.environ.get("TING_BENTO_MAX_CONCURRENCY") or 16)


def answer(body: str, ctx: bentoml.Context) -> dict[str, t.Any]:
    """The handler's JSON answer; an error answer also sets the HTTP status its code maps to."""
    payload: dict[str, t.Any] = json.loads(body)
    error = error_from_wire(payload)
    if error is not None:
        ctx.response.status_code = error.http_code
    return payload


@bentoml.service(
    name="ting-asr-whisper",
    resources={"cpu": "2", "memory": "2Gi"},
    traffic={"timeout": 600, "max_concurrency": MAX_CONCURRENCY},
    workers=1,
    threads=MAX_CONCURRENCY,
)
class WhisperRunner:
    """Whisper (faster-whisper) behind the ASR runner wire format."""

    def __init__(self) -> None:
        self.handler = engine_from_parameters({})

    @bentoml.api
    def transcribe(self, request: t.Any, audio: pathlib.Path, ctx: bentoml.Context) -> dict[str, t.Any]:
        """One recognition: the request JSON and the raw float32 little-endian samples → the JSON answer."""
        raw = request if isinstance(request, str | bytes) else json.dumps(request, ensure_ascii=False)
        size = audio.stat().st_size
        if size % 4:
            message = f"the audio part has {size} bytes, not a whole number of float32 samples"
            return answer(json.dumps(error_to_wire(InvalidArgumentError(message))), ctx)
        samples = np.fromfile(audio, dtype="<f4")
        return answer(self.handler.handle(raw, samples), ctx)

    @bentoml.api
    def describe(self, ctx: bentoml.Context) -> dict[str, t.Any]:
        """What the runner serves: engine, device, compute type and models."""
        return answer(self.handler.handle(b'{"op": "describe"}', None), ctx)
