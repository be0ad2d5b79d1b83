"""Check the machine for a GPU run and describe it: ``python -m tools.gpu_run.env [--cpu]`` prints JSON.

Runs in a child process, so that the parent never holds a CUDA context. ``problem`` is one
line saying what is wrong (CPU-only torch, no driver, a driver too old for torch's CUDA, a GPU
this torch has no kernels for), or null.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig

import torch

CUDA_WHEELS = "https://download.pytorch.org/whl/cu126"


def nvidia_smi() -> dict:
    """Driver version and the CUDA version it supports, from ``nvidia-smi`` (empty when absent)."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return {}
    try:
        out = subprocess.run([exe], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    driver = re.search(r"Driver Version:\s*([\d.]+)", out)
    cuda = re.search(r"CUDA Version:\s*([\d.]+)", out)
    return {"driver": driver and driver.group(1), "driver_cuda": cuda and cuda.group(1)}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def memory_gb() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def _major(version: str | None) -> int | None:
    return int(version.split(".")[0]) if version else None


def cuda_problem(smi: dict) -> str | None:
    """One line saying why CUDA cannot run this torch here, or None."""
    fix = f"install a CUDA build that matches the driver: .venv/bin/pip install torch=={torch.__version__.split('+')[0]} --index-url {CUDA_WHEELS}"
    if torch.version.cuda is None:
        return f"torch {torch.__version__} is a CPU-only build; {fix}"
    if not torch.cuda.is_available():
        try:
            torch.cuda.init()
            why = "no CUDA device is visible"
        except (RuntimeError, AssertionError) as err:
            why = str(err).split(". ")[0].strip()
        if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
            why += " (CUDA_VISIBLE_DEVICES is empty)"
        if smi.get("driver_cuda") and _major(smi["driver_cuda"]) < _major(torch.version.cuda):
            return (f"the NVIDIA driver {smi['driver']} supports CUDA {smi['driver_cuda']} but torch "
                    f"{torch.__version__} needs CUDA {torch.version.cuda}; {fix}")
        return f"CUDA is not usable: {why} (torch {torch.__version__}, built for CUDA {torch.version.cuda})"
    arches = torch.cuda.get_arch_list()
    for i in range(torch.cuda.device_count()):
        major, minor = torch.cuda.get_device_capability(i)
        sm = major * 10 + minor
        ok = any((a.startswith("sm_") and int(a[3:]) // 10 == major and int(a[3:]) <= sm)
                 or (a.startswith("compute_") and int(a[8:]) <= sm) for a in arches if a[-1].isdigit())
        if not ok:
            return (f"GPU {i} ({torch.cuda.get_device_name(i)}, sm_{sm}) has no kernels in torch {torch.__version__} "
                    f"(built for {', '.join(arches)}); {fix}")
    try:
        x = torch.ones(64, 64, device="cuda")
        float((x @ x).sum())
    except RuntimeError as err:
        return f"a first CUDA operation failed: {str(err).splitlines()[0]}"
    return None


def triton_build_problem() -> str | None:
    """Why triton (spikingjelly's CUDA LIF kernels, torch.compile's inductor) cannot build its launchers, or None.

    It compiles a small C file against Python.h with ``$CC``, cc or gcc (``triton/runtime/build.py``)."""
    compiler = shutil.which(os.environ.get("CC") or "cc") or shutil.which("gcc")
    scheme = sysconfig.get_default_scheme()
    include = sysconfig.get_paths(scheme="posix_prefix" if scheme == "posix_local" else scheme)["include"]
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    if compiler is None:
        return "no C compiler (cc/gcc; apt-get install gcc)"
    if not os.path.isfile(os.path.join(include, "Python.h")):
        return f"no Python headers in {include} (apt-get install python{version}-dev)"
    return None


def describe(cpu_only: bool) -> dict:
    """The machine (CPU, memory, GPUs, driver, torch), what is wrong with it, and the run's choices."""
    smi = {} if cpu_only else nvidia_smi()
    problem = None if cpu_only else cuda_problem(smi)
    gpus = []
    if not cpu_only and problem is None:
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            gpus.append({"name": p.name, "memory_gb": round(p.total_memory / 2**30, 1),
                         "capability": f"{p.major}.{p.minor}", "multiprocessors": p.multi_processor_count})
    bf16 = cpu_only or (problem is None and torch.cuda.is_bf16_supported())
    return {
        "problem": problem,
        "host": platform.node(),
        "cpu": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "memory_gb": memory_gb(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        **smi,
        "gpus": gpus,
        "amp_dtype": "bfloat16" if bf16 else "float16",
        "triton_problem": triton_build_problem(),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.gpu_run.env", description=__doc__.splitlines()[0])
    p.add_argument("--cpu", action="store_true", help="describe the machine only (the dry run)")
    args = p.parse_args(argv)
    print(json.dumps(describe(args.cpu)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
