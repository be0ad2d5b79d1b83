"""``python -m tools.gpu_run OUT_DIR --minutes 10``: data, training and GPU figures in one command (see __init__)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from model.networks import CONFIGS
from tools.gpu_run.outputs import REPORT, goals, write_outputs
from tools.gpu_run.plan import BUDGET_S, MARGIN_S, Plan, batch_cap, make_plan, scaled_lr, training_budget

PY = sys.executable


class Run:
    """The clock, the log and the report of one run; every child process goes through :meth:`child`."""

    def __init__(self, out: Path, work: Path, minutes: float) -> None:
        self.out, self.work = out, work
        self.t0 = time.monotonic()
        self.deadline = self.t0 + 60.0 * minutes
        self.env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.report: dict = {"started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                             "minutes": minutes, "steps": {}}
        self.procs: list[subprocess.Popen] = []

    def left(self) -> float:
        """Seconds until the run's deadline."""
        return self.deadline - time.monotonic()

    def say(self, msg: str) -> None:
        """Print a line with the run's clock, and keep it in OUT/run.log."""
        line = f"[gpu_run {time.monotonic() - self.t0:6.1f} s] {msg}"
        print(line, flush=True)
        with open(self.out / "run.log", "a") as f:
            f.write(line + "\n")

    def start(self, name: str, cmd: list[str], env: dict | None = None, capture: bool = False) -> subprocess.Popen:
        """Start step ``name`` in a session of its own (stdout captured with ``capture``), noted in the report."""
        shown = shlex.join(["python" if c == PY else c for c in cmd])  # the venv's python, as the README says it
        self.say(f"{name}: {shown}")
        self.report["steps"][name] = {"command": shown, "started_s": round(time.monotonic() - self.t0, 1)}
        # a captured child's stderr goes to a file, not a pipe: a chatty compiler must never fill a pipe nobody reads
        err = open(self.work / f"{name}.stderr", "w") if capture else None
        try:
            proc = subprocess.Popen(cmd, env=env or self.env, start_new_session=True, text=True,
                                    stdout=subprocess.PIPE if capture else None, stderr=err)
        finally:
            if err is not None:
                err.close()
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        """Stop every child still running (its own session: Ctrl-C does not reach it)."""
        for proc in self.procs:
            if proc.poll() is None:
                stop(proc)

    def finish(self, name: str, proc: subprocess.Popen, timeout: float) -> tuple[int | None, str, str]:
        """Wait for ``proc`` at most ``timeout`` s (then stop its whole process group): (rc or None, stdout, stderr)."""
        try:
            out, _ = proc.communicate(timeout=max(timeout, 1.0))
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            stop(proc)
            out, _ = proc.communicate()
            rc = None
        step = self.report["steps"][name]
        step["took_s"] = round(time.monotonic() - self.t0 - step["started_s"], 1)
        step["status"] = "ok" if rc == 0 else "timed out" if rc is None else f"failed (exit {rc})"
        err_file = self.work / f"{name}.stderr"
        err = err_file.read_text(errors="replace") if err_file.is_file() else ""
        if rc != 0 and err.strip():
            step["stderr_tail"] = err.strip().splitlines()[-5:]
        self.say(f"{name}: {step['status']} in {step['took_s']} s")
        return rc, out or "", err

    def child(self, name: str, cmd: list[str], timeout: float, env: dict | None = None) -> dict | None:
        """Run a JSON-printing child: its last stdout line parsed, or None when it failed or timed out."""
        return self.result(name, self.start(name, cmd, env, capture=True), timeout)

    def result(self, name: str, proc: subprocess.Popen, timeout: float) -> dict | None:
        """Wait for a JSON-printing child started by :meth:`start`: its last stdout line parsed, or None."""
        rc, out, _ = self.finish(name, proc, timeout)
        lines = out.strip().splitlines()
        try:
            return json.loads(lines[-1]) if rc == 0 and lines else None
        except json.JSONDecodeError:
            self.report["steps"][name]["status"] = "failed (no result printed)"
            return None


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM the child's process group (torchrun forwards it to its workers), SIGKILL after 15 s."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def data_command(plan: Plan, folder: Path, workers: int) -> list[str]:
    """The simulator's command for the plan's data mix, on ``workers`` processes."""
    d = plan.data
    return [PY, "-m", "model.simulator.generate", "--dataset", str(folder), "--n-per-class", str(d["n_per_class"]),
            "--n-test-per-class", str(d["n_test_per_class"]), "--neg-factor", str(d["neg_factor"]),
            "--other-factor", str(d["other_factor"]), "--duration", str(d["duration"]), "--seed", str(d["seed"]),
            "--workers", str(workers)]


