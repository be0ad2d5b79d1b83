"""``model.train`` with the dry run's small test network registered: ``[torchrun ...] -m tools.gpu_run.trainer ARGS``."""

from __future__ import annotations

import sys

from model import train
from model.networks import CONFIGS
from tools.gpu_run.plan import DRY_CONFIG


def register() -> None:
    """Make the dry run's network a ``--config`` choice in this process."""
    CONFIGS.setdefault(DRY_CONFIG.name, DRY_CONFIG)


if __name__ == "__main__":
    register()
    sys.exit(train.main())
