"""Geometry: square crop and isotropic scaling of real sensor sizes to the model input."""

from __future__ import annotations

import numpy as np
import pytest

from eventcore.events import make_events
from eventcore.geometry import Geometry


def full_sensor_events(width: int, height: int, n: int = 50_000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    xs, ys = rng.integers(0, width, n), rng.integers(0, height, n)
    # every corner of the sensor too
    xs[:4], ys[:4] = [0, width - 1, 0, width - 1], [0, 0, height - 1, height - 1]
    return make_events(np.arange(n), xs, ys, rng.integers(0, 2, n))


def expected_mapping(ev: np.ndarray, box: tuple[int, int, int], size: int, pad: int = 0, native: bool = False):
    """Reference written with Python integers per event (slow, independent of the code)."""
    x0, y0, side = box
    keep, xs, ys = [], [], []
    for i, (x, y) in enumerate(zip(ev["x"].tolist(), ev["y"].tolist())):
        if x0 <= x < x0 + side and y0 <= y < y0 + side:
            keep.append(i)
            if native:
                xs.append(x - x0 + pad)
                ys.append(y - y0 + pad)
            else:
                xs.append((x - x0) * size // side)
                ys.append((y - y0) * size // side)
    return np.array(keep, dtype=int), np.array(xs), np.array(ys)


def test_dvs128_passes_through_untouched():
    geo = Geometry(128, 128, 128)
    ev = full_sensor_events(128, 128, 1000)
    assert geo.is_identity and geo.crop_box == (0, 0, 128)
    assert geo.apply(ev) is ev


@pytest.mark.parametrize(
    ("w", "h", "box"),
    [
        (346, 260, (45, 2, 256)),  # DAVIS346: k = 2
        (240, 180, (56, 26, 128)),  # DAVIS240: k = 1, centre crop only
        (640, 480, (128, 48, 384)),  # DVXplorer: k = 3
        (260, 346, (2, 45, 256)),  # a portrait-mounted DAVIS346
    ],
)
def test_sensors_centre_crop_and_integer_downscale(w, h, box):
    geo = Geometry(w, h, 128)
    assert geo.crop_box == box and not geo.is_identity
    ev = full_sensor_events(w, h, 20_000, seed=w)
    out = geo.apply(ev)
    keep, xs, ys = expected_mapping(ev, box, 128)
    np.testing.assert_array_equal(out["x"], xs)
    np.testing.assert_array_equal(out["y"], ys)
    np.testing.assert_array_equal(out["timestamp"], ev["timestamp"][keep])
    np.testing.assert_array_equal(out["polarity"], ev["polarity"][keep])
    assert out["x"].min() == 0 and out["x"].max() == 127 and out["y"].min() == 0 and out["y"].max() == 127
    assert ev["x"].max() == w - 1  # input unchanged


def test_crop_box_corners_map_to_output_corners():
    geo = Geometry(346, 260, 128)
    ev = make_events([0, 1, 2, 3, 4, 5], [45, 300, 44, 301, 100, 100], [2, 257, 100, 100, 1, 258], [1] * 6)
    out = geo.apply(ev)
    np.testing.assert_array_equal(out["timestamp"], [0, 1])
    np.testing.assert_array_equal(out["x"], [0, 127])
    np.testing.assert_array_equal(out["y"], [0, 127])


def test_sensor_smaller_than_size_is_padded_at_native_scale():
    geo = Geometry(64, 48, 128)
    assert geo.crop_box == (8, 0, 48) and geo.pad == 40
    ev = full_sensor_events(64, 48, 5_000)
    out = geo.apply(ev)
    keep, xs, ys = expected_mapping(ev, geo.crop_box, 128, pad=40, native=True)
    np.testing.assert_array_equal(out["x"], xs)
    np.testing.assert_array_equal(out["y"], ys)
    assert out["x"].min() == 40 and out["x"].max() == 87  # centred: 40 empty pixels each side


@pytest.mark.parametrize(
    ("w", "h", "roi", "size"),
    [
        (346, 260, (10, 4, 256), 128),  # divisible: k = 2
        (346, 260, (100, 50, 128), 128),  # a pure shift
        (346, 260, (0, 0, 200), 128),  # not divisible: floor(d * 128 / 200)
        (128, 128, (32, 32, 64), 128),  # smaller than size: upsampled x2
        (640, 480, (639, 479, 1), 64),  # one pixel
    ],
)
def test_roi(w, h, roi, size):
    geo = Geometry(w, h, size, roi=roi)
    assert geo.crop_box == roi and not geo.is_identity
    ev = full_sensor_events(w, h, 20_000, seed=roi[2])
    ev = np.concatenate([ev, make_events([0], [roi[0] + roi[2] - 1], [roi[1] + roi[2] - 1], [1])])
    out = geo.apply(ev)
    keep, xs, ys = expected_mapping(ev, roi, size)
    np.testing.assert_array_equal(out["x"], xs)
    np.testing.assert_array_equal(out["y"], ys)
    if roi[2] >= size:  # the ROI's far corner reaches the input's far corner
        assert out["x"][-1] == out["y"][-1] == size - 1


@pytest.mark.parametrize(
    "geo",
    [
        Geometry(346, 260, 128),
        Geometry(240, 180, 128),
        Geometry(640, 480, 128),
        Geometry(640, 480, 64),
        Geometry(64, 48, 128),
        Geometry(346, 260, 128, roi=(3, 7, 251)),
        Geometry(346, 260, 96, roi=(86, 0, 260)),
    ],
    ids=repr,
)
def test_no_event_maps_outside_the_input(geo):
    out = geo.apply(full_sensor_events(geo.sensor_width, geo.sensor_height, 30_000))
    assert len(out) > 0
    for c in ("x", "y"):
        assert out[c].min() >= 0 and out[c].max() < geo.size


def test_empty_batch():
    out = Geometry(346, 260, 128).apply(make_events([], [], [], []))
    assert len(out) == 0


@pytest.mark.parametrize(
    ("roi", "match"),
    [
        ((-1, 0, 100), "does not fit"),
        ((0, -5, 100), "does not fit"),
        ((300, 0, 100), "does not fit"),
        ((0, 0, 261), "does not fit"),
        ((0, 0, 0), "side must be positive"),
        ((0, 0, -10), "side must be positive"),
    ],
)
def test_bad_roi_raises(roi, match):
    with pytest.raises(ValueError, match=match):
        Geometry(346, 260, 128, roi=roi)


def test_bad_sizes_raise():
    with pytest.raises(ValueError, match="sensor size"):
        Geometry(0, 260, 128)
    with pytest.raises(ValueError, match="input size"):
        Geometry(346, 260, 0)


def test_count_gain_restores_the_event_density_of_the_default_square():
    from eventcore.transforms import input_chain

    assert Geometry(128, 128, 64).count_gain == 1.0 == Geometry(346, 260, 64).count_gain
    assert Geometry(128, 128, 64, roi=(32, 32, 64)).count_gain == 4.0  # half the side: a quarter of the pixels
    assert Geometry(346, 260, 128, roi=(45, 2, 128)).count_gain == 4.0  # DAVIS346: its default square is 256
    # a uniform scene read through a zoomed square gives the model the counts per pixel of the whole square
    ev = full_sensor_events(128, 128, 400_000, seed=3)
    whole = input_chain(128, 128, T=1, input_size=(64, 64))(ev)
    zoomed_chain = input_chain(128, 128, T=1, input_size=(64, 64), roi=(25, 25, 77))
    zoomed = zoomed_chain(ev)
    assert zoomed_chain.frames.gain == pytest.approx((128 / 77) ** 2)
    assert zoomed.mean() == pytest.approx(whole.mean(), rel=0.03)
    assert zoomed_chain.frames.batch([zoomed_chain.events(ev)]).mean() == pytest.approx(zoomed.mean())
