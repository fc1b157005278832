"""``make run``: start the ASR service, transcribe the bundled sample, keep serving until Ctrl-C.

Prints the transcript, how long it took (and the real-time factor), and the word error rate
against the sample's reference text. ``--once`` stops the service after the sample (used by the
end-to-end test).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from ting_common.probe import free_port, wait_until_serving
from ting_common.scoring import error_rate

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "meeting_intro.wav"
REFERENCE = ROOT / "samples" / "meeting_intro.txt"
SERVICE = "ting.asr.v1.AsrService"


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--once", action="store_true", help="stop the service after transcribing the sample")
    parser.add_argument("--file", default=str(SAMPLE), help="audio to transcribe (default: the bundled sample)")
    args = parser.parse_args()

    port = int(os.environ.get("TING_ASR_PORT", "50051"))
    if not port_is_free(port):
        new_port = free_port()
        print(f"port {port} is busy; using {new_port} instead (set TING_ASR_PORT to choose)", flush=True)
        port = new_port
    env = dict(os.environ, TING_ASR_PORT=str(port))
    env.setdefault("TING_ASR_LOG_FORMAT", "text")
    env.setdefault("TING_ASR_LOG_LEVEL", "WARNING")
    address = f"127.0.0.1:{port}"
    bin_dir = Path(sys.executable).parent
    print(
        f"starting the ASR service on port {port} (model: {env.get('TING_ASR_MODEL', 'base')}) ...",
        flush=True,
    )
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "ting_asr"], env=env)
    try:
        try:
            wait_until_serving(address, service=SERVICE, timeout_s=300, process=proc)
        except (RuntimeError, TimeoutError) as exc:
            raise SystemExit(f"make run: {exc}") from exc
        print(f"ready in {time.perf_counter() - t0:.1f} s\n", flush=True)
        sample = Path(args.file)
        t1 = time.perf_counter()
        result = subprocess.run(
            [str(bin_dir / "ting"), "transcribe", str(sample), "--server", address, "--format", "txt"],
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.perf_counter() - t1
        if result.returncode != 0:
            print(result.stderr.strip(), file=sys.stderr)
            return result.returncode
        transcript = result.stdout.strip()
        print(f"=== transcript of {sample.name} ===")
        print(transcript)
        print("===")
        import av

        with av.open(str(sample)) as container:
            duration = float(container.duration or 0) / 1_000_000
        rtf = f", {duration / elapsed:.1f}x real time" if duration and elapsed else ""
        print(f"audio {duration:.1f} s transcribed in {elapsed:.2f} s{rtf}")
        if sample == SAMPLE and REFERENCE.exists():
            wer = error_rate(REFERENCE.read_text(encoding="utf-8"), transcript, "en")
            print(f"word error rate against samples/{REFERENCE.name}: {wer:.1%}")
        if args.once:
            return 0
        print(
            f"\nThe ASR service keeps running on {address} (gRPC; reflection on).\n"
            f"  try:  {bin_dir / 'ting'} transcribe YOUR_FILE --server {address} --format srt\n"
            "Press Ctrl-C to stop.",
            flush=True,
        )
        signal.signal(signal.SIGINT, lambda *_: None)  # let the wait below return via the child
        signal.signal(signal.SIGTERM, lambda *_: proc.send_signal(signal.SIGTERM))
        with contextlib.suppress(KeyboardInterrupt):
            proc.wait()
        return 0
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        print("ASR service stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
