"""``python -m tools.gpu_run``: the CPU dry run of the GPU command, its DDP training under torchrun (gloo),
shipping from its report, and its one-line refusals.

The dry run is the same command as the GPU run (the same child processes, the same training,
measurement and report code) on tiny data, one epoch and a small test network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from model.checkpoint import load_checkpoint
from model.networks import build_network
from model.train import Dist, plan_epochs, weights_digest
from tools import ship
from tools.gpu_run import __main__ as gpu_run
from tools.gpu_run.__main__ import train_command
from tools.gpu_run.outputs import sha256
from tools.gpu_run.plan import DRY_CONFIG, batch_cap, make_plan
from tools.gpu_run.probe import largest_batch

ROOT = Path(__file__).resolve().parents[1]
NAME = DRY_CONFIG.name


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    """OUT_DIR and work folder of one dry run (shared by the tests below)."""
    root = tmp_path_factory.mktemp("gpu_run")
    out = root / "out"
    proc = subprocess.run([sys.executable, "-m", "tools.gpu_run", str(out), "--dry-run"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return out, root / "out-work"


def test_dry_run_trains_measures_and_writes_a_small_out_dir(dry_run):
    out, work = dry_run
    report = json.loads((out / "gpu_report.json").read_text())
    assert {s: v["status"] for s, v in report["steps"].items()} == dict.fromkeys(
        ("env", "data", "probe", "train", "measure", "compile"), "ok")
    # OUT_DIR holds what is copied back, a few files, not the data (which stays in the work folder)
    assert {p.name for p in out.iterdir()} == {f"{NAME}.pt", f"{NAME}.md", "training_curve.png", "log.jsonl",
                                               "gpu_report.json", "run.log"}
    assert sum(p.stat().st_size for p in out.iterdir()) < 1_000_000
    assert len(list((work / "simdata" / "test").glob("*.npz"))) == 12  # one sample of each class and idle
    assert (out / "training_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    _, cfg, meta = load_checkpoint(out / f"{NAME}.pt")
    notes = json.loads(meta.notes)
    assert cfg == DRY_CONFIG and meta.windowing.window_us == 300_000
    assert notes["recipe"]["amp"] == "bfloat16" and notes["recipe"]["channels_last"] is True
    assert report["checkpoint_sha256"] == sha256(out / f"{NAME}.pt")

    t, res = report["training"], report["results"]
    assert t["epochs"] == 1 and t["stopped_by"] == "epoch limit" and t["batch"] == report["probe"]["largest"] == 2
    test = res["test"]
    assert test["n_test"] == 12 and set(test["accuracy"]) == {"fp32", "fp16", "bf16"}
    assert f"({round(test['accuracy']['fp32'] * 12)}/12)" in test["report_fp32"]
    assert {k: v["windows"] for k, v in test["flips_test"].items()} == {"fp16": 12, "bf16": 12}
    assert all(v["median_ms"] > 0 and v["p95_ms"] >= v["median_ms"] for v in res["latency_batch1"].values())
    assert set(res["latency_batch1"]) == {"fp32", "fp16", "bf16"}
    assert res["compile"]["backend"] == "eager" and res["compile"]["max_rate_diff_vs_eager"] == 0.0
    assert res["pipeline"]["recording"] == "synthetic_demo_1.aedat4" and res["pipeline"]["windows"] > 50
    g = report["goals"]  # the targets, judged in the report (the dry run's figures meet or miss them)
    assert set(g) == {"half_batch1_median_ms", "decisions_changed_fp16", "decisions_changed_bf16", "accuracy_vs_small64"}
    assert g["decisions_changed_fp16"]["windows"] == 24 and g["accuracy_vs_small64"]["small64"] > 0.9
    assert g["accuracy_vs_small64"]["met"] == (test["accuracy"]["fp32"] >= g["accuracy_vs_small64"]["small64"])

    card = (out / f"{NAME}.md").read_text()
    assert "trained on SIMULATED gestures" in card and "## Trained on a GPU" in card and "CPU (dry run)" in card
    assert "| torch.compile (fp32) |" in card and "python -m tools.gpu_run.trainer" in card


def test_torchrun_two_ranks_train_disjoint_data_to_identical_weights(dry_run, tmp_path):
    _, work = dry_run
    run_dir = tmp_path / "ddp"
    # the command the GPU run uses on a machine with two GPUs, here on the CPU (gloo)
    cmd = train_command(make_plan(True), work / "simdata", run_dir, 2, 3, 1e-3, "bfloat16", 0)
    assert cmd[1:4] == ["-m", "torch.distributed.run", "--standalone"] and "--nproc_per_node=2" in cmd
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    ranks = [json.loads((run_dir / f"rank{r}.jsonl").read_text()) for r in (0, 1)]
    assert [r["rank"] for r in ranks] == [0, 1] and ranks[0]["epoch"] == ranks[1]["epoch"] == 1
    a, b = (set(r["samples"]) for r in ranks)
    assert len(a) == len(b) == 6 and not a & b and a | b == set(range(12))  # 12 samples, split disjointly
    assert ranks[0]["weights_sha256"] == ranks[1]["weights_sha256"]
    saved, cfg, _ = load_checkpoint(run_dir / "last.pt")
    assert weights_digest(saved) == ranks[0]["weights_sha256"]  # what rank 0 saved is what both ranks hold
    assert weights_digest(build_network(cfg)) != ranks[0]["weights_sha256"]  # and it trained
    log = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    assert len(log) == 1 and log[0]["batches"] == 2 and "test_acc" in log[0]


def test_ship_accepts_the_returned_checkpoint_and_report(dry_run, tmp_path, capsys):
    out, _ = dry_run
    pt, rep = out / f"{NAME}.pt", out / "gpu_report.json"
    args = [str(pt), "--report", str(rep), "--name", NAME, "--weights-dir", str(tmp_path), "--threads", "1"]
    assert ship.main(args) == 0
    _, _, meta = load_checkpoint(tmp_path / f"{NAME}.pt")
    report = json.loads(rep.read_text())
    assert meta.trained_on.startswith("simulated") and meta.accuracies["simulated_test_last_epoch"] == pytest.approx(
        report["results"]["test"]["accuracy"]["fp32"])
    notes = json.loads(meta.notes)
    assert notes["gpu_run"]["training"]["epochs"] == 1 and notes["training"]["machine"] == "CPU (dry run)"
    card = (tmp_path / f"{NAME}.md").read_text()
    assert "## Trained on a GPU" in card and "measured by tools.gpu_run on the GPU" in card
    assert "s of training in a 10-minute run on CPU (dry run)" in card

    # a model below the shipped small64 is refused, in one line
    capsys.readouterr()
    assert ship.main(args + ["--at-least", "small64"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: not shipped: ") and "below small64's" in err and len(err.splitlines()) == 1

    other = tmp_path / "other.json"
    other.write_text(json.dumps({**report, "checkpoint_sha256": "0" * 64}))
    assert ship.main([str(pt), "--report", str(other), "--name", NAME, "--weights-dir", str(tmp_path)]) == 2
    assert "was written for another checkpoint" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a usable GPU: the refusal cannot happen")
def test_without_a_usable_gpu_the_command_says_why_in_one_line(tmp_path, capsys):
    assert gpu_run.main([str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and ("CUDA" in err[0] or "torch" in err[0])
    assert json.loads((tmp_path / "out" / "gpu_report.json").read_text())["machine"]["problem"] in err[0]


def test_largest_batch_stops_at_the_first_out_of_memory():
    def step(batch: int) -> float:
        if batch > 24:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return 0.01 * batch

    found = largest_batch(step, cap=256, device=torch.device("cpu"))
    assert found["largest"] == 16 and found["trials"][32] == {"fits": False} and 64 not in found["trials"]
    assert largest_batch(step, cap=8, device=torch.device("cpu"))["largest"] == 8  # the cap holds
    assert batch_cap(2400, 1) == 128 and batch_cap(2400, 4) == 32 and batch_cap(12, 1) == 1


def test_epochs_are_planned_to_fit_the_time_left():
    import time

    d = Dist(0, 1, torch.device("cpu"))
    now = time.monotonic()
    # two epochs done, the last took 10 s: 55 s left fit 5 more, so 7 in all; never more than the limit,
    # never fewer than done
    assert plan_epochs(100, 2, 10.0, now + 55, d) == 7
    assert plan_epochs(4, 2, 10.0, now + 55, d) == 4
    assert plan_epochs(100, 2, 10.0, now - 1, d) == 2


def test_a_cpu_only_torch_is_named_with_the_fix(monkeypatch):
    from tools.gpu_run import env

    monkeypatch.setattr(torch.version, "cuda", None)
    problem = env.cuda_problem({})
    assert problem.startswith(f"torch {torch.__version__} is a CPU-only build; install a CUDA build")
    assert "--index-url https://download.pytorch.org/whl/cu126" in problem


def test_the_compile_warm_up_checkpoint_is_the_gpu_runs_network(tmp_path):
    plan = make_plan(False)
    net, cfg, meta = load_checkpoint(gpu_run.random_checkpoint(plan, tmp_path / "random.pt"))
    assert cfg.name == "dvs128_paper" and cfg == plan.config and meta.windowing.window_us == 1_000_000
    cmd = gpu_run.measure_command(tmp_path / "random.pt", "cuda", plan, compile_=True)
    assert cmd[-3:] == ["--compile", "--compile-backend", "inductor"] and "--threads" not in cmd
    torch.manual_seed(0)  # the saved weights are the seed-0 network's
    assert weights_digest(net) == weights_digest(build_network(cfg))


def test_missing_python_headers_are_named_before_triton_fails_on_them(monkeypatch, tmp_path):
    import sysconfig

    from tools.gpu_run import env

    assert env.triton_build_problem() is None  # this machine has cc and Python.h
    monkeypatch.setattr(sysconfig, "get_paths", lambda scheme=None: {"include": str(tmp_path)})
    problem = env.triton_build_problem()
    assert problem == f"no Python headers in {tmp_path} (apt-get install python3.11-dev)"


def test_the_gpu_runs_training_command_is_what_model_train_reads():
    from model import train

    plan = make_plan(False)
    cmd = train_command(plan, Path("simdata"), Path("run"), 1, 64, 2e-3, "bfloat16", 300)
    assert cmd[1:3] == ["-m", "tools.gpu_run.trainer"]
    args = train.parse_args(cmd[3:])
    assert (args.config, args.device, args.amp, args.amp_dtype, args.channels_last) == (
        "dvs128_paper", "cuda", True, "bfloat16", True)
    assert (args.batch_size, args.lr, args.window_ms, args.time_budget_s) == (64, 2e-3, 1000.0, 300.0)
    assert args.workers >= 1 and args.epochs == 1024 and args.eval_every > args.epochs
    ddp = train_command(plan, Path("simdata"), Path("run"), 4, 32, 2e-3, "bfloat16", 300)
    assert ddp[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=4"]
