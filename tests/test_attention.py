"""The class evidence map (model.evidence) lies on the moving limb of a simulated gesture, the
backends agree on it, and it travels with the predictions the GUI draws."""

from __future__ import annotations

import numpy as np
import pytest
import pyqtgraph as pg
import torch

from app.inference import InferenceEngine
from model.evidence import class_evidence, coarse_evidence, head_weights
from model.simulator.body import Body, gesture_pose
from model.simulator.generate import STEP_S, generate_sample
from model.simulator.params import CALIBRATED

DURATION_S = 1.5


def segment_distance(px: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance of points ``px`` [N, 2] from the segment a-b."""
    ab = b - a
    t = np.clip(((px - a) @ ab) / max(float(ab @ ab), 1e-9), 0, 1)
    return np.linalg.norm(px - (a + t[:, None] * ab), axis=1)


def waving_hand(cls: int, seed: int, window_us: int) -> tuple[np.ndarray, np.ndarray]:
    """A simulated hand wave's last window (sensor events) and the pixels within 8 px of the waving
    forearm and hand during it (the simulator's own joint positions: generate_sample's draws, repeated)."""
    events, _ = generate_sample(cls, DURATION_S, seed)
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, DURATION_S + 1e-9, STEP_S)
    pose = gesture_pose(cls, t, Body.random(rng, CALIBRATED), rng, CALIBRATED)
    t_end = int(events["timestamp"][-1])
    window = events[events["timestamp"] > t_end - window_us]
    arm = pose.right if cls == 1 else pose.left  # (shoulder, elbow, wrist, hand tip)
    yy, xx = np.mgrid[0:128, 0:128]
    px = np.stack([xx.ravel() + 0.5, yy.ravel() + 0.5], 1)
    dist = np.full(len(px), np.inf)
    for f in np.nonzero(t >= (t_end - window_us) / 1e6)[0][::3]:
        for a, b in ((arm[1][f], arm[2][f]), (arm[2][f], arm[3][f])):
            dist = np.minimum(dist, segment_distance(px, a, b))
    return window, (dist < 8).reshape(128, 128)


@pytest.fixture(scope="module")
def engine() -> InferenceEngine:
    return InferenceEngine.from_checkpoint("small64", device="cpu", record=True, backend="torch")


@pytest.mark.parametrize("cls,seed", [(1, 100), (2, 101)])
def test_evidence_lights_up_the_waving_hand(engine, cls, seed):
    window, arm = waving_hand(cls, seed, engine.window_us)
    chain = engine.input_chain(128, 128)
    (res,) = engine.infer([chain.geometry(window)])
    assert res.evidence_class == cls == int(res.rates.argmax())
    ev = np.kron(res.evidence, np.ones((2, 2)))  # 64x64 model input -> 128x128 sensor (scale 1/2)
    assert ev.shape == (128, 128) and ev.max() == pytest.approx(1.0)
    share = ev[arm].sum() / ev.sum()
    # the forearm and hand cover 10-14 % of the image; measured 0.84 and 0.86 of the map's mass
    assert arm.mean() < 0.2 and share > 0.7, (arm.mean(), share)
    # the coarse class map alone (head weights x last block, 8x8) already picks the waving arm's side
    with torch.inference_mode():
        out = engine.model.forward_with_maps(torch.from_numpy(engine.to_frames.batch([chain.geometry(window)])))
    coarse = coarse_evidence(out.features[0].detach().numpy(), head_weights(engine.model), cls)
    arm_side = coarse[:, :4] if cls == 1 else coarse[:, 4:]  # "right" is the image's left
    assert arm_side.sum() / coarse.sum() > 0.9


def test_each_class_has_its_own_evidence():
    """Two classes whose head weights differ in sign over a feature give disjoint maps."""
    feats = np.zeros((2, 4, 4), np.float32)
    feats[0, :2] = 1.0  # channel 0 fires in the top half, channel 1 in the bottom half
    feats[1, 2:] = 1.0
    weights = np.zeros((2, 2, 2, 2), np.float32)
    weights[0, 0], weights[1, 1] = 1.0, 1.0  # class 0 reads channel 0, class 1 channel 1
    top, bottom = class_evidence(feats, weights, 0), class_evidence(feats, weights, 1)
    assert top[:2].min() == 1.0 and top[2:].max() == 0.0
    assert bottom[2:].min() == 1.0 and bottom[:2].max() == 0.0
    fine = np.zeros((8, 8), np.float32)
    fine[1, 1] = 1.0  # the only firing pixel of the first block
    focused = class_evidence(feats, weights, 0, fine)
    # the firing pixel and its 3x3 neighbourhood (the fine map is smoothed), nothing else
    assert focused.shape == (8, 8) and focused[1, 1] == 1.0 and np.count_nonzero(focused) == 9
    assert focused[:3, :3].min() > 0 and focused[3:].max() == 0 and focused[:, 3:].max() == 0


def drawn(img) -> np.ndarray:
    """The RGB an ImageItem draws (its lookup table applied to its levels)."""
    img.render()
    return pg.functions.ndarray_from_qimage(img.qimage)[..., :3].astype(np.float32)


def test_gate_heatmaps_change_visibly_with_the_input(qtbot, engine):
    """A right-hand wave after a left-arm circle: the drawn gates change visibly (over 5 % of the colour
    range) in both blocks, and many times more than a 0..1 viridis drawing of the raw gates where that
    barely changes (block 3; the numbers are printed)."""
    from app.gui.attention_view import AttentionView

    chain = engine.input_chain(128, 128)
    gates = {}
    for cls in (5, 1):
        events, _ = generate_sample(cls, DURATION_S, 7)
        window = events[events["timestamp"] > events["timestamp"][-1] - engine.window_us]
        gates[cls] = engine.infer([chain.geometry(window)])[0].gates
    view = AttentionView()
    qtbot.addWidget(view)
    view.set_blocks(["block 3", "block 4"])
    assert view.caption is not None and "running mean" in view.caption.text and len(view.bars) == 2
    for _ in range(10):
        view.show_gates(gates[5])
    before = [drawn(img) for img in view.images]
    view.show_gates(gates[1])
    after = [drawn(img) for img in view.images]
    viridis = pg.colormap.get("viridis").getLookupTable(0.0, 1.0, 256).astype(np.float32)
    for b in range(2):
        change = np.abs(after[b] - before[b]).mean() / 255
        old = [viridis[np.clip(gates[c][b] * 255, 0, 255).astype(int)] for c in (5, 1)]
        old_change = np.abs(old[1] - old[0]).mean() / 255
        print(f"block {b + 3}: drawn change {change:.3f}, raw viridis change {old_change:.3f}")
        assert change > 0.05, (b, change, old_change)  # visible in every block
        if old_change < 0.05:  # where the raw gates looked the same, the drawing shows the change
            assert change > 3 * old_change, (b, change, old_change)
        lo, hi = view.bars[b].levels()  # the tracker's scale rounded up to a nice step
        assert lo == -hi and view.trackers[b].level <= hi <= 5 / 3 * view.trackers[b].level  # 3 -> 5 the widest step
