"""BentoML separation runner: ``bentoml serve services/separate/runners/bento/service.py:SeparatorRunner``.

A thin shell over :class:`ting_separate.runner.RunnerHost` (the engines the in-process server would build: ``dsp``
always, ``onnx`` when ``TING_SEPARATE_ONNX_*`` is set in this service's environment). The caller
(:class:`ting_separate.engines.bento.BentoSeparationEngine`) keeps the chunking and sends one batch of chunks per
``/separate`` request, the samples as a float32 file part (multipart), never as JSON number lists; the answer is
:func:`ting_separate.runner.frame`'d bytes. Errors are answers (``{"error": {"code", "message"}}``, HTTP 200), so the
caller raises the same domain error the in-process engine would.

No ``batchable=True``: adaptive batching merges calls into one list for one function call, which pays when the
model vectorises over the batch. Here a request is already a batch of chunks of one engine with its own options and
sample rate, and the dsp engine works chunk by chunk, so merged calls would only run one after another; concurrent
requests already run side by side on the API's thread pool.
"""

import os

os.environ["BENTOML_DO_NOT_TRACK"] = "true"  # before bentoml is imported: no usage tracking, ever

from pathlib import Path
from typing import Any

import bentoml

with bentoml.importing():
    from ting_separate.config import SeparateSettings
    from ting_separate.runner import EMPTY, RunnerHost, frame


@bentoml.service(resources={"cpu": "2"}, traffic={"timeout": 600}, workers=1)
class SeparatorRunner:
    """Hosts the separation engines (see the module docstring)."""

    def __init__(self) -> None:
        self.host = RunnerHost.from_settings(SeparateSettings())

    @bentoml.api
    def describe(self) -> dict[str, Any]:
        """The hosted engines, default first."""
        return self.host.describe()

    @bentoml.api
    def plan(self, options: dict[str, Any]) -> dict[str, Any]:
        """The chunk plan of one engine for one input (or the error the options cause)."""
        header, _ = self.host.handle({**options, "op": "plan"}, EMPTY)
        return header

    @bentoml.api
    def separate(self, options: dict[str, Any], audio: Path) -> bytes:
        """One batch of chunks: ``options`` (the JSON header, a form field) and ``audio`` (the float32 samples, a file
        part) -> the framed answer."""
        header, stems = self.host.handle(options, audio.read_bytes())
        return frame(header, stems)
