"""Soak: replay a recording at 1x, looping, through the classify pipeline for a long time,
sampling memory, latency and skipped windows every ``--every`` seconds, and say whether any grows.

Run from the repository root (an hour, as the issue asks; minutes for a quick look)::

    .venv/bin/python -m benchmarks.soak --minutes 60
    .venv/bin/python -m benchmarks.soak --minutes 3 --source recordings/synthetic_demo_1.aedat4
    .venv/bin/python -m benchmarks.soak --minutes 60 --gui     # through the real window (offscreen
                                                               # without a display), also redraws/s

One line per sample: elapsed time, resident memory (MiB), windows classified and skipped in
the interval, median and 95th-percentile latency (ms), and the machine's 1-minute load average
(latency and skips on a shared machine follow its load, not the soak's age). At the end, for each quantity, the
change from the first third of the run to the last third, and the verdict "grows" when it
rose by more than the tolerance (memory 10 % and 20 MiB; latency 25 %; skipped share 5 points),
and the memory's rise over the last two thirds of the run (the issue's limit: 10 MiB over the
last 40 minutes of an hour). ``--tracemalloc`` also prints the Python allocations that grew most
between the end of the first third and the end (file:line, KiB), to find a creep.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def verdict(samples: list[dict]) -> dict:
    """Compare the first third of the samples with the last third."""
    k = max(1, len(samples) // 3)
    head, tail = samples[:k], samples[-k:]

    def mean(rows, key):
        vals = [r[key] for r in rows if r[key] == r[key]]
        return float(np.mean(vals)) if vals else float("nan")

    out = {}
    m0, m1 = mean(head, "rss_mib"), mean(tail, "rss_mib")
    rise = samples[-1]["rss_mib"] - samples[k - 1]["rss_mib"]
    out["memory"] = {"first_mib": round(m0, 1), "last_mib": round(m1, 1),
                     "rise_last_two_thirds_mib": round(rise, 1),
                     "grows": bool(m1 - m0 > max(20.0, 0.10 * m0) or rise > 10.0)}
    l0, l1 = mean(head, "latency_p50_ms"), mean(tail, "latency_p50_ms")
    out["latency"] = {"first_ms": round(l0, 1), "last_ms": round(l1, 1), "grows": bool(l1 > 1.25 * l0 + 1.0)}

    def share(rows):
        w = sum(r["windows"] + r["skipped"] for r in rows)
        return sum(r["skipped"] for r in rows) / w if w else 0.0

    s0, s1 = share(head), share(tail)
    out["skipped_share"] = {"first": round(s0, 3), "last": round(s1, 3), "grows": bool(s1 - s0 > 0.05)}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    p.add_argument("--source", default=str(ROOT / "recordings" / "synthetic_demo_1.aedat4"))
    p.add_argument("--model", default=None)
    p.add_argument("--denoise", action="store_true")
    p.add_argument("--gui", action="store_true", help="through the desktop app's window instead of headless")
    p.add_argument("--tracemalloc", action="store_true",
                   help="trace Python allocations; print those that grew most after the first third")
    args = p.parse_args(argv)
    if args.gui:
        return soak_gui(args)

    from app.inference import InferenceEngine
    from app.pipeline import Pipeline
    from app.sources.open import open_file

    engine = InferenceEngine.from_checkpoint(args.model, "cpu")
    source = open_file(args.source)
    source.speed = 1.0
    source.loop = True
    noise = None
    if args.denoise:
        from app.noise import NoiseFilter

        noise = NoiseFilter("background_activity", source.width, source.height)
    lock = threading.Lock()
    latencies: list[float] = []

    def on_result(pred) -> None:
        with lock:
            latencies.append(pred.latency_ms)

    pipe = Pipeline(source, engine, noise_filter=noise, on_result=on_result)
    print(json.dumps({"source": Path(args.source).name, "minutes": args.minutes, "every_s": args.every,
                      "model": args.model or "default", "window_ms": pipe.window_us / 1e3,
                      "hop_ms": pipe.hop_us / 1e3}), flush=True)
    pipe.start()
    t_start = time.monotonic()
    tracer = Tracer(args.tracemalloc)
    samples = []
    last_skipped = 0
    try:
        while time.monotonic() - t_start < args.minutes * 60:
            if pipe.wait(args.every):
                print(json.dumps({"ended": True, "error": str(pipe.error) if pipe.error else None}), flush=True)
                break
            with lock:
                lat, latencies[:] = np.array(latencies), []
            skipped = pipe.skipped
            sample = _sample(time.monotonic() - t_start, lat, skipped - last_skipped)
            last_skipped = skipped
            samples.append(sample)
            print(json.dumps(sample), flush=True)
            tracer.sample(time.monotonic() - t_start, args.minutes * 60)
    except KeyboardInterrupt:
        pass
    finally:
        pipe.stop()
    tracer.report()
    _print_verdict(samples)
    return 0


class Tracer:
    """``--tracemalloc``: tracing starts once a third of the run has passed (warmed up, and no cost
    before); what was allocated after it and is still held at the end is the creep's suspects."""

    def __init__(self, on: bool) -> None:
        self.on = on
        self.first: tracemalloc.Snapshot | None = None

    def sample(self, t_s: float, total_s: float) -> None:
        if self.on and self.first is None and t_s >= total_s / 3:
            tracemalloc.start(4)
            self.first = tracemalloc.take_snapshot()

    def report(self, top: int = 15) -> None:
        if not tracemalloc.is_tracing() or self.first is None:
            return
        stats = tracemalloc.take_snapshot().compare_to(self.first, "lineno")
        for st in stats[:top]:
            frame = st.traceback[0]
            print(json.dumps({"grew_kib": round(st.size_diff / 1024, 1), "count_diff": st.count_diff,
                              "at": f"{frame.filename}:{frame.lineno}"}), flush=True)


