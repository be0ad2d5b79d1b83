"""What a run leaves in OUT_DIR: the checkpoint, its model card, the training curve, gpu_report.json."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

REPORT = "gpu_report.json"
CURVE = "training_curve.png"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_log(path: Path) -> list[dict]:
    """``model.train``'s log.jsonl (one dict an epoch); empty when absent."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def training_curve(log: list[dict], path: Path, title: str) -> Path | None:
    """Loss and training accuracy per epoch (and test accuracy where evaluated), as a PNG."""
    if not log:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in log]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(epochs, [r["loss"] for r in log], "o-", color="tab:red", label="training loss (MSE)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss", color="tab:red")
    acc = ax.twinx()
    acc.plot(epochs, [r["train_acc"] for r in log], "s-", color="tab:blue", label="training accuracy")
    tested = [(r["epoch"], r["test_acc"]) for r in log if "test_acc" in r]
    if tested:
        acc.plot(*zip(*tested), "D", color="black", label="simulated test accuracy")
    acc.set_ylim(0, 1)
    acc.set_ylabel("accuracy", color="tab:blue")
    fig.legend(loc="lower center", ncol=3, fontsize=7)
    ax.set_title(title, fontsize=8)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def gpu_section(report: dict) -> str:
    """The model card's section on where and how fast it was trained and measured (from gpu_report.json)."""
    m, t, res = report["machine"], report.get("training", {}), report.get("results", {})
    gpus = ", ".join(g["name"] for g in m.get("gpus", [])) or f"CPU ({m.get('cpu')}, dry run)"
    lines = [f"Trained by `{report['command']}` on {gpus} ({m.get('cpu_cores')} CPU cores, torch {m.get('torch')}, "
             f"CUDA {m.get('torch_cuda')}, driver {m.get('driver', '-')}), {report.get('started', '?')}:",
             f"{t.get('epochs', '?')} epochs in {t.get('train_s', 0):.0f} s, batch {t.get('batch', '?')} a GPU "
             f"x {t.get('world', 1)} (largest that fit: {t.get('largest_fit', '?')}), lr {t.get('lr', 0):.2g}, "
             f"{t.get('amp_dtype', '?')} mixed precision, channels-last; stopped by: {t.get('stopped_by', '?')}."]
    lat = res.get("latency_batch1", {})
    if lat:
        lines += ["", "| batch-1 latency | median ms | p95 ms |", "| --- | --- | --- |"]
        lines += [f"| {k} | {v['median_ms']:.2f} | {v['p95_ms']:.2f} |" for k, v in lat.items()]
        c = res.get("compile", {})
        if "median_ms" in c:
            lines.append(f"| torch.compile ({c['precision']}) | {c['median_ms']:.2f} | {c['p95_ms']:.2f} |")
    flips = res.get("test", {}).get("flips_test", {})
    for k, f in flips.items():
        lines.append(f"\nDecisions changed from fp32 by {k}: {f['changed']} of {f['windows']} test windows.")
    return "\n".join(lines)


def write_outputs(out: Path, run_dir: Path, name: str, report: dict) -> dict:
    """Copy the last checkpoint and log into ``out``; draw the curve; return the files written."""
    files = {}
    last = run_dir / "last.pt"
    if last.is_file():
        shutil.copyfile(last, out / f"{name}.pt")
        files["checkpoint"] = f"{name}.pt"
        report["checkpoint_sha256"] = sha256(out / f"{name}.pt")
    log = read_log(run_dir / "log.jsonl")
    if log:
        shutil.copyfile(run_dir / "log.jsonl", out / "log.jsonl")
        files["log"] = "log.jsonl"
    if training_curve(log, out / CURVE, f"{name}: {report.get('machine', {}).get('host', '')}"):
        files["curve"] = CURVE
    return files


def goals(results: dict, small64_accuracy: float | None) -> dict:
    """The issue's targets against the measured figures: half-precision batch-1 median at most 3 ms, at most 1 %
    of decisions changed from fp32 (test and training windows together), accuracy at least small64's."""
    out = {}
    lat = results.get("latency_batch1", {})
    half = {k: v["median_ms"] for k, v in lat.items() if k != "fp32"}
    if half:
        best = min(half, key=half.get)
        out["half_batch1_median_ms"] = {"precision": best, "value": half[best], "goal": 3.0, "met": half[best] <= 3.0}
    test = results.get("test", {})
    for k in ("fp16", "bf16"):
        flips = [test.get(f, {}).get(k) for f in ("flips_test", "flips_train_windows")]
        if all(flips):
            changed, windows = sum(f["changed"] for f in flips), sum(f["windows"] for f in flips)
            out[f"decisions_changed_{k}"] = {"value": changed / max(windows, 1), "windows": windows, "goal": 0.01,
                                             "met": changed <= 0.01 * windows}
    if "accuracy" in test and small64_accuracy is not None:
        acc = test["accuracy"]["fp32"]
        out["accuracy_vs_small64"] = {"value": acc, "small64": small64_accuracy, "met": acc >= small64_accuracy}
    return out
