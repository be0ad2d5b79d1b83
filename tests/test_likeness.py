"""The pixel likeness judge: occupancy maps, the real preview's layout, and that it tells a
matching recording from a wrong one (the real preview tests need ../shared)."""

from __future__ import annotations

import numpy as np
import pytest

from eventcore.events import make_events
from model.simulator.generate import generate_sample
from model.simulator.likeness import N_SLICES, SLICE_US, class_likeness, likeness, occupancy, read_preview


def _blob(x0: int, y0: int, n_per_slice: int = 400, seed: int = 0) -> np.ndarray:
    """Events filling a 20x20 square at (x0, y0) in every 0.29 s slice."""
    rng = np.random.default_rng(seed)
    n = n_per_slice * N_SLICES
    t = np.sort(rng.integers(0, N_SLICES * SLICE_US, n))
    return make_events(t, x0 + rng.integers(0, 20, n), y0 + rng.integers(0, 20, n), rng.integers(0, 2, n))


def test_occupancy_slices_by_time():
    ev = make_events(np.array([0, SLICE_US, 4 * SLICE_US + 5, 5 * SLICE_US]), np.array([1, 2, 3, 4]),
                     np.array([5, 6, 7, 8]), np.array([1, 0, 1, 1]))
    occ = occupancy(ev)
    assert occ.shape == (5, 128, 128)
    assert occ[0, 5, 1] and occ[1, 6, 2] and occ[4, 7, 3]
    assert occ.sum() == 3  # the event at 1.45 s is past the five slices


def test_likeness_prefers_the_right_place():
    real = occupancy(_blob(10, 10))
    same = class_likeness(real, [occupancy(_blob(10, 10, seed=1))])
    moved = class_likeness(real, [occupancy(_blob(90, 90, seed=1))])
    denser = class_likeness(real, [occupancy(_blob(10, 10, n_per_slice=4000, seed=1))])
    assert same["place"] > 0.9 and moved["place"] < 0.2
    assert same["score"] > denser["score"] > moved["score"]


def test_read_preview_matches_its_description(shared_data):
    real = read_preview(shared_data / "dvsgesture_real_preview.png")
    assert real.shape == (10, 5, 128, 128)
    cover = real.mean((1, 2, 3))
    # arm circles (classes 3-6) sweep far more of the view than a clap or a wave
    assert cover[3:7].min() > 1.5 * cover[[0, 1]].max()
    # right hand wave on the image's left, left hand wave on the right
    assert real[1][..., :64].mean() > real[1][..., 64:].mean()
    assert real[2][..., 64:].mean() > real[2][..., :64].mean()


def test_simulator_is_judged_like_the_real_preview(shared_data):
    """Per class, the simulated class resembles its own real row more than a different class's row."""
    real = read_preview(shared_data / "dvsgesture_real_preview.png")
    samples = [generate_sample(c, 1.5, 300 + c)[0] for c in (1, 2)]
    res = likeness(real[[1, 2]], samples, np.array([0, 1]))
    swapped = likeness(real[[2, 1]], samples, np.array([0, 1]))
    assert res["overall"] > swapped["overall"] + 0.1
    assert res["per_class"][0]["noise"] > 0.5  # background noise as sparse as the real camera's


def test_read_preview_refuses_another_image(tmp_path):
    from PIL import Image

    Image.new("RGB", (300, 200), "white").save(tmp_path / "small.png")
    with pytest.raises(ValueError, match="small.png"):
        read_preview(tmp_path / "small.png")
