"""False gestures on REAL recordings that hold no gesture (cars, boxes, a rotating disk):
the share of the app's live windows in which a model names a gesture.

    python -m benchmarks.false_gestures [--model small64|CHECKPOINT] [--framing off|auto] [--json OUT]

Each recording in ``../shared/data/real`` is played through the app's pipeline (geometry,
1 s window every 100 ms, the decision rule) exactly as ``python main.py --file`` would; a
window "names a gesture" when its decision is one of classes 0-9 (``other_gestures``, 10,
is counted separately). Recordings shorter than one window give no window. Skips with a
message when ``../shared/data/real`` is absent.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from eventcore.framing import DEFAULT_MODE, MODES, framing_mode

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
RECORDINGS = ("davis346_aedat.aedat4", "davis240_translboxes_aedat2.aedat", "davis240_rotdisk_aedat2.aedat",
              "davis346_aestream.aedat4")


def decisions(model: str | Path, path: Path, framing: str = DEFAULT_MODE) -> np.ndarray:
    """The decided class index of every live window of ``path`` (-1 = no gesture)."""
    import torch

    from app.inference import InferenceEngine
    from app.pipeline import run_to_end
    from app.sources.open import open_file

    torch.set_num_threads(2)
    src = open_file(path)
    engine = InferenceEngine.from_checkpoint(model, device="cpu")
    return np.array([p.decision.index for p in run_to_end(src, engine, framing_mode(framing))], dtype=np.int64)


def false_gestures(model: str | Path = "small64", folder: Path = REAL, framing: str = DEFAULT_MODE) -> dict:
    per = {}
    for name in RECORDINGS:
        path = folder / name
        if not path.is_file():
            continue
        d = decisions(model, path, framing)
        per[name] = {"windows": int(len(d)), "gesture_0_9": int(np.sum((d >= 0) & (d <= 9))),
                     "other_10": int(np.sum(d == 10)), "classes": np.bincount(d + 1, minlength=12).tolist()}
    n = sum(v["windows"] for v in per.values())
    g = sum(v["gesture_0_9"] for v in per.values())
    return {"recordings": per, "windows": n, "gesture_0_9": g, "rate_0_9": g / max(n, 1),
            "rate_0_10": (g + sum(v["other_10"] for v in per.values())) / max(n, 1)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="small64", help="shipped model name or checkpoint path")
    ap.add_argument("--framing", choices=MODES, default=DEFAULT_MODE, help=f"the app's automatic framing (default: {DEFAULT_MODE})")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    if not REAL.is_dir():
        print(f"skipped: real recordings not found ({REAL})")
        return
    res = false_gestures(args.model, framing=args.framing)
    for name, v in res["recordings"].items():
        print(f"{name:38s} {v['gesture_0_9']:3d} of {v['windows']:3d} windows name a gesture 0-9 "
              f"({v['other_10']} say other_gestures)")
    print(f"all: {res['gesture_0_9']} of {res['windows']} windows ({res['rate_0_9']:.0%}) name a gesture 0-9; "
          f"with other_gestures {res['rate_0_10']:.0%}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
