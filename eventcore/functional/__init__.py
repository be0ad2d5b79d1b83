"""Pure functions on event arrays (tonic's ``functional`` habit): each takes events and explicit
parameters, returns new events, and holds no state; the random choices come in as an ``rng``.

Augmentation (``model.datasets.augment``), the simulator's camera framing and sensor effects,
and the robustness benchmark all call these, so a "shift by 15 %" means the same everywhere.
"""

from eventcore.functional.events import (
    affine,
    background_noise,
    hot_pixels,
    merge_sorted,
    stretch_time,
    thin,
)

__all__ = ["affine", "background_noise", "hot_pixels", "merge_sorted", "stretch_time", "thin"]
