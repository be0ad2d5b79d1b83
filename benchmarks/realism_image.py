"""Side-by-side picture: real DVS128 Gesture recordings (``../shared/data/dvsgesture_real_preview.png``,
left) beside the simulator (right) in the same layout: classes 0-9, one row each, ON (red)
and OFF (blue) events of five successive 0.29 s slices of a 1.45 s clip on white.

    python -m benchmarks.realism_image docs/real_vs_sim.png [--seed 7]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from eventcore.labels import CLASS_NAMES
from model.simulator.generate import generate_sample
from model.simulator.likeness import PREVIEW_PATH as REAL


def slices_image(events: np.ndarray, n: int = 5, span_us: int = 1_450_000, size: int = 128) -> np.ndarray:
    """RGB [size, n*size + gaps, 3] uint8: ON red, OFF blue over white, one panel per slice."""
    gap = 8
    out = np.full((size, n * size + (n - 1) * gap, 3), 255, np.uint8)
    t = events["timestamp"] - events["timestamp"][0]
    k = (t * n) // span_us
    for i in range(n):
        m = k == i
        x0 = i * (size + gap)
        for pol, color in ((0, (60, 60, 230)), (1, (220, 40, 40))):  # ON drawn over OFF, as the real preview
            mm = m & (events["polarity"] == pol)
            out[events["y"][mm], x0 + events["x"][mm]] = color
    return out


def main(argv: list[str] | None = None) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    rows = [slices_image(generate_sample(c, 1.5, args.seed * 100 + c)[0]) for c in range(10)]
    have_real = REAL.is_file()
    fig, axes = plt.subplots(1, 2 if have_real else 1, figsize=(16 if have_real else 8, 15), squeeze=False)
    if have_real:
        axes[0, 0].imshow(plt.imread(REAL))
        axes[0, 0].set_title("REAL DVS128 Gesture (dvsgesture_real_preview.png)")
    sim = np.concatenate([np.pad(r, ((6, 6), (0, 0), (0, 0)), constant_values=255) for r in rows])
    ax = axes[0, -1]
    ax.imshow(sim)
    ax.set_title(f"SIMULATOR (seed {args.seed}): same slicing, 5 x 0.29 s")
    ax.set_yticks([(i + 0.5) * sim.shape[0] / 10 for i in range(10)], [CLASS_NAMES[c] for c in range(10)])
    for a in axes.ravel():
        a.set_xticks([])
    axes[0, 0].set_yticks([]) if have_real else None
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=80)
    print(args.out)


if __name__ == "__main__":
    main()
