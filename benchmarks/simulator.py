"""Simulator throughput: samples/s and events/s for 1.5 s samples, and the share of time
spent rendering versus in the pixel model. Figures are relative to real time (a ratio
above 1 means faster than the camera would record)."""

from __future__ import annotations

import time

import numpy as np

from eventcore.labels import CLASS_NAMES
from model.simulator.body import Body, gesture_pose
from model.simulator.dvs import PixelParams, log_video_to_events
from model.simulator.generate import STEP_S, generate_sample
from model.simulator.render import SIZE, Look, render

DURATION_S = 1.5


def main() -> None:
    classes = list(range(len(CLASS_NAMES))) + [None]
    generate_sample(0, 0.1, 0)
    t0 = time.perf_counter()
    n_events = sum(len(generate_sample(c, DURATION_S, 100 + i)[0]) for i, c in enumerate(classes))
    wall = time.perf_counter() - t0
    n = len(classes)
    print(f"{n} samples of {DURATION_S} s: {n / wall:.2f} samples/s, {n_events / wall / 1e6:.2f} M events/s, "
          f"{n * DURATION_S / wall:.1f}x real time, {n_events / n / DURATION_S / 1e3:.0f}k events/s of recording")

    rng = np.random.default_rng(0)
    body = Body.random(rng)
    t = np.arange(0.0, DURATION_S, STEP_S)
    pose = gesture_pose(3, t, body, rng)
    look, px = Look.random(rng), PixelParams.random(rng, (SIZE, SIZE))
    t0 = time.perf_counter()
    chunks = list(render(pose, body, look, t, rng))
    t_render = time.perf_counter() - t0
    t0 = time.perf_counter()
    log_video_to_events(chunks, px, rng)
    t_dvs = time.perf_counter() - t0
    print(f"one arm-circle sample: render {t_render * 1e3:.0f} ms, pixel model {t_dvs * 1e3:.0f} ms "
          f"({len(t)} frames at {STEP_S * 1e3:.0f} ms)")


if __name__ == "__main__":
    main()
