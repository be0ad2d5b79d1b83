"""The DVS gesture simulator: event format, orientation, determinism, rates, class separation,
sequences with ground truth, and (with ../shared) the teacher network trained on real data."""

from __future__ import annotations

import numpy as np
import pytest

from eventcore.events import EVENT_DTYPE
from eventcore.labels import CLASS_NAMES
from model.simulator.body import IDLE, OTHER_KINDS, Body, _other, gesture_pose, ik
from model.datasets.shards import load_sample
from model.simulator.generate import generate_dataset, generate_sample, generate_sequence, write_dataset
from model.simulator.teacher import denoise

DUR = 0.4


@pytest.fixture(scope="module")
def per_class() -> dict[int, np.ndarray]:
    """One short sample of every class and of idle (-1)."""
    return {c: generate_sample(None if c < 0 else c, DUR, seed=10 + c)[0] for c in range(-1, len(CLASS_NAMES))}


def test_events_are_well_formed(per_class):
    for c, ev in per_class.items():
        assert ev.dtype == EVENT_DTYPE
        assert len(ev) > 0, c
        assert ev["x"].min() >= 0 and ev["x"].max() < 128
        assert ev["y"].min() >= 0 and ev["y"].max() < 128
        assert np.all(np.diff(ev["timestamp"]) >= 0)
        assert ev["timestamp"][0] >= 0 and ev["timestamp"][-1] <= DUR * 1e6
        assert set(np.unique(ev["polarity"])) == {0, 1}


def test_subject_right_hand_is_on_image_left():
    for seed in range(3):
        right = generate_sample(1, DUR, seed)[0]
        left = generate_sample(2, DUR, seed)[0]
        assert np.mean(right["x"] < 64) > 0.65, seed
        assert np.mean(left["x"] >= 64) > 0.65, seed


def test_arm_circle_on_its_side_and_up_top():
    right_cw = generate_sample(3, 1.0, 5)[0]
    left_cw = generate_sample(5, 1.0, 5)[0]
    assert right_cw["x"].mean() < 60 < 68 < left_cw["x"].mean()


@pytest.mark.parametrize("kind", OTHER_KINDS)
def test_other_gestures_keep_moving_and_go_where_they_say(kind):
    t = np.arange(0, 6.0, 0.005)  # longer than a training sample: a held "other" must not freeze
    rng = np.random.default_rng(1)
    body = Body.random(rng)
    rest = gesture_pose(IDLE, t, body, rng)
    right, left = _other(kind, t, body, rng, rest)
    hands = np.stack([right[3], left[3]])  # [2, F, 2]
    speed = np.linalg.norm(np.diff(hands, axis=1), axis=-1).max(0) / 0.005  # the faster hand, px/s
    for part in np.array_split(speed, 3):
        assert part.max() > 60, kind  # a deliberate move, not the wobble
    if kind == "raise":  # both hands above the head at some time
        assert (hands[..., 1] < rest.head[None, :, 1]).all(0).any()
    if kind == "touch_head":
        assert np.linalg.norm(hands - rest.head[None], axis=-1).min() < 2 * body.head_r
    if kind == "gesticulate":  # both hands in front of the chest, below the shoulders
        assert (np.abs(hands[..., 0] - body.cx) < 45).mean() > 0.9
        assert (hands[..., 1] > body.shoulder_y - 10).mean() > 0.9
    with pytest.raises(ValueError, match="other gesture"):
        _other("jump", t, body, rng, rest)


@pytest.mark.parametrize("seed", range(4))
def test_reaching_arms_rest_between_moves(seed):
    """A reaching arm stops at each place it reaches (a quarter of the time or more): a smooth path
    that never stops traced loops, which both judges read as arm circles or waves (README)."""
    t = np.arange(0, 6.0, 0.005)
    rng = np.random.default_rng(seed)
    body = Body.random(rng)
    rest = gesture_pose(IDLE, t, body, rng)
    for hand in (arm[3] for arm in _other("reach", t, body, rng, rest)):
        speed = np.linalg.norm(np.diff(hand, axis=0), axis=-1) / 0.005
        if speed.max() > 60:  # this arm reaches (the other may hang)
            assert np.mean(speed < 25) >= 0.25, np.mean(speed < 25)


