"""The user set-up transforms: pure functions, the declared training chain, the simulator's set-up."""

from __future__ import annotations

import numpy as np
import pytest

from eventcore.events import make_events
from eventcore.functional import affine, background_noise, hot_pixels, merge_sorted, stretch_time, thin
from model.datasets.augment import CAMERA, USER_SETUPS, Augment, RandomHotPixels, RandomNoise, RandomTempo, RandomThin


def _events(n=20000, x=(0, 128), y=(0, 128), seed=0, span_us=1_000_000):
    rng = np.random.default_rng(seed)
    return make_events(np.sort(rng.integers(0, span_us, n)), rng.integers(*x, n), rng.integers(*y, n),
                       rng.integers(0, 2, n))


def test_affine_shifts_scales_and_rolls_about_the_centre():
    ev = make_events([0, 1, 2], [63, 100, 127], [63, 63, 10], [1, 0, 1])
    moved = affine(ev, 128, 128, dx=10)
    assert moved["x"].tolist() == [73, 110] and moved["y"].tolist() == [63, 63]  # x=137 left the sensor
    half = affine(ev, 128, 128, scale=0.5)
    assert half["x"].tolist() == [63, 82, 95]  # 63.5 + 0.5 * (x - 63.5), rounded half to even
    # +90 deg turns the screen counter-clockwise: a point right of the centre goes up (y smaller)
    up = affine(make_events([0], [100], [63], [1]), 128, 128, roll_deg=90)
    assert up["x"][0] == 63 and up["y"][0] == 27
    assert ev["x"].tolist() == [63, 100, 127]  # input untouched


def test_zoom_in_fills_the_enlarged_area():
    ev = _events(x=(40, 88), y=(40, 88))
    grid = affine(ev, 128, 128, scale=2.0)
    filled = affine(ev, 128, 128, scale=2.0, rng=np.random.default_rng(0))
    assert len(np.unique(grid["x"])) < 60 < len(np.unique(filled["x"]))  # no grid of holes


def test_tempo_thinning_noise_and_hot_pixels():
    ev = _events()
    slow = stretch_time(ev, 2.0)
    assert slow["timestamp"][-1] - slow["timestamp"][0] == pytest.approx(2 * (ev["timestamp"][-1] - ev["timestamp"][0]), abs=2)
    assert 0.45 < len(thin(ev, 0.5, np.random.default_rng(1))) / len(ev) < 0.55
    noise = background_noise(128, 128, 1.0, 0, 1_000_000, np.random.default_rng(2), ev.dtype)
    assert abs(len(noise) - 128 * 128) < 5 * 128 and np.all(np.diff(noise["timestamp"]) >= 0)
    hot = hot_pixels(128, 128, 12, 300.0, 0, 1_000_000, np.random.default_rng(3), ev.dtype)
    pixels = np.unique(hot["y"].astype(int) * 128 + hot["x"])
    assert len(pixels) <= 12 and abs(len(hot) - 3600) < 400
    merged = merge_sorted(ev, noise)
    assert len(merged) == len(ev) + len(noise) and np.all(np.diff(merged["timestamp"]) >= 0)


@pytest.mark.parametrize("chain", [CAMERA, USER_SETUPS], ids=["camera", "user_setups"])
def test_augmentation_never_flips_left_and_right(chain):
    chain = Augment(tuple(s for s in chain.steps if not isinstance(s, (RandomNoise, RandomHotPixels))))  # they add events anywhere
    left = _events(5000, x=(0, 30))
    means = []
    for seed in range(100):
        moved = chain(left, 128, 128, np.random.default_rng(seed))
        assert len(moved) > 0 and moved["x"].mean() < 64  # still left of the centre; a flip would put it near 113
        assert np.all(np.diff(moved["timestamp"]) >= 0)
        means.append(moved["x"].mean())
    assert np.ptp(means) > 5  # it does move the scene


def test_chain_declares_its_steps_and_source_span():
    chain = Augment((RandomTempo((0.75, 1.3)), RandomThin((0.5, 0.5))))
    assert chain.span_factor == pytest.approx(1.3)  # the fastest tempo needs 1.3 s of recording per second
    meta = chain.to_meta()
    assert meta["flip"] is False and [s["step"] for s in meta["steps"]] == ["RandomTempo", "RandomThin"]
    with pytest.raises(ValueError, match="keep"):
        RandomThin((0.0, 1.0))


def test_simulator_setup_places_the_subject_and_leaves_the_default_unchanged():
    from model.simulator.generate import generate_sample
    from model.simulator.setup import SensorFaults, Setup

    base, _ = generate_sample(1, 0.6, seed=3)
    assert np.array_equal(base, generate_sample(1, 0.6, seed=3, setup=Setup())[0])
    right, meta = generate_sample(1, 0.6, seed=3, setup=Setup(dx=0.15))
    assert meta["setup"]["dx"] == 0.15
    assert right["x"].mean() - base["x"].mean() == pytest.approx(0.15 * 128, abs=4)
    small, _ = generate_sample(1, 0.6, seed=3, setup=Setup(scale=0.6))

    def width(ev):  # the events' 10-90 % extent across the view
        return np.ptp(np.percentile(ev["x"], [10, 90]))
    assert width(small) < 0.8 * width(base)
    faulty, _ = generate_sample(1, 0.6, seed=3, faults=SensorFaults(keep=0.5))
    assert 0.4 < len(faulty) / len(base) < 0.6
