"""``main.py record`` from a DV peer that turns to garbage: how many of its valid events are kept.

A peer on 127.0.0.1 sends the stream header a real dv-processing ``NetworkWriter`` sends, then
20 packets of 1,000 events and garbage, all in ONE write (the case where dv-processing's
``NetworkReader`` aborted with decoded packets still queued and kept 0 to 11,000 of the 20,000).
Each try runs ``main.py record`` in a child process and reads the recording back. Target
(issue 26): at least 99 % of the valid events, exit status 2 and one line on stderr, every try.

Run from the repository root: ``.venv/bin/python -m benchmarks.dv_stream [--tries 10]``
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from eventcore.aedat.files import read_recording
from tests.test_network import _WRITER, ROOT, batch, free_port, packet

N_PACKETS = 20


def dv_header() -> bytes:
    """The stream header of a real dv.io.NetworkWriter (captured from a writer child process)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(port), "0"], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "listening"
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            data = b""
            while len(data) < 4 or len(data) < 4 + int.from_bytes(data[:4], "little"):
                data += s.recv(65536)
        return data[: 4 + int.from_bytes(data[:4], "little")]
    finally:
        proc.kill()
        proc.wait()


def one_try(header: bytes, out: Path, seed: int) -> tuple[int, int, list[str]]:
    """(events kept, exit status, stderr lines) of one recording from a peer that sends garbage in its one write."""
    junk = b"\0\0\0\0\xe8\x03\0\0" + np.random.default_rng(seed).integers(0, 256, 1000, dtype=np.uint8).tobytes()
    payload = header + b"".join(packet(batch(k)) for k in range(N_PACKETS)) + junk
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def serve():
        conn, _ = srv.accept()
        conn.sendall(payload)
        time.sleep(10)
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        proc = subprocess.run([sys.executable, "main.py", "record", f"127.0.0.1:{srv.getsockname()[1]}", str(out)],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
    finally:
        srv.close()
    kept = len(read_recording(out).events) if out.exists() else 0
    return kept, proc.returncode, proc.stderr.strip().splitlines()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tries", type=int, default=10)
    args = p.parse_args()
    header = dv_header()
    sent = N_PACKETS * 1000
    ok = 0
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.tries):
            kept, code, lines = one_try(header, Path(tmp) / f"try{k}.aedat4", seed=k)
            good = kept >= 0.99 * sent and code == 2 and len(lines) == 1
            ok += good
            print(f"try {k + 1}: kept {kept:,} of {sent:,} events, exit {code}, {len(lines)} line(s): "
                  f"{lines[-1] if lines else ''}", flush=True)
    print(f"{ok} of {args.tries} tries kept >= 99 % with exit 2 and one line")


if __name__ == "__main__":
    main()