def test_same_seed_same_events_other_seed_other_events():
    a, meta = generate_sample(7, DUR, 3)
    b, _ = generate_sample(7, DUR, 3)
    c, _ = generate_sample(7, DUR, 4)
    assert np.array_equal(a, b)
    assert len(a) != len(c) or not np.array_equal(a, c)
    assert meta["class_name"] == "arm_roll" and meta["class_index"] == 7


def test_event_rates_like_real_recordings(per_class):
    rates = {c: len(ev) / DUR for c, ev in per_class.items()}
    gestures = np.array([rates[c] for c in range(len(CLASS_NAMES))])
    assert np.all(gestures[:10] > 10e3) and np.all(gestures < 600e3), rates
    assert rates[10] > 2 * rates[-1], rates  # "other" may rest between moves, but it moves
    assert 30e3 < np.median(gestures) < 500e3
    assert rates[-1] < 0.5 * np.median(gestures)


def test_classes_differ_in_where_events_fall(per_class):
    """Mean event position (x, y) and spread differ between every pair of gesture classes."""
    feats = np.array([[ev["x"].mean(), ev["y"].mean(), ev["x"].std(), ev["y"].std()]
                      for c, ev in per_class.items() if c >= 0])
    d = np.linalg.norm(feats[:, None] - feats[None], axis=-1)
    off_diag = d[~np.eye(len(feats), dtype=bool)]
    assert off_diag.min() > 1.0


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="class index"):
        generate_sample(11, DUR, 0)
    with pytest.raises(ValueError, match="duration"):
        generate_sample(0, 0.0, 0)


def test_inverse_kinematics_reaches_target():
    rng = np.random.default_rng(0)
    body = Body.random(rng)
    sh = np.array([[50.0, 50.0]])
    target = np.array([[70.0, 80.0]])
    elbow, wrist = ik(sh, target, body.upper, body.fore, 1.0)
    assert np.allclose(wrist, target, atol=1e-6)
    assert np.isclose(np.linalg.norm(elbow - sh), body.upper)
    assert np.isclose(np.linalg.norm(wrist - elbow), body.fore)


def test_sequence_labels_match_gesture_activity():
    ev, tl = generate_sequence([1, 2], seed=2, gesture_s=(1.0, 1.2), pause_s=(0.8, 1.0))
    assert list(tl.label) == [1, 2]
    assert np.all(np.diff(ev["timestamp"]) >= 0)
    assert ev["timestamp"][-1] > tl.end_us[-1]
    ev = denoise(ev)  # background activity (about 1.4 Hz a pixel, calibrated) spreads evenly
    truth = tl.truth_at(ev["timestamp"])
    left_side = ev["x"] < 64
    assert left_side[truth == 1].mean() > left_side[truth == 2].mean() + 0.3
    rate = lambda m: m.sum() / (np.ptp(ev["timestamp"][m]) + 1)
    assert rate(truth == -1) < 0.5 * rate(truth >= 0)


def test_dataset_is_labelled_reproducible_and_saved(tmp_path):
    a = generate_dataset(1, seed=1, duration_s=0.2)
    b = generate_dataset(1, seed=1, duration_s=0.2)
    assert [lbl for _, lbl in a] == list(range(len(CLASS_NAMES))) + [-1]
    assert all(np.array_equal(x, y) for (x, _), (y, _) in zip(a, b))
    write_dataset(tmp_path, n_train=1, n_test=1, seed=1, duration_s=0.2, neg_factor=2, test_neg_factor=1)
    train = sorted((tmp_path / "train").glob("*.npz"))
    # the extra no-gesture scene goes to train only: the test split keeps its composition
    assert len(train) == len(a) + 1 and len(list((tmp_path / "train").glob("idle_*.npz"))) == 2
    assert len(list((tmp_path / "test").glob("*.npz"))) == len(a)
    events, label, size = load_sample(tmp_path / "train" / "c03_00000.npz")
    assert label == 3 and tuple(size) == (128, 128)
    assert np.array_equal(events["timestamp"], a[3][0]["timestamp"]) and np.array_equal(events["x"], a[3][0]["x"])


def test_denoise_keeps_connected_events_and_drops_isolated_ones():
    from eventcore.events import make_events
    t = np.array([0, 1000, 2000, 50_000, 70_000])
    x = np.array([10, 11, 11, 90, 10])
    y = np.array([10, 10, 11, 90, 10])
    ev = make_events(t, x, y, np.ones(5))
    kept = denoise(ev)
    # event 1 has its neighbour (10,10) 1 ms before; event 2 has (11,10) 1 ms before;
    # event 0 has no earlier neighbour, event 3 is isolated, event 4's neighbours are 68 ms old.
    assert list(kept["timestamp"]) == [1000, 2000]


