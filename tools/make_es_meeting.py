"""Re-create ``samples/es_meeting.ogg`` from ``samples/es_meeting.txt`` (espeak-ng + sox, Debian packages).

Lines alternate between a female and a male Spanish espeak-ng voice (by the order in which people speak in the
text), 0.6 s of silence between lines, 16 kHz mono, Ogg Vorbis. The committed file was made with espeak-ng
1.51 and sox 14.4; other versions give slightly different audio.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VOICES = ["es+f3", "es+m3", "es+f3", "es+m3", "es+f3", "es+m3", "es+m3", "es+f3", "es+f3"]


def main() -> None:
    lines = (ROOT / "samples" / "es_meeting.txt").read_text().strip().splitlines()
    with tempfile.TemporaryDirectory() as tmp:
        parts: list[str] = []
        for i, (line, voice) in enumerate(zip(lines, VOICES, strict=True)):
            speech, pause = f"{tmp}/l{i}.wav", f"{tmp}/s{i}.wav"
            subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", speech, line], check=True)
            subprocess.run(["sox", "-n", "-r", "22050", "-c", "1", pause, "trim", "0", "0.6"], check=True)
            parts += [speech, pause]
        joined = f"{tmp}/joined.wav"
        subprocess.run(["sox", *parts, "-r", "16000", "-c", "1", joined], check=True)
        subprocess.run(["sox", joined, "-C", "4", str(ROOT / "samples" / "es_meeting.ogg"), "vol", "0.9"], check=True)


if __name__ == "__main__":
    main()
