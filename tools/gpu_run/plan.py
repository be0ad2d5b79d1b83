"""What a run does: the data mix, the network, and each step's share of the time budget."""

from __future__ import annotations

from dataclasses import dataclass

from model.networks import CONFIGS, NetConfig

# The shipped small64's data (README, Training): seeds and mix, so both models meet the same test split.
SMALL64_DATA = {"n_per_class": 150, "n_test_per_class": 16, "neg_factor": 3, "other_factor": 3, "duration": 1.5,
                "seed": 0}
DRY_DATA = {"n_per_class": 1, "n_test_per_class": 1, "neg_factor": 1, "other_factor": 1, "duration": 0.5, "seed": 0}
# The dry run's small test network: the real one's layout (2 blocks, a TCJA, voting head) at 32x32, T=4.
DRY_CONFIG = NetConfig(name="gpu_run_dry", T=4, in_channels=2, input_size=(32, 32), channels=(8, 8),
                       tcja_blocks=(1,), head_hidden=32, dropout=0.0)

# Seconds each step may take in a 10-minute run on one H100 with 16 cores, an ESTIMATE scaled from
# 2-core CPU timings (``python -m tools.gpu_run.budget``; README, Training on a GPU) until measured.
# ``data`` runs while ``probe`` and the compile warm-up use the GPU; ``train`` gets what is left.
BUDGET_S = {"env": 20, "data": 150, "train_start": 25, "measure": 60, "compile": 45, "report": 10}
MARGIN_S = 15  # kept free at the end, so that the report is written before the deadline


@dataclass(frozen=True)
class Plan:
    """Everything a run decides before it starts."""

    config: NetConfig
    data: dict
    window_ms: float
    dry_run: bool
    epochs: int  # upper bound; with a time budget training stops when the next epoch would not fit
    compile_backend: str  # "inductor" on a GPU; the dry run traces with "eager" (inductor takes minutes on 2 cores)
    repeats: int  # batch-1 latency calls per precision


def make_plan(dry_run: bool, config: str = "dvs128_paper") -> Plan:
    """The GPU run's plan, or the dry run's (tiny data, one epoch, the small test network)."""
    if dry_run:
        return Plan(DRY_CONFIG, DRY_DATA, 300.0, True, 1, "eager", 5)
    return Plan(CONFIGS[config], SMALL64_DATA, 1000.0, False, 1024, "inductor", 200)


def training_budget(remaining_s: float) -> float:
    """Seconds of training left once the steps after it have their share (never below a minute)."""
    after = BUDGET_S["train_start"] + BUDGET_S["measure"] + BUDGET_S["compile"] + BUDGET_S["report"] + MARGIN_S
    return max(remaining_s - after, 60.0)


def batch_cap(n_train: int, world: int, min_steps: int = 16) -> int:
    """Largest per-GPU batch that still leaves ``min_steps`` optimizer steps an epoch (a power of two)."""
    cap = max(n_train // (world * min_steps), 1)
    return 1 << (cap.bit_length() - 1)


def scaled_lr(batch: int, base_lr: float = 1e-3, base_batch: int = 16) -> float:
    """The paper's Adam rate (1e-3 at batch 16) scaled by the square root of the global batch."""
    return base_lr * (batch / base_batch) ** 0.5