def n_train(plan: Plan) -> int:
    """Training samples the plan's data mix makes (ten gestures, other_gestures, no-gesture scenes)."""
    d = plan.data
    return d["n_per_class"] * (10 + d["other_factor"] + d["neg_factor"])


def train_command(plan: Plan, data: Path, run_dir: Path, world: int, batch: int, lr: float, amp_dtype: str,
                  budget_s: float) -> list[str]:
    """``model.train`` as the run trains: one process, or ``torchrun`` with ``world`` (DDP)."""
    cores = os.cpu_count() or 2
    args = ["--dataset", "simulated", "--data", str(data), "--config", plan.config.name, "--out", str(run_dir),
            "--epochs", str(plan.epochs), "--batch-size", str(batch), "--lr", f"{lr:.6g}",
            "--window-ms", f"{plan.window_ms:g}", "--seed", "0", "--eval-every", "1000000",
            "--amp", "--amp-dtype", amp_dtype, "--channels-last"]
    if plan.dry_run:
        args += ["--device", "cpu", "--threads", "1", "--workers", "0"]
    else:
        args += ["--device", "cuda", "--workers", str(max(1, min(12, cores // world - 1))),
                 "--time-budget-s", f"{budget_s:.0f}"]
    module = ["-m", "tools.gpu_run.trainer"]
    if world > 1:
        return [PY, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={world}", *module, *args]
    return [PY, *module, *args]


def measure_command(checkpoint: Path, device: str, plan: Plan, data: Path | None = None,
                    compile_: bool = False) -> list[str]:
    """The measuring child's command: accuracy, flips, latency and pipeline; or with ``compile_`` torch.compile."""
    cmd = [PY, "-m", "tools.gpu_run.measure", str(checkpoint), "--device", device, "--repeats", str(plan.repeats)]
    if plan.dry_run:
        cmd += ["--threads", "1", "--warmup-s", "0.2"]
    else:
        cmd += ["--workers", str(max(1, min(12, (os.cpu_count() or 2) - 2)))]
    if data is not None:
        cmd += ["--data", str(data)]
    if compile_:
        cmd += ["--compile", "--compile-backend", plan.compile_backend]
    return cmd


def random_checkpoint(plan: Plan, path: Path) -> Path:
    """The network with random weights (the compile warm-up's: compiled code does not depend on weights)."""
    import torch

    from model.checkpoint import CheckpointMeta, Windowing, save_checkpoint
    from model.networks import build_network

    cfg = plan.config
    torch.manual_seed(0)
    meta = CheckpointMeta(tuple(f"class{i}" for i in range(cfg.n_classes)),
                          Windowing(int(plan.window_ms * 1000), 100_000, "number", cfg.input_size, "native"), "random")
    save_checkpoint(path, build_network(cfg), cfg, meta)
    return path


def go(args: argparse.Namespace, run: Run) -> int:
    """Every step of the run, in order; the exit status (2: bad machine, 1: a step failed)."""
    plan = make_plan(args.dry_run, args.config)
    report = run.report
    report["plan"] = {"config": plan.config.name, "data": plan.data, "window_ms": plan.window_ms,
                      "dry_run": plan.dry_run, "budget_s": BUDGET_S}
    env = run.child("env", [PY, "-m", "tools.gpu_run.env"] + (["--cpu"] if plan.dry_run else []), 180)  # torch's import alone took over 60 s on a loaded 2-core machine
    if env is None:
        print("error: the environment check failed (see gpu_report.json)", file=sys.stderr)
        return 2
    report["machine"] = env
    if env["problem"]:
        print(f"error: {env['problem']}", file=sys.stderr)
        return 2
    device = "cpu" if plan.dry_run else "cuda"
    world = args.nproc or (1 if plan.dry_run else len(env["gpus"]))
    if not plan.dry_run and env["triton_problem"]:
        run.env["SJ_LIF_CUDA_IMPLEMENTATION"] = "torch"  # triton builds its kernels' launchers with cc and Python.h
        run.say(f"triton cannot build: {env['triton_problem']}; spikingjelly's LIF runs its torch reference "
                "(batch-1 latency far slower) and torch.compile is skipped")

    data = run.work / "simdata"
    cores = os.cpu_count() or 2
    gen = run.start("data", data_command(plan, data, cores),
                    env=dict(run.env, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1"))
    cap = 2 if plan.dry_run else batch_cap(n_train(plan), world)
    amp_dtype, probe = env["amp_dtype"], None
    # spikingjelly's default CUDA LIF (triton) in bfloat16 first; then its torch reference; then float16
    tries = [("probe", None, amp_dtype)] if plan.dry_run else [
        ("probe", None, amp_dtype), ("probe_torch_lif", "torch", amp_dtype), ("probe_fp16", "torch", "float16")]
    for name, lif, amp_dtype in tries:
        if lif is not None and "SJ_LIF_CUDA_IMPLEMENTATION" not in run.env:
            run.say(f"the training step failed: retrying with spikingjelly's {lif} LIF, {amp_dtype}")
            run.env["SJ_LIF_CUDA_IMPLEMENTATION"] = lif
        probe = run.child(name, [PY, "-m", "tools.gpu_run.probe", "--config", plan.config.name, "--device", device,
                                 "--amp-dtype", amp_dtype, "--cap", str(cap)]
                          + (["--threads", "1"] if plan.dry_run else []), 240)
        if probe is not None:
            break
    if probe is None:
        stop(gen)
        print("error: one training step of the network failed on the device (see gpu_report.json)", file=sys.stderr)
        return 1
    report["probe"] = {**probe, "amp_dtype": amp_dtype, "lif": run.env.get("SJ_LIF_CUDA_IMPLEMENTATION", "default")}
    compile_ok = plan.dry_run or not env["triton_problem"]
    warm = None
    if compile_ok and not plan.dry_run:  # fill the compile caches while the CPUs make the data (the dry run
        # leaves this out to stay short: its command is the compile step's, random_checkpoint has a test)
        ckpt = random_checkpoint(plan, run.work / "random.pt")
        warm = run.start("compile_warmup", measure_command(ckpt, device, plan, compile_=True), capture=True)
    rc, _, _ = run.finish("data", gen, max(run.left() - BUDGET_S["train_start"] - 120, 60))
    if warm is not None:  # a warm-up still compiling when the data is ready gets a minute more, no longer
        run.result("compile_warmup", warm, 60)
    if rc != 0:
        print("error: the simulated data was not generated (see gpu_report.json)", file=sys.stderr)
        return 1

    batch = min(probe["largest"], cap)
    lr = scaled_lr(batch * world)
    run_dir = run.work / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    budget = training_budget(run.left())
    cmd = train_command(plan, data, run_dir, world, batch, lr, amp_dtype, budget)
    rc, _, _ = run.finish("train", run.start("train", cmd), budget + BUDGET_S["train_start"] + 60)
    from tools.gpu_run.outputs import read_log

    log = read_log(run_dir / "log.jsonl")
    report["training"] = {"world": world, "n_train": n_train(plan), "batch": batch, "largest_fit": probe["largest"],
                          "lr": lr, "amp_dtype": amp_dtype, "budget_s": round(budget), "epochs": len(log),
                          "train_s": round(sum(r.get("epoch_s", 0) for r in log), 1),
                          "samples_per_s": log[-1]["samples_per_s"] if log else None,
                          "stopped_by": ("epoch limit" if len(log) == plan.epochs else "time budget") if rc == 0
                          else report["steps"]["train"]["status"]}
    checkpoint = run_dir / "last.pt"
    if not checkpoint.is_file():
        print("error: training left no checkpoint (see gpu_report.json)", file=sys.stderr)
        return 1

    # On a GPU the compiled timing runs after the others (they would disturb each other's latency);
    # the dry run's figures mean nothing, so there both run at once to keep the test short.
    comp = run.start("compile", measure_command(checkpoint, device, plan, compile_=True), capture=True) \
        if compile_ok and plan.dry_run else None
    results = run.child("measure", measure_command(checkpoint, device, plan, data),
                        max(run.left() - BUDGET_S["compile"] - BUDGET_S["report"], 60)) or {}
    if compile_ok:
        comp = comp or run.start("compile", measure_command(checkpoint, device, plan, compile_=True), capture=True)
        c = run.result("compile", comp, max(run.left() - BUDGET_S["report"] - MARGIN_S, 30))
        results["compile"] = c["compile"] if c else {"error": report["steps"]["compile"]["status"]}
    else:
        results["compile"] = {"error": f"skipped: {env['triton_problem']}"}
    report["results"] = results
    report["goals"] = goals(results, shipped_accuracy("small64"))
    run.say("goals: " + "; ".join(f"{k} {'met' if v['met'] else 'NOT met'} ({v['value']:.4g})"
                                  for k, v in report["goals"].items()))
    return 0


def shipped_accuracy(name: str) -> float | None:
    """A shipped model's simulated test accuracy (what dvs128_paper must reach to ship), or None."""
    from model.checkpoint import load_checkpoint
    from model.zoo import WEIGHTS_DIR

    path = WEIGHTS_DIR / f"{name}.pt"
    return load_checkpoint(path, map_location="cpu")[2].accuracies.get("simulated_test_last_epoch") \
        if path.is_file() else None


def write_card(out: Path, name: str, report: dict) -> bool:
    """The model card, in the shape ``tools.ship`` writes it (teacher and demo figures: ship measures those)."""
    from model.checkpoint import load_checkpoint
    from tools.gpu_run.outputs import gpu_section
    from tools.ship import card_text

    test = report.get("results", {}).get("test")
    if test is None or not (out / f"{name}.pt").is_file():
        return False
    _, cfg, meta = load_checkpoint(out / f"{name}.pt", map_location="cpu")
    t, d = report["training"], report["plan"]["data"]
    acc = {"accuracy": test["accuracy"]["fp32"], "n_test": test["n_test"], "protocol": "last epoch; " + test["protocol"]}
    notes = {"command": report["steps"]["train"]["command"], "epochs": t["epochs"], "time": f"{t['train_s']:.0f} s",
             "machine": ", ".join(g["name"] for g in report["machine"]["gpus"]) or "CPU (dry run)",
             "data_command": report["steps"]["data"]["command"], "n_train": t.get("n_train"), **d}
    (out / f"{name}.md").write_text(card_text(name, cfg, meta, acc, test["report_fp32"], None, None, notes,
                                              report["command"], gpu_section(report)))
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.gpu_run", description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path, help="output folder (a few MB: checkpoint, card, curve, gpu_report.json)")
    p.add_argument("--minutes", type=float, default=10.0, help="the whole run's time budget (10)")
    p.add_argument("--config", default="dvs128_paper", choices=sorted(CONFIGS), help="network to train (dvs128_paper)")
    p.add_argument("--dry-run", action="store_true",
                   help="on the CPU: tiny data, one epoch, a small test network (checks the command, not the GPU)")
    p.add_argument("--nproc", type=int, default=None,
                   help="training processes (default: every GPU; the dry run: 1; above 1: torchrun, DDP)")
    p.add_argument("--work", type=Path, default=None, help="data and scratch (default OUT-work; data is reused)")
    args = p.parse_args(argv)
    out = args.out
    work = args.work or out.with_name(out.name + "-work")
    try:
        out.mkdir(parents=True, exist_ok=True)
        work.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        print(f"error: {err.filename}: {err.strerror}", file=sys.stderr)
        return 2
    run = Run(out, work, args.minutes)
    run.report["command"] = "python -m tools.gpu_run " + shlex.join(sys.argv[1:] if argv is None else argv)
    try:
        rc = go(args, run)
    except KeyboardInterrupt:
        rc = 130
    finally:
        run.stop_all()
        name = make_plan(args.dry_run, args.config).config.name
        run.report["outputs"] = write_outputs(out, work / "run", name, run.report)
        try:
            if write_card(out, name, run.report):
                run.report["outputs"]["card"] = f"{name}.md"
        except Exception as err:  # the figures are in gpu_report.json whatever happens to the card
            run.say(f"model card not written: {type(err).__name__}: {err}")
        run.report["total_s"] = round(time.monotonic() - run.t0, 1)
        (out / REPORT).write_text(json.dumps(run.report, indent=1))
    run.say(f"done in {run.report['total_s']} s: {out / REPORT}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
