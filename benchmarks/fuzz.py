"""Mutation fuzzing of every file reader (AEDAT 2.0, 3.1, 4): a result or one clear SourceError.

Seeds are small files generated here (never stored): AEDAT 2.0 in both address layouts,
AEDAT 3.1, and AEDAT4 with each compression. Mutations: bit flips, byte overwrites,
truncation, chunks removed or duplicated, the header corrupted, huge or negative sizes
written over 4-byte words, timestamps and coordinates scrambled. Each mutated file is opened
with ``open_file`` and read whole in a worker process under an address-space limit
(``--memory-mb``); a worker that dies (a native crash) is restarted after the file that
killed it, and that file is a finding. A finding is also: any exception other than
SourceError, a message of more than one line, a file that takes longer than
``--max-seconds``, or events that break the source's own promises (time order,
coordinates inside the sensor).

Used by ``tests/test_fuzz.py`` (a fixed seed, a few hundred files) and, for hours outside CI::

    .venv/bin/python -m benchmarks.fuzz --hours 4 --out fuzz-findings/      # loops until time is up
    .venv/bin/python -m benchmarks.fuzz --files 2000 --seed 7                # a fixed batch

Findings are saved under ``--out`` with the reason beside them (``NAME.txt``); rerun one with
``.venv/bin/python -m benchmarks.fuzz --check FILE``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


# -- seeds and mutations --------------------------------------------------------------------


def make_seeds(folder: Path, n_events: int = 3000) -> list[Path]:
    """Small valid recordings of every format the app reads."""
    from app.sources.recorder import Recorder
    from tests.writers import synthetic_events, write_aedat2, write_aedat3

    folder.mkdir(parents=True, exist_ok=True)
    seeds = []
    ev128 = synthetic_events(n_events, 128, 128, t0=1_000, span_us=200_000)
    ev240 = synthetic_events(n_events, 240, 180, t0=5_000, span_us=200_000)
    seeds.append(write_aedat2(folder / "davis.aedat", ev240, other_every=7))
    seeds.append(write_aedat2(folder / "dvs128.aedat", ev128, layout="dvs128",
                              chip="ch.unizh.ini.jaer.chip.retina.DVS128", other_every=5))
    seeds.append(write_aedat3(folder / "gesture.aedat", ev128, packet_events=500))
    for comp in ("lz4", "zstd", "none"):
        path = folder / f"rec_{comp}.aedat4"
        with Recorder(path, 240, 180, camera="Fuzz_0001", compression=comp) as rec:
            for i in range(0, n_events, 500):  # several packets
                rec.write(ev240[i : i + 500])
                rec.flush()
        seeds.append(path)
    seeds.append(_dv_written(folder / "dv_indexed.aedat4", ev240))
    return seeds


def _dv_written(path: Path, events: np.ndarray) -> Path:
    """An AEDAT4 file written by dv-processing itself: it ends with a packet index (FTAB)."""
    import dv_processing as dv

    from app.sources.dv import to_event_store

    writer = dv.io.MonoCameraWriter(str(path), dv.io.MonoCameraWriter.EventOnlyConfig("DvFuzz_0001", (240, 180)))
    for i in range(0, len(events), 500):
        writer.writeEvents(to_event_store(events[i : i + 500]))
    del writer
    return path


def mutate(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    """One random mutation of ``data`` and its name."""
    b = bytearray(data)
    n = len(b)
    if n == 0:
        return b"", "empty"
    kind = rng.choice(["flip", "bytes", "truncate", "remove", "duplicate", "header", "huge", "words", "stack"])
    if kind == "flip":
        for _ in range(int(rng.integers(1, 16))):
            i = int(rng.integers(0, n))
            b[i] ^= 1 << int(rng.integers(0, 8))
    elif kind == "bytes":
        for _ in range(int(rng.integers(1, 8))):
            i = int(rng.integers(0, n))
            b[i] = int(rng.integers(0, 256))
    elif kind == "truncate":
        del b[int(rng.integers(0, n)) :]
    elif kind == "remove":
        i = int(rng.integers(0, n))
        del b[i : i + int(rng.integers(1, 4096))]
    elif kind == "duplicate":
        i = int(rng.integers(0, n))
        chunk = b[i : i + int(rng.integers(1, 4096))]
        j = int(rng.integers(0, n))
        b[j:j] = chunk
    elif kind == "header":
        end = min(n, 4096)
        for _ in range(int(rng.integers(1, 24))):
            b[int(rng.integers(0, end))] = int(rng.integers(0, 256))
    elif kind == "huge":
        value = rng.choice([0x7FFFFFFF, 0xFFFFFFFF, 0x80000000, 0x40000000, 0x10000000, 0xFFFFFF00, 0])
        for _ in range(int(rng.integers(1, 4))):
            i = int(rng.integers(0, max(n - 4, 1))) & ~3
            b[i : i + 4] = int(value).to_bytes(4, "little" if rng.random() < 0.7 else "big")
    elif kind == "words":  # scramble 8-byte records: timestamps and coordinates
        start = int(rng.integers(0, n))
        for _ in range(int(rng.integers(1, 32))):
            i = start + 8 * int(rng.integers(0, 256))
            if i + 8 <= n:
                b[i : i + 8] = rng.integers(0, 256, 8, dtype=np.uint8).tobytes()
    else:  # several of the above
        out = bytes(b)
        names = []
        for _ in range(int(rng.integers(2, 4))):
            out, name = mutate(out, rng)
            names.append(name)
        return out, "+".join(names)
    return bytes(b), str(kind)


def make_corpus(folder: Path, n_files: int, seed: int) -> list[Path]:
    """``n_files`` mutated files made from the seeds (spread evenly over them)."""
    seeds = make_seeds(folder / "seeds")
    rng = np.random.default_rng(seed)
    out = folder / "mutants"
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(n_files):
        src = seeds[k % len(seeds)]
        data, kind = mutate(src.read_bytes(), rng)
        path = out / f"{k:05d}_{kind}{src.suffix}"
        path.write_bytes(data)
        paths.append(path)
    return paths


# -- checking one file (in the worker) ----------------------------------------------------------


def check_file(path: Path) -> tuple[str, str]:
    """("ok", facts) or ("error", message) or ("finding", why) for one file."""
    from app.sources.open import open_file
    from eventcore.errors import SourceError

    try:
        src = open_file(path, labels=False)
        ev = src.read_all()
        t = ev["timestamp"]
        if len(ev) > 1 and np.any(t[1:] < t[:-1]):
            return "finding", "events out of time order"
        if len(ev) and (ev["x"].min() < 0 or ev["y"].min() < 0
                        or ev["x"].max() >= src.width or ev["y"].max() >= src.height):
            return "finding", f"events outside the {src.width}x{src.height} sensor"
        if not (0 < src.width <= 2048 and 0 < src.height <= 2048):
            return "finding", f"impossible sensor size {src.width}x{src.height}"
        return "ok", f"{len(ev)} events"
    except SourceError as err:
        msg = str(err)
        if "\n" in msg or not msg:
            return "finding", f"multi-line or empty message: {msg!r}"
        return "error", msg
    except Exception as err:  # noqa: BLE001 - any other exception is what fuzzing looks for
        return "finding", f"{type(err).__name__}: {err}"


def _worker(list_file: str, memory_mb: int) -> None:
    """Check each file named in ``list_file``; one JSON line per file on stdout."""
    if memory_mb:
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))
    for line in Path(list_file).read_text().splitlines():
        t0 = time.perf_counter()
        status, detail = check_file(Path(line))
        print(json.dumps({"path": line, "status": status, "detail": detail,
                          "seconds": time.perf_counter() - t0}), flush=True)


# -- running a corpus (in the parent) ---------------------------------------------------------


@dataclass
class Outcome:
    path: Path
    status: str  # ok | error | finding
    detail: str
    seconds: float


def run_corpus(paths: list[Path], memory_mb: int = 1536, max_seconds: float = 5.0,
               timeout_s: float = 600.0) -> list[Outcome]:
    """Check every file in worker processes; a worker that dies or hangs marks its file a finding."""
    results: list[Outcome] = []
    todo = list(paths)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    deadline = time.monotonic() + timeout_s
    while todo:
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write("\n".join(str(p) for p in todo))
            list_file = f.name
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.fuzz", "--worker", list_file, "--memory-mb", str(memory_mb)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        done = 0
        os.set_blocking(proc.stdout.fileno(), True)
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        last = time.monotonic()
        hung = False
        while True:
            if not sel.select(timeout=0.5):
                if time.monotonic() - last > max_seconds * 4 or time.monotonic() > deadline:
                    proc.kill()
                    hung = True
                    break
                continue
            line = proc.stdout.readline()
            if not line:
                break
            last = time.monotonic()
            r = json.loads(line)
            status = r["status"]
            if status != "finding" and r["seconds"] > max_seconds:
                status, r["detail"] = "finding", f"took {r['seconds']:.1f} s ({r['detail']})"
            results.append(Outcome(Path(r["path"]), status, r["detail"], r["seconds"]))
            done += 1
        proc.wait()
        err = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
        os.unlink(list_file)
        todo = todo[done:]
        if todo:
            culprit = todo.pop(0)
            why = "hung" if hung else f"worker died (exit {proc.returncode}): {err.strip().splitlines()[-1:] or ''}"
            results.append(Outcome(culprit, "finding", why, float("nan")))
        if time.monotonic() > deadline:
            break
    return results


def summarise(results: list[Outcome]) -> dict:
    from collections import Counter

    counts = Counter(r.status for r in results)
    times = [r.seconds for r in results if r.seconds == r.seconds]
    return {"files": len(results), **counts, "max_seconds": round(max(times, default=0), 3)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--memory-mb", type=int, default=1536)
    p.add_argument("--files", type=int, default=500, help="mutated files per round")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hours", type=float, default=0.0, help="keep making rounds until this much time passed")
    p.add_argument("--max-seconds", type=float, default=5.0)
    p.add_argument("--out", default="fuzz-findings", help="folder for files that were findings")
    p.add_argument("--check", help="check one file in a worker and print the outcome")
    args = p.parse_args(argv)
    if args.worker:
        _worker(args.worker, args.memory_mb)
        return 0
    if args.check:
        print(run_corpus([Path(args.check)], args.memory_mb, args.max_seconds)[0])
        return 0
    end = time.monotonic() + args.hours * 3600
    seed, total, findings = args.seed, 0, 0
    while True:
        with tempfile.TemporaryDirectory() as tmp:
            paths = make_corpus(Path(tmp), args.files, seed)
            results = run_corpus(paths, args.memory_mb, args.max_seconds, timeout_s=max(600, args.hours * 3600))
            for r in results:
                if r.status == "finding":
                    findings += 1
                    out = Path(args.out)
                    out.mkdir(parents=True, exist_ok=True)
                    keep = out / f"seed{seed}_{r.path.name}"
                    keep.write_bytes(r.path.read_bytes())
                    keep.with_suffix(keep.suffix + ".txt").write_text(r.detail + "\n")
        total += len(results)
        print(json.dumps({"seed": seed, **summarise(results), "total_files": total, "total_findings": findings}),
              flush=True)
        seed += 1
        if time.monotonic() >= end:
            return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
