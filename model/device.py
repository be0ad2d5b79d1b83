"""The one place a torch device is chosen and checked (classify, the GUI, training, evaluation).

Example::

    dev = choose_device(args.device)      # torch.device; SettingsError (exit 2) when unusable
    print(device_name(dev))
"""

from __future__ import annotations

import torch

from eventcore.errors import SettingsError

AUTO = (None, "", "auto")


def choose_device(requested: str | torch.device | None = None) -> torch.device:
    """CUDA when available (or asked for), else the CPU; SettingsError for a device this machine lacks."""
    if isinstance(requested, torch.device):
        dev = requested
    elif requested in AUTO:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            dev = torch.device(str(requested).strip())
        except (RuntimeError, ValueError):
            raise SettingsError(f"--device {requested}: unknown device (use cpu, cuda or cuda:N)") from None
    if dev.type not in ("cpu", "cuda"):
        raise SettingsError(f"--device {requested}: unsupported device type {dev.type!r} (use cpu, cuda or cuda:N)")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SettingsError(f"--device {requested}: this machine has no usable CUDA GPU (use --device cpu)")
    if dev.type == "cuda" and (dev.index or 0) >= torch.cuda.device_count():
        raise SettingsError(f"--device {requested}: only {torch.cuda.device_count()} GPU(s) are present")
    return dev


def device_name(dev: torch.device) -> str:
    """A human name for a device: the GPU's model, or "CPU"."""
    return torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU"


def available_devices() -> list[tuple[torch.device, str]]:
    """Every device this machine can run on, with a label (for choosers): the CPU first, then each GPU."""
    out = [(torch.device("cpu"), "cpu")]
    try:
        for i in range(torch.cuda.device_count()):
            out.append((torch.device("cuda", i), f"cuda:{i} ({torch.cuda.get_device_name(i)})"))
    except RuntimeError:  # a broken CUDA install: the CPU still works
        pass
    return out