def test_teacher_recognises_hand_waves(shared_data):
    from model.simulator.teacher import Teacher, predict

    teacher = Teacher.load(shared_data / "teacher" / "neurobench_dvs_gesture_csnn.pt")
    samples = [generate_sample(c, 1.5, seed)[0] for c in (1, 2) for seed in (0, 1)]
    pred, counts = predict(teacher, samples)
    assert counts.shape == (4, 11)
    assert (pred == np.array([1, 1, 2, 2])).mean() >= 0.75


@pytest.mark.parametrize("cls", [3, 4, 5, 6])
def test_arm_circles_turn_as_in_real_recordings(cls):
    """DVS128 Gesture names the rotation as the subject sees it: 'clockwise' (3, 5) turns
    counter-clockwise on the image (negative), as measured on real recordings (-525..-559 deg
    for 3 and 5, +526..+567 for 4 and 6 over 1.45 s)."""
    from model.simulator.measure import rotation_degrees

    side = "left" if cls in (3, 4) else "right"
    turns = [rotation_degrees(generate_sample(cls, 1.5, seed)[0], side) for seed in (21, 22)]
    want = -1.0 if cls in (3, 5) else 1.0
    for deg in turns:
        assert want * deg > 200, (cls, turns)
    # and about as fast: the real arms turn 525-567 deg in 1.45 s (1.0-1.1 Hz)
    assert 380 < want * np.mean(turns) < 750, (cls, turns)


def test_parameters_stay_physical():
    from model.simulator.params import BOUNDS, CALIBRATED, SimParams

    CALIBRATED.check()
    for name, (lo, hi, unit) in BOUNDS.items():
        assert lo < hi and unit
        with pytest.raises(ValueError, match=name):
            SimParams.from_dict({name: hi * 2 + 1})
    with pytest.raises(ValueError, match="unknown"):
        SimParams.from_dict({"teacher_bonus": 1.0})


def test_short_sleeves_bare_the_forearm_and_change_nothing_else():
    """``bare_forearm_share`` draws the forearm in the skin's colour for that share of subjects,
    leaving the rest of the look (and so the judges' paired comparisons) as it was."""
    from dataclasses import replace

    from model.simulator.params import CALIBRATED
    from model.simulator.render import Look

    for seed in range(5):
        long_ = Look.random(np.random.default_rng(seed), replace(CALIBRATED, bare_forearm_share=0.0))
        short = Look.random(np.random.default_rng(seed), replace(CALIBRATED, bare_forearm_share=1.0))
        assert long_.forearm == long_.sleeve and short.forearm == short.skin
        assert (short.skin, short.shirt, short.sleeve) == (long_.skin, long_.shirt, long_.sleeve)
        assert np.array_equal(short.background, long_.background)
    looks = [Look.random(np.random.default_rng(s)) for s in range(200)]
    assert abs(np.mean([k.forearm == k.skin for k in looks]) - CALIBRATED.bare_forearm_share) < 0.1


def test_threshold_sets_the_event_rate():
    """A lower DVS contrast threshold gives more events from the same scene (same seed)."""
    from dataclasses import replace

    from model.simulator.params import CALIBRATED

    lo = generate_sample(3, DUR, 4, params=replace(CALIBRATED, threshold=0.08, noise_hz=0.05))[0]
    hi = generate_sample(3, DUR, 4, params=replace(CALIBRATED, threshold=0.3, noise_hz=0.05))[0]
    assert len(lo) > 2 * len(hi)


@pytest.mark.parametrize("kind", ["idle", "walker", "objects", "traffic", "spinner", "pan", "flicker", "empty"])
def test_negative_scenes(kind):
    ev, meta = generate_sample(None, DUR, 5, negative=kind)
    assert meta["class_index"] == -1 and meta["scene"] == kind
    assert len(ev) > 0 and ev["x"].max() < 128 and ev["y"].max() < 128
    assert np.all(np.diff(ev["timestamp"]) >= 0)


