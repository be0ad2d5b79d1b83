"""A simulated "new user" standing in for a person at a demo, and their teach folder.

The project's simulator (``model.simulator.generate.generate_sample``) makes the gestures;
everything that makes this user *new* is applied afterwards, with parameters the shipped
model never saw in training (it was trained on native 128x128 scenes, shifts up to 8 % and
scales 0.9-1.1, the simulator's own event rates and speeds):

- camera: a DAVIS346 (346x260) instead of a DVS128, so the app centre-crops and scales;
- body and distance: the scene drawn at 0.68 of its size, 14 % right of and 10 % below centre;
- speed: every gesture performed 1.35x faster;
- sensor: 55 % of the events kept (a less sensitive camera) plus 40 k/s uniform noise events.

Example::

    folder = write_user_folder(tmp / "takes", [1, 5, 8], takes_per_class=3)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eventcore.events import make_events


@dataclass(frozen=True)
class NewUser:
    """Post-hoc changes of simulated events that turn the simulator's subject into a new one."""

    sensor: tuple[int, int] = (346, 260)
    scale: float = 0.68  # of the 128x128 scene, relative to the square the app crops
    shift: tuple[float, float] = (0.14, 0.10)  # of that square's side
    speed: float = 1.35
    keep: float = 0.55
    noise_per_s: float = 40_000.0

    def apply(self, events: np.ndarray, duration_s: float, rng: np.random.Generator) -> np.ndarray:
        """Simulated 128x128 events lasting ``duration_s * speed`` -> this user's events lasting ``duration_s``."""
        w, h = self.sensor
        side = (min(w, h) // 64) * 64  # the square the app crops for a 64x64 model
        a = self.scale * side / 128.0
        ev = events[rng.random(len(events)) < self.keep]
        x = np.rint(w / 2 + a * (ev["x"] - 63.5) + self.shift[0] * side)
        y = np.rint(h / 2 + a * (ev["y"] - 63.5) + self.shift[1] * side)
        t = (ev["timestamp"] - (ev["timestamp"][0] if len(ev) else 0)) / self.speed
        inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
        n = int(self.noise_per_s * duration_s)
        t_all = np.concatenate([t[inside], rng.uniform(0, duration_s * 1e6, n)])
        x_all = np.concatenate([x[inside], rng.integers(0, w, n)])
        y_all = np.concatenate([y[inside], rng.integers(0, h, n)])
        p_all = np.concatenate([ev["polarity"][inside], rng.integers(0, 2, n)])
        order = np.argsort(t_all, kind="stable")
        return make_events(t_all[order].astype(np.int64), x_all[order], y_all[order], p_all[order])


def user_take(user: NewUser, class_index: int, duration_s: float, seed: int, t0_us: int = 0) -> np.ndarray:
    """One take of ``class_index`` by ``user``, starting at ``t0_us`` (simulated, then changed)."""
    from model.simulator.generate import generate_sample

    raw, _ = generate_sample(class_index, duration_s * user.speed, seed=seed)
    ev = user.apply(raw, duration_s, np.random.default_rng(seed + 7))
    ev["timestamp"] += t0_us
    return ev


def write_user_folder(folder: Path, classes: list[int], takes_per_class: int, duration_s: float = 2.0,
                      seed: int = 1000, user: NewUser = NewUser(), names: list[str] | None = None) -> Path:
    """A teach folder of ``user`` performing DVS128 classes ``classes`` (named ``names``, default theirs)."""
    from app.teach.folder import TeachFolder
    from eventcore.labels import CLASS_NAMES

    names = names or [CLASS_NAMES[c] for c in classes]
    tf = TeachFolder.create(folder, names, camera="simulated new user (DAVIS346)", sensor=user.sensor,
                            takes_per_class=takes_per_class, take_s=duration_s, source="simulator", simulated=True)
    t0 = 1_000_000
    for take in range(1, takes_per_class + 1):
        for i, c in enumerate(classes):
            ev = user_take(user, c, duration_s, seed + 100 * take + c, t0)
            tf.write_take(i, take, ev)
            t0 += int(duration_s * 1e6) + 500_000
    return folder
