"""Fine-tuning time and held-out accuracy for a simulated new user: ``python -m benchmarks.finetune``.

Makes a teach folder of the simulated "new user" (``tests/teach_user.py``: another camera,
distance, speed, sensitivity and noise than the shipped model was trained on), 11 gestures
x 5 takes of 2 s by default, then fine-tunes the shipped ``small64`` on it and prints the
fine-tuning wall time, the held-out accuracy before and after, the machine and how busy it
was (load average, and the share of two cores this process got). Every figure it prints is
for SIMULATED takes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import torch

from model.finetune import FinetuneSettings, finetune
from tests.teach_user import write_user_folder


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m benchmarks.finetune", description=__doc__.splitlines()[0])
    p.add_argument("--classes", type=int, default=11, help="first N DVS128 Gesture classes (11)")
    p.add_argument("--takes", type=int, default=5, help="takes per gesture (5)")
    p.add_argument("--take-s", type=float, default=2.0)
    p.add_argument("--epochs", type=int, default=FinetuneSettings.epochs)
    p.add_argument("--crops", type=int, default=FinetuneSettings.crops_per_take)
    p.add_argument("--freeze", type=int, default=None)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (1, as main.py finetune)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--data", type=Path, default=None, help="keep the generated teach folder here (reused if present)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="bench-finetune-"))
    data = args.data or tmp / "takes"
    try:
        t0 = time.perf_counter()
        if not (data / "manifest.json").exists():
            write_user_folder(data, list(range(args.classes)), args.takes, duration_s=args.take_s)
        gen_s = time.perf_counter() - t0
        load0 = os.getloadavg()
        cpu0, w0 = time.process_time(), time.perf_counter()
        res = finetune(data, "small64", out_dir=tmp / "models",
                       settings=FinetuneSettings(epochs=args.epochs, crops_per_take=args.crops,
                                                 freeze_blocks=args.freeze),
                       progress=lambda f, m: print(f"  [{f:4.0%}] {m}", flush=True), device=args.device)
        wall = time.perf_counter() - w0
        cpu_s = time.process_time() - cpu0
        cpu_share = cpu_s / wall / (os.cpu_count() or 1)
        load1 = os.getloadavg()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out = {
        "what": f"fine-tune small64 on SIMULATED new-user takes: {args.classes} gestures x {args.takes} takes "
                f"of {args.take_s:g} s (one per gesture held out)",
        "finetune_s": round(res.seconds, 1),
        "finetune_cpu_s": round(cpu_s, 1),
        "before": res.before.describe(),
        "after": res.after.describe(),
        "before_takes": res.before.takes, "after_takes": res.after.takes,
        "before_windows": res.before.windows, "after_windows": res.after.windows,
        "settings": {"epochs": args.epochs, "crops_per_take": args.crops, "freeze": args.freeze,
                     "threads": torch.get_num_threads()},
        "generate_takes_s": round(gen_s, 1),
        "machine": f"{platform.node()}, {os.cpu_count()} cores, torch {torch.__version__}",
        "device": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "CPU",
        "load_average_before_after": [round(load0[0], 2), round(load1[0], 2)],
        "cpu_share_of_all_cores": round(cpu_share, 2),
    }
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