def _sample(t_s: float, lat: np.ndarray, skipped: int) -> dict:
    """One sample line: elapsed time, memory, windows, skipped windows, latency percentiles."""
    return {
        "t_s": round(t_s, 1),
        "rss_mib": round(rss_mib(), 1),
        "windows": int(len(lat)),
        "skipped": int(skipped),
        "latency_p50_ms": round(float(np.median(lat)), 1) if len(lat) else float("nan"),
        "latency_p95_ms": round(float(np.percentile(lat, 95)), 1) if len(lat) else float("nan"),
        "load_1m": round(os.getloadavg()[0], 2),
    }


def _print_verdict(samples: list[dict]) -> None:
    if len(samples) >= 3:
        v = verdict(samples)
        print(json.dumps({"verdict": v, "samples": len(samples),
                          "anything_grows": any(x["grows"] for x in v.values())}), flush=True)


def _qt_message(kind, context, text: str) -> None:
    """Qt's messages to stderr, less the offscreen plugin's note repeated at every redraw of a dock."""
    if "propagateSizeHints" not in text:
        print(text, file=sys.stderr, flush=True)


def soak_gui(args) -> int:
    """The same soak through the real main window; samples also count redraws per second."""
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt6.QtCore import qInstallMessageHandler
    from PyQt6.QtWidgets import QApplication

    from app.gui.main_window import MainWindow
    from app.inference import InferenceEngine

    qInstallMessageHandler(_qt_message)
    app = QApplication.instance() or QApplication([])
    win = MainWindow()
    win.resize(1280, 800)
    win.show()
    win.set_engine(InferenceEngine.from_checkpoint(args.model, "cpu", record=True))
    if not win.open_source(args.source):
        print(json.dumps({"error": win.message}))
        return 2
    win.session.set_speed(1.0)
    win.session.set_loop(True)
    if args.denoise:
        win.session.set_denoise(True)
    print(json.dumps({"source": Path(args.source).name, "minutes": args.minutes, "every_s": args.every,
                      "gui": True, "model": args.model or "default"}), flush=True)
    t_start = last = time.perf_counter()
    tracer = Tracer(args.tracemalloc)
    samples, last_skipped, last_redraws = [], 0, win.redraws
    try:
        while time.perf_counter() - t_start < args.minutes * 60:
            end = last + args.every
            while time.perf_counter() < end:
                app.processEvents()
                time.sleep(0.002)
            now = time.perf_counter()
            pipe = win.session.pipe
            if pipe is None or pipe.done:
                print(json.dumps({"ended": True, "message": win.message}), flush=True)
                break
            lat = np.array([p.latency_ms for p in list(pipe.history) if p.t_done >= last])
            skipped = pipe.skipped
            sample = _sample(now - t_start, lat, skipped - last_skipped)
            sample["redraws_per_s"] = round((win.redraws - last_redraws) / (now - last), 1)
            last, last_skipped, last_redraws = now, skipped, win.redraws
            samples.append(sample)
            print(json.dumps(sample), flush=True)
            tracer.sample(now - t_start, args.minutes * 60)
    except KeyboardInterrupt:
        pass
    finally:
        win.close()
    tracer.report()
    _print_verdict(samples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
