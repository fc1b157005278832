"""The ASR server's diarizer, loaded on first use (the weights load in well under a second, so a server that
never diarizes never pays for them) and shared by every call."""

from __future__ import annotations

import threading

from ting_asr.diarization import DiarizationEngine
from ting_common.errors import FailedPreconditionError


class DiarizerSlot:
    """Holds the diarization engine: a given one, the embedded default built lazily, or none (disabled)."""

    def __init__(self, enabled: bool = True, engine: DiarizationEngine | None = None) -> None:
        self.enabled = enabled or engine is not None
        self._engine = engine
        self._lock = threading.Lock()

    def check(self) -> None:
        """FAILED_PRECONDITION when this server does not diarize."""
        if not self.enabled:
            raise FailedPreconditionError(
                "speaker diarization is turned off on this server (TING_ASR_DIARIZATION=false)"
            )

    def get(self) -> DiarizationEngine:
        """The engine (built on first use; blocking: call it from a worker thread)."""
        self.check()
        with self._lock:
            if self._engine is None:
                from ting_asr.diarization.engine import GE2EDiarizer

                self._engine = GE2EDiarizer()
            return self._engine
