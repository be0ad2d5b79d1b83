"""Write the app's demo recordings: simulated gestures with idle pauses, as AEDAT4 plus label files.

Run ``python -m tools.make_demos recordings/``. A tool rather than part of the simulator:
it needs the app's AEDAT4 writer.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from app.sources.recorder import write_aedat4
from eventcore.labels import CLASS_NAMES
from model.simulator.generate import SIZE, generate_sequence


def write_demos(folder: str | Path, seed: int = 0, n: int = 2) -> list[Path]:
    """Write ``n`` AEDAT4 demo recordings (a few gestures with idle pauses) and their label files."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    order = np.random.default_rng(seed).permutation(len(CLASS_NAMES))
    order = np.concatenate([order] * (1 + 3 * n // len(CLASS_NAMES)))
    paths = []
    for i in range(n):
        classes = order[3 * i: 3 * i + 3].tolist()
        events, timeline = generate_sequence(classes, seed=seed * 1000 + i, gesture_s=(2.0, 2.5), pause_s=(1.0, 1.5))
        path = folder / f"synthetic_demo_{i + 1}.aedat4"
        write_aedat4(path, events, SIZE, SIZE, camera="DVS128_synthetic", compression="zstd_high")
        timeline.to_csv(path.with_name(path.stem + "_labels.csv"))
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", help="write the AEDAT4 demo recordings and their label files here")
    ap.add_argument("--n", type=int, default=2, help="number of demo recordings")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    for p in write_demos(args.folder, args.seed, args.n):
        print(p)


if __name__ == "__main__":
    main()
