"""Automatic framing: the zoom chosen by the network's own confidence, and the pipeline that applies it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from app.inference import InferenceEngine, ModelResult
from app.pipeline import Pipeline
from app.sources.base import ArraySource
from eventcore.decision import DECISION
from eventcore.events import as_events
from eventcore.framing import FramingSettings, framing_step, initial_state, pick_zoom, zoom_box
from tests.fixtures import make_events, tiny_config, write_checkpoint

ST = FramingSettings(zooms=(1.0, 1.25, 1.5, 1.67), span=3, min_gain=0.05, pick_gain=0.05, min_rate=0.15)


def r(rate: float, top: int = 3) -> np.ndarray:
    """Class rates with ``top`` on top at ``rate`` (the rest share what is left)."""
    out = np.full(11, min(rate, 1 - rate) / 20)
    out[top] = rate
    return out


def test_a_zoom_takes_over_once_its_gain_on_the_same_windows_reaches_min_gain():
    s = initial_state(ST)
    assert s.current == 0 and s.probe == 1
    s = framing_step(ST, s, r(0.60), r(0.62))  # zoom 1.25: +0.02, not enough
    assert s.current == 0 and s.probe == 2
    s = framing_step(ST, s, r(0.60), r(0.80))  # zoom 1.5: +0.20 takes over
    assert s.current == 2 and s.gain[2] == 0.0
    np.testing.assert_allclose(s.gain[[0, 1]], [-0.20, -0.18])  # re-referenced to the zoom in force
    assert s.probe == 3
    s = framing_step(ST, s, r(0.80), r(0.70))  # zoom 1.67 worse: stays
    assert s.current == 2 and s.probe == 0, "the probe skips the zoom in force"


def test_an_idle_hop_teaches_nothing_and_a_single_zoom_never_probes():
    s = initial_state(ST)
    assert framing_step(ST, s, None, r(0.9)) is s
    lost = framing_step(ST, s, r(0.5), None)  # the probe's zoom lost the subject: no gain, next zoom
    assert lost.current == 0 and np.isnan(lost.gain[1]) and lost.probe == 2
    one = FramingSettings(zooms=(1.0,))
    s1 = initial_state(one)
    assert s1.probe == s1.current == 0 and framing_step(one, s1, r(0.2), r(0.9)) is s1


def test_a_crop_that_reads_another_class_or_a_scene_rated_near_zero_teaches_nothing():
    """A person walking in: the whole view rates every class near 0 and a crop of the body rates
    some class higher; or the crop reads another gesture. Neither is a better framing."""
    s = initial_state(ST)
    for _ in range(12):
        s = framing_step(ST, s, r(0.05, top=4), r(0.68, top=4))  # below min_rate
        s = framing_step(ST, s, r(0.40, top=4), r(0.90, top=6))  # another class on top
    assert s.current == 0 and np.isnan(s.gain[1:]).all()
    s = framing_step(ST, s._replace(probe=2), r(0.40, top=4), r(0.60, top=4))  # the same class, rated higher
    assert s.current == 2


def test_one_lucky_window_does_not_move_the_framing():
    s = initial_state(ST)._replace(gain=np.array([0.0, -0.2, np.nan, np.nan]))  # zoom 1.25 has been worse
    s = framing_step(ST, s, r(0.6), r(0.8))  # one window 0.2 better: the mean gain is 0.0
    assert s.current == 0, "a running mean, not the last window, decides"
    s = framing_step(ST, s._replace(probe=1), r(0.6), r(0.8))
    assert s.current == 1, "a zoom that stays better takes over"


def test_one_sample_takes_the_zoom_with_the_highest_comparable_gain():
    """classify --whole: the sample read at every zoom at once; the same gate as hop by hop."""
    assert pick_zoom(ST, [r(0.40), r(0.42), r(0.70), r(0.55)]) == 2
    assert pick_zoom(ST, [r(0.40), r(0.43), r(0.44), None]) == 0, "gains below pick_gain keep the whole square"
    assert pick_zoom(dataclasses.replace(ST, pick_gain=0.5), [r(0.40), r(0.42), r(0.70), r(0.55)]) == 0, \
        "one sample's zoom needs pick_gain, not min_gain"
    assert pick_zoom(ST, [r(0.40), r(0.90, top=5), r(0.30), None]) == 0, "another class on top is no gain"
    assert pick_zoom(ST, [r(0.05), r(0.60), r(0.70), r(0.80)]) == 0, "nothing to frame below min_rate"
    assert pick_zoom(FramingSettings(zooms=(1.0,)), [r(0.4)]) == 0


@pytest.mark.parametrize("box,zoom,want", [((0, 0, 128), 1.0, (0, 0, 128)), ((0, 0, 128), 1.67, (25, 25, 77)),
                                           ((45, 2, 256), 1.5, (87, 44, 171)), ((10, 20, 64), 2.0, (26, 36, 32))])
def test_zoom_box_is_a_smaller_square_about_the_same_centre(box, zoom, want):
    assert zoom_box(box, zoom) == want


@pytest.mark.parametrize("zooms", [(), (1.5,), (1.0, 0.8), (1.0, 1.5, 1.5)])
def test_framing_settings_refuse_zooms_that_do_not_rise_from_one(zooms):
    with pytest.raises(ValueError, match="rise from 1.0"):
        FramingSettings(zooms=zooms)


@pytest.mark.parametrize("bad", [{"span": 0}, {"min_gain": 1.0}, {"pick_gain": -0.1}, {"min_rate": -0.1}, {"min_rate": 1.5}])
def test_framing_settings_refuse_values_out_of_range(bad):
    with pytest.raises(ValueError, match="min_rate in"):
        FramingSettings(**bad)


def small_subject(seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    """A far subject: events only within 16 px of the centre of a 128x128 sensor."""
    rng = np.random.default_rng(seed)
    n = int(60_000 * seconds)
    t = np.sort(rng.integers(0, int(seconds * 1e6), n))
    xy = rng.integers(48, 80, (2, n)).astype(np.int16)
    return make_events(t, xy[0], xy[1], rng.integers(0, 2, n).astype(np.int8))


class SizeEngine:
    """A real engine whose rates say how much of the input the events span (a stand-in for the
    network rating a bigger figure higher, as ``benchmarks.robustness`` measured)."""

    def __init__(self, engine: InferenceEngine) -> None:
        self.engine, self.batches, self.gains = engine, [], []

    def __getattr__(self, name):
        return getattr(self.engine, name)

    def infer(self, windows, gains=None):
        self.batches.append(len(windows))
        self.gains.append(gains)
        out = []
        for w in windows:
            span = (int(w["x"].max()) - int(w["x"].min())) / self.engine.input_size if len(w) else 0.0
            rates = np.full(11, (1 - min(span, 0.9)) / 10)
            rates[3] = min(span, 0.9)
            out.append(ModelResult(rates, [], []))
        return out


def test_the_pipeline_zooms_onto_a_far_subject_with_one_extra_window_a_hop(tmp_path):
    ckpt = write_checkpoint(tmp_path / "tiny.pt", tiny_config("tiny", (1,)), 0, "untrained (test)")
    eng = SizeEngine(InferenceEngine.from_checkpoint(ckpt, device="cpu"))
    got = []
    pipe = Pipeline(ArraySource(small_subject(), 128, 128, name="far"), eng, framing=ST, on_result=got.append)
    pipe.start()
    assert pipe.wait(60)
    pipe.stop()
    assert pipe.error is None and len(got) >= 20
    assert got[0].crop_box == (0, 0, 128) and got[-1].crop_box == zoom_box((0, 0, 128), 1.67)
    assert got[-1].framing.current == 3
    assert all(n == len(p.window_rates) + 1 for n, p in zip(eng.batches, got)), "one probe window a hop"
    side = zoom_box((0, 0, 128), 1.67)[2]
    assert eng.gains[-1][:-1] == [pytest.approx((128 / side) ** 2)] * len(got[-1].window_rates), \
        "the zoomed windows' counts scaled back to the density of the whole square"
    assert eng.gains[0][0] == 1.0
    plain = []
    pipe = Pipeline(ArraySource(small_subject(), 128, 128, name="far"), eng, on_result=plain.append)
    pipe.start()
    assert pipe.wait(60)
    pipe.stop()
    assert len(plain) == len(got) and {p.crop_box for p in plain} == {(0, 0, 128)}
    assert plain[-1].framing is None


def test_an_empty_room_costs_no_probe_window(tmp_path):
    rng = np.random.default_rng(3)
    n = 600  # 400 events a second: far below an empty room's 2,000 a window
    quiet = make_events(np.sort(rng.integers(0, 1_500_000, n)), rng.integers(0, 128, n).astype(np.int16),
                        rng.integers(0, 128, n).astype(np.int16), rng.integers(0, 2, n).astype(np.int8))
    subject = small_subject()
    subject["timestamp"] += 1_500_000
    ckpt = write_checkpoint(tmp_path / "tiny.pt", tiny_config("tiny", (1,)), 0, "untrained (test)")
    eng = SizeEngine(InferenceEngine.from_checkpoint(ckpt, device="cpu"))
    got = []
    pipe = Pipeline(ArraySource(as_events(np.concatenate([quiet, subject])), 128, 128, name="empty, then a far subject"), eng,
                    framing=ST, on_result=got.append)
    pipe.start()
    assert pipe.wait(60)
    pipe.stop()
    assert pipe.error is None
    probed = [size > len(p.window_rates) for size, p in zip(eng.batches, got)]
    idle = [p.n_events < DECISION.min_events for p in got]
    assert any(idle) and not any(a and b for a, b in zip(probed, idle)), "no probe while the room is empty"
    assert all(a for a, b in zip(probed, idle) if not b), "one probe a hop once the subject is there"
    assert got[-1].crop_box == zoom_box((0, 0, 128), 1.67)