def test_traffic_moves_along_one_road_at_varied_slopes():
    """A street's vehicles travel along one slope per scene, and scenes cover level and steep roads."""
    from model.simulator.scenes import _traffic

    t = np.linspace(0, 1, 11)
    slopes = []
    for seed in range(40):
        extras = _traffic(t, np.random.default_rng(seed), 0.3)
        ang = [np.arctan2(*(e.a[-1] - e.a[0])[::-1]) % np.pi for e in extras]
        ang = np.unwrap(np.array(ang) * 2) / 2  # directions modulo pi
        assert np.ptp(ang) < 0.3
        slopes.append(np.angle(np.exp(2j * ang[0])) / 2)
    assert min(slopes) < -0.3 and max(slopes) > 0.3


def test_negative_scenes_differ_from_idle():
    """Walkers, moving objects and camera motion make far more events than an idle subject."""
    n = lambda k: np.mean([len(generate_sample(None, DUR, s, negative=k)[0]) for s in (1, 2)])
    idle = n("idle")
    assert n("walker") > 1.5 * idle and n("pan") > 1.5 * idle


def test_dataset_negatives_are_drawn_from_all_kinds(tmp_path):
    from model.simulator.generate import _jobs

    jobs = _jobs(2, 0, 0.2, include_idle=True, neg_factor=3)
    assert sum(j[0] == -1 for j in jobs) == 6 and sum(j[0] == 0 for j in jobs) == 2


def test_dataset_other_factor_adds_other_gestures_and_keeps_existing_seeds():
    from model.simulator.generate import OTHER, _jobs

    base = _jobs(2, 0, 0.2, include_idle=True, neg_factor=3)
    more = _jobs(2, 0, 0.2, include_idle=True, neg_factor=3, other_factor=3)
    assert sum(j[0] == OTHER for j in more) == 6 and sum(j[0] == 1 for j in more) == 2
    assert set(base) <= set(more)  # a dataset on disk is extended, not regenerated


def test_speck_input_bins_events_by_polarity_and_5ms_step():
    from eventcore.events import make_events
    from model.simulator.speck import speck_frames

    ev = make_events(np.array([0, 4_999, 5_000, 12_000]), np.array([1, 1, 2, 3]), np.array([7, 7, 8, 9]), np.array([1, 1, 0, 1]))
    f = speck_frames(ev)
    assert f.shape == (3, 2, 128, 128)
    assert f[0, 1, 7, 1] == 2 and f[1, 0, 8, 2] == 1 and f[2, 1, 9, 3] == 1 and f.sum() == 4


def test_speck_judge_is_quantised_and_recognises_waves(shared_data):
    from model.simulator.speck import Speck, predict

    judge = Speck.load(shared_data / "teacher" / "sinabs_speck_dvs_gesture.pt")
    for kind, w, *_ , thr, vmin in judge.layers:
        assert torch_equal_round(w) and thr >= 1 and vmin == -thr
        assert w.max() <= 127 and w.min() >= -128
    samples = [generate_sample(c, 1.5, seed)[0] for c in (1, 2) for seed in (0, 1)]
    pred, counts = predict(judge, samples)
    assert counts.shape == (4, 11)
    assert (pred == np.array([1, 1, 2, 2])).mean() >= 0.5


def test_judges_read_reaching_arms_as_other_gestures(shared_data, monkeypatch):
    """Both networks trained on real recordings call most simulated reaching "other gestures"
    (validation seeds, 25 recordings: teacher 76 %, Speck 64 %); the smooth path it replaced, 52 % and 40 %."""
    from model.simulator import body
    from model.simulator.realism import split_seed
    from model.simulator.speck import Speck, predict as speck_predict
    from model.simulator.teacher import Teacher, predict

    monkeypatch.setattr(body, "OTHER_KINDS", ("reach",))
    samples = [generate_sample(10, 2.0, split_seed("val", 10, i))[0] for i in range(8)]
    teacher = predict(Teacher.load(shared_data / "teacher" / "neurobench_dvs_gesture_csnn.pt"), samples)[0]
    speck = speck_predict(Speck.load(shared_data / "teacher" / "sinabs_speck_dvs_gesture.pt"), samples)[0]
    assert np.mean(teacher == 10) >= 0.5 and np.mean(speck == 10) >= 0.5, (teacher, speck)


def torch_equal_round(w) -> bool:
    import torch

    return bool(torch.equal(w, torch.round(w)))


