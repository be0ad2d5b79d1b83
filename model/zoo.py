"""The shipped checkpoints, by name (``model/weights/<name>.pt``), and name-or-path lookup."""

from __future__ import annotations

from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
# The paper's dvs128_paper network needs a GPU to train; until weights for it are shipped,
# the small real-time configuration is the default.
PREFERRED = ("dvs128_paper", "small64")


def user_models_dir() -> Path:
    """Where fine-tuned checkpoints go (``main.py finetune``): ``$XDG_DATA_HOME/tcja-gesture/models``."""
    import os

    root = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return root / "tcja-gesture" / "models"


def shipped_models() -> list[str]:
    """Names of the checkpoints shipped in ``model/weights``."""
    return sorted(p.stem for p in WEIGHTS_DIR.glob("*.pt"))


def default_model() -> str:
    names = shipped_models()
    for name in PREFERRED:
        if name in names:
            return name
    if not names:
        raise FileNotFoundError(f"no shipped model in {WEIGHTS_DIR}: pass a checkpoint path with --model")
    return names[0]


def resolve_model(model: str | Path | None) -> Path:
    """A shipped name -> its file; an existing path -> itself; else a clear error."""
    from eventcore.errors import CheckpointError

    if model is None:
        try:
            model = default_model()
        except FileNotFoundError as err:
            raise CheckpointError(str(err)) from None
    path = Path(model)
    if path.suffix == ".pt" or path.exists() or "/" in str(model):
        if not path.is_file():
            raise CheckpointError(f"{path}: no such checkpoint file")
        return path
    if str(model) in shipped_models():
        return WEIGHTS_DIR / f"{model}.pt"
    if (user_models_dir() / f"{model}.pt").is_file():  # a model fine-tuned on the user's own takes
        return user_models_dir() / f"{model}.pt"
    raise CheckpointError(f"unknown model {model!r}: shipped models are {', '.join(shipped_models()) or 'none'}; "
                          f"fine-tuned ones are found by name in {user_models_dir()}; or pass a .pt path")
