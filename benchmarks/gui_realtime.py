"""Does the desktop app keep up? Redraws per second and stream-to-screen lag at real time.

Replays a recording (default: the demo recording, else a synthetic rotating bar) at 1x,
looping, in the real main window (offscreen unless DISPLAY is set), and measures:

- redraws/s of the GUI timer (target >= 30), against a baseline measured in the same run
  with playback paused (the timer alone, nothing new to draw);
- event lag: wall time from a batch of events leaving the source (paced arrival) to the
  redraw that first shows its newest event;
- prediction lag: wall time from a window being complete to its prediction being drawn
  (inference + waiting for the next redraw), and the GUI's share (result ready -> drawn);
- whether lag grows: its median over the first and last third of the run, and the slope.

Usage::

    python -m benchmarks.gui_realtime [--model small64|PATH] [--recording FILE] [--seconds 20]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def untrained_engine(config: str):
    """A random-weight engine (before shipped weights exist): same cost as the trained one."""
    from app.inference import InferenceEngine
    from eventcore.labels import CLASS_NAMES
    from model.networks import CONFIGS, build_network

    cfg = CONFIGS[config]
    meta = {"class_names": CLASS_NAMES, "trained_on": "untrained (benchmark)",
            "windowing": {"window_us": 1_000_000, "hop_us": 100_000, "split_by": "number"}}
    return InferenceEngine(build_network(cfg), cfg, meta, device="cpu", record=True, name=f"{config} (untrained)")


def synthetic_source(seconds: float = 10.0):
    from app.sources.base import ArraySource
    from tests.fixtures import rotating_bar

    return ArraySource(rotating_bar(int(seconds * 1e6), rate=150_000), 128, 128, name="synthetic rotating bar")


def log_arrivals(source) -> list[tuple[float, int]]:
    """Record (wall time, newest timestamp) of every batch as the source hands it over."""
    arrivals: list[tuple[float, int]] = []
    batches = source.batches

    def logged():
        for batch in batches():
            if len(batch):
                arrivals.append((time.perf_counter(), int(batch["timestamp"][-1])))
            yield batch

    source.batches = logged
    return arrivals


def pump(app, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.001)


def third_medians(t: np.ndarray, lag: np.ndarray) -> tuple[float, float, float]:
    """Median lag in the first and last third of the run (ms), and the slope (ms per s)."""
    if len(lag) < 6:
        return float("nan"), float("nan"), float("nan")
    k = len(lag) // 3
    slope = np.polyfit(t - t[0], lag, 1)[0]
    return float(np.median(lag[:k])), float(np.median(lag[-k:])), float(slope)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="shipped name or checkpoint (default: shipped default, else untrained small64)")
    p.add_argument("--recording", default=None)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt6.QtWidgets import QApplication

    from app.demo import demo_recordings
    from app.gui.main_window import MainWindow
    from app.inference import InferenceEngine
    from app.sources.open import open_file
    from model.checkpoint import CheckpointError

    app = QApplication([])
    try:
        engine = InferenceEngine.from_checkpoint(args.model, args.device, record=True)
    except CheckpointError:
        if args.model is not None:
            raise
        engine = untrained_engine("small64")
    rec = args.recording or (str(demo_recordings()[0]) if demo_recordings() else None)
    source = open_file(rec) if rec else synthetic_source()
    source.speed, source.loop = 1.0, True
    arrivals = log_arrivals(source)

    win = MainWindow()
    win.resize(1280, 800)
    win.show()
    win.set_engine(engine)
    win.session.source, win.session.spec = source, rec
    win.event_view.set_sensor(source.width, source.height)
    win.session.restart()
    pump(app, 2.0)  # warm up: first inference, first paints

    source.pause()
    pump(app, 0.2)
    r0, t0 = win.redraws, time.perf_counter()
    pump(app, 3.0)
    idle_rate = (win.redraws - r0) / (time.perf_counter() - t0)
    source.resume()

    win.draw_log = []
    r0, t0 = win.redraws, time.perf_counter()
    pump(app, args.seconds)
    rate = (win.redraws - r0) / (time.perf_counter() - t0)
    log = win.draw_log
    win.draw_log = None
    pipe = win.session.pipe
    windows, skipped = pipe.windows_made, pipe.skipped
    history = list(pipe.history)
    win.close()

    arr = np.array(arrivals, dtype=np.float64)
    arr_wall, arr_t = arr[:, 0], arr[:, 1]
    ev_wall, ev_lag = [], []
    for wall, t_drawn, _ in log:
        if t_drawn is None:
            continue
        # the batch that ended with the newest drawn event, latest before this draw (loops repeat times)
        cand = np.nonzero((arr_t == t_drawn) & (arr_wall <= wall))[0]
        if len(cand):
            ev_wall.append(wall)
            ev_lag.append((wall - arr_wall[cand[-1]]) * 1e3)
    pred_wall = np.array([w for w, _, p in log if p is not None])
    pred_lag = np.array([(w - p.t_ready) * 1e3 for w, _, p in log if p is not None])
    gui_share = np.array([(w - p.t_done) * 1e3 for w, _, p in log if p is not None])
    infer = np.array([p.latency_ms for p in history])

    ev_wall, ev_lag = np.array(ev_wall), np.array(ev_lag)
    print(f"machine: {os.cpu_count()} CPU cores, {engine.device_name}, torch threads {__import__('torch').get_num_threads()}")
    print(f"model: {engine.name} (T={engine.T}, {engine.input_size}x{engine.input_size}), "
          f"window {pipe.window_us / 1e3:.0f} ms, hop {pipe.hop_us / 1e3:.0f} ms; source: {source.describe()}, 1x, "
          f"{args.seconds:.0f} s")
    print(f"redraws/s: {rate:.1f} playing vs {idle_rate:.1f} paused baseline (ratio {rate / idle_rate:.2f}); target >= 30")
    for name, w, lag in (("event lag", ev_wall, ev_lag), ("prediction lag", pred_wall, pred_lag)):
        if len(lag):
            first, last, slope = third_medians(w, lag)
            print(f"{name} ms: median {np.median(lag):.0f}, p95 {np.percentile(lag, 95):.0f}, max {lag.max():.0f}; "
                  f"first third {first:.0f} -> last third {last:.0f} (slope {slope:+.1f} ms/s)")
    if len(gui_share):
        print(f"result ready -> drawn ms: median {np.median(gui_share):.1f}, p95 {np.percentile(gui_share, 95):.1f}")
    if len(infer):
        print(f"inference latency ms: median {np.median(infer):.0f}, p95 {np.percentile(infer, 95):.0f}; "
              f"windows {windows}, classified {len(pred_lag)} drawn, skipped {skipped}")


if __name__ == "__main__":
    main()