def test_judge_accuracies_carry_wilson_intervals():
    from model.simulator.realism import per_class, wilson

    lo, hi = wilson(8, 16)  # 50 % from 16 recordings: anything from about 28 % to 72 %
    assert 0.27 < lo < 0.29 and 0.71 < hi < 0.73
    assert wilson(0, 16)[0] == 0.0 and wilson(16, 16)[1] == 1.0 and wilson(16, 16)[0] > 0.8
    assert wilson(80, 160)[1] - wilson(80, 160)[0] < hi - lo  # more recordings, a narrower interval
    labels = np.repeat([3, 5], 4)
    res = per_class(np.array([3, 3, 3, 4, 5, 6, 6, 6]), labels)
    assert res["per_class"]["right_arm_clockwise"] == 0.75 and res["per_class"]["left_arm_clockwise"] == 0.25
    assert res["per_class_interval"]["left_arm_clockwise"] == wilson(1, 4)
    assert res["overall"] == 0.5 and res["interval"] == wilson(4, 8)


def test_arm_circles_reach_as_far_as_real_ones(shared_data):
    """Real arm circles' 60 ms slices reach on average 8.5 px from their edge and 33.5 px from the top
    (one real recording a class); a fully extended arm circling in the image plane reached about
    5 px higher (reach 1.0: 6.6 and 28.3 px over 40 recordings; 0.8: 8.4 and 34.2). Subjects vary, so
    the figures are averaged over the four classes."""
    from model.simulator.measure import arm_extent, event_slices, sheet_slices

    sheet = shared_data / "real_vs_sim_2026-11-30.png"
    sides = {3: "left", 4: "left", 5: "right", 6: "right"}
    real = np.mean([arm_extent(sheet_slices(sheet, c), side) for c, side in sides.items()], 0)
    sim = np.mean([arm_extent(event_slices(generate_sample(c, 1.3, seed)[0]), side)
                   for c, side in sides.items() for seed in range(6)], 0)
    assert np.all(np.abs(sim - real) <= 3.5), (real, sim)


def test_real_arm_circles_lead_with_off(shared_data):
    """Measured on the real 60 ms slices of DVS128 Gesture arm circles: the moving arm's OFF
    edge leads its ON edge (as a darker arm's, or a shaded round limb's, would)."""
    from model.simulator.measure import leading_polarity, sheet_slices

    lead = np.concatenate([leading_polarity(sheet_slices(shared_data / "real_vs_sim_2026-11-30.png", c),
                                            "left" if c in (3, 4) else "right", ccw=c in (3, 5)) for c in (3, 4, 5, 6)])
    assert len(lead) == 24 and np.mean(lead > 0) >= 0.75 and lead.mean() > 2, lead


def test_simulated_arm_circles_lead_with_off_as_in_real_recordings():
    from model.simulator.measure import event_slices, leading_polarity

    lead = np.concatenate([leading_polarity(event_slices(generate_sample(c, 1.5, seed)[0]),
                                            "left" if c in (3, 4) else "right", ccw=c in (3, 5))
                           for c in (3, 4, 5, 6) for seed in (2, 3)])
    assert np.mean(lead > 0) >= 0.65 and lead.mean() > 1, lead


def test_leading_polarity_tells_which_edge_leads():
    """A blob circling counter-clockwise on the image with its OFF half in front measures
    positive; with the halves swapped, or turning the other way, negative."""
    from model.simulator.measure import leading_polarity

    yy, xx = np.mgrid[-6:7, -6:7]
    slices = []
    for a in np.linspace(0, 2 * np.pi, 6, endpoint=False):
        c = np.array([40 + 25 * np.cos(a), 64 + 25 * np.sin(a)])
        tangent = np.array([np.sin(a), -np.cos(a)])  # counter-clockwise on the displayed image (y down)
        x, y = (c[0] + xx).ravel().astype(int), (c[1] + yy).ravel().astype(int)
        on = (xx.ravel() * tangent[0] + yy.ravel() * tangent[1]) < 0  # ON behind, OFF ahead
        slices.append((x, y, on))
    assert np.all(leading_polarity(slices, "left", ccw=True) > 3)
    assert np.all(leading_polarity([(x, y, ~on) for x, y, on in slices], "left", ccw=True) < -3)
    assert np.all(leading_polarity(slices, "left", ccw=False) < -3)
