"""The inference engine and the threaded pipeline: outputs, no lag behind a live stream,
every window classified when replaying as fast as possible, restarts on seek, compile fallback."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from app.inference import InferenceEngine
from eventcore.geometry import Geometry
from app.pipeline import LatestSlot, Pipeline
from app.sources.base import ArraySource
from tests.fixtures import rotating_bar, tiny_config, write_checkpoint


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return write_checkpoint(tmp_path_factory.mktemp("pipe") / "tiny.pt", tiny_config("tiny", (1, 2)), 0, "untrained (test)")


def model_events(duration_us: int = 300_000, seed: int = 0) -> np.ndarray:
    """A window of the rotating bar in the tiny model's 64x64 input coordinates."""
    return Geometry(128, 128, 64).apply(rotating_bar(duration_us, seed=seed))


def bar_source(seconds: float = 2.0) -> ArraySource:
    return ArraySource(rotating_bar(int(seconds * 1e6)), 128, 128, name="bar")


class SlowEngine:
    """Wraps a real engine and adds a fixed delay per inference, like a slow CPU would."""

    def __init__(self, engine: InferenceEngine, delay_s: float) -> None:
        self.engine, self.delay_s = engine, delay_s

    def __getattr__(self, name):
        return getattr(self.engine, name)

    def infer(self, windows, gains=None):
        time.sleep(self.delay_s)
        return self.engine.infer(windows, gains)


def test_engine_returns_rates_gates_and_maps(ckpt):
    eng = InferenceEngine.from_checkpoint(ckpt, device="cpu", record=True)
    assert (eng.T, eng.input_size, eng.window_us, eng.hop_us) == (8, 64, 300_000, 100_000)
    (res,) = eng.infer([model_events()])
    assert res.rates.shape == (11,) and np.all((res.rates >= 0) & (res.rates <= 1))
    assert [g.shape for g in res.gates] == [(8, 8), (8, 8)]
    assert [m.shape for m in res.spike_maps] == [(64, 64), (32, 32), (16, 16)]
    assert all(((g > 0) & (g < 1)).all() for g in res.gates), "sigmoid gates"
    plain = InferenceEngine.from_checkpoint(ckpt, device="cpu").infer([model_events()])[0]
    np.testing.assert_allclose(plain.rates, res.rates, atol=1e-6)
    assert plain.gates == [] and plain.spike_maps == []


def test_engine_is_stateless_between_windows(ckpt):
    eng = InferenceEngine.from_checkpoint(ckpt, device="cpu")
    a, b = model_events(seed=1), model_events(seed=2)
    first = eng.infer([a])[0].rates
    eng.infer([b])
    np.testing.assert_array_equal(eng.infer([a])[0].rates, first)
    batched = eng.infer([a, b])
    np.testing.assert_allclose(batched[0].rates, first, atol=1e-6)


def test_fast_replay_classifies_every_window(ckpt):
    eng = InferenceEngine.from_checkpoint(ckpt, device="cpu")
    src = bar_source(2.0)
    got = []
    pipe = Pipeline(src, eng, on_result=got.append)
    assert not pipe.drop
    pipe.start()
    assert pipe.wait(60)
    pipe.stop()
    assert pipe.error is None and pipe.skipped == 0
    assert len(got) == pipe.windows_made >= 19
    assert [p.t_end_us for p in got] == sorted(p.t_end_us for p in got)


def test_live_pace_skips_windows_instead_of_lagging(ckpt):
    eng = SlowEngine(InferenceEngine.from_checkpoint(ckpt, device="cpu"), delay_s=0.35)
    src = bar_source(2.5)
    src.speed = 1.0
    got = []
    pipe = Pipeline(src, eng, on_result=got.append)
    assert pipe.drop
    pipe.start()
    assert pipe.wait(30)
    pipe.stop()
    assert pipe.skipped > 0 and len(got) + pipe.skipped == pipe.windows_made
    # the last result is about the end of the stream, not a backlog from its middle
    assert got[-1].t_end_us >= src.end_us - 2 * pipe.hop_us
    assert max(p.latency_ms for p in got) < 2 * 350 + 500


def test_seek_restarts_windows_and_smoothing(ckpt):
    eng = InferenceEngine.from_checkpoint(ckpt, device="cpu")
    src = bar_source(2.0)
    src.batch_us = 50_000
    got = []
    pipe = Pipeline(src, eng, on_result=got.append)
    seen_seek = []

    def on_result(p):
        got.append(p)
        if len(got) == 12 and not seen_seek:
            seen_seek.append(True)
            src.seek(0)

    pipe.on_result = on_result
    pipe.start()
    assert pipe.wait(60)
    pipe.stop()
    t = [p.t_end_us for p in got]
    back = [i for i in range(1, len(t)) if t[i] < t[i - 1]]
    assert len(back) == 1, "time went back once, at the seek"
    i = back[0]
    assert t[i] == t[0], "windows restart on the same grid"
    # window and smoothing both restarted: the same events give the same smoothed decision
    np.testing.assert_allclose(got[i].decision.smoothed, got[0].decision.smoothed, atol=1e-6)


def test_latest_slot_drop_and_block():
    s = LatestSlot(drop=True)
    for i in range(5):
        s.put(i)
    assert s.get() == 4 and s.skipped == 4
    s.close()
    assert s.get() is None


def test_compile_failure_falls_back_to_eager(ckpt, monkeypatch):
    eng = InferenceEngine.from_checkpoint(ckpt, device="cpu")

    def broken(*a, **k):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(torch, "compile", broken)
    states = []
    eng.start_compile(on_done=states.append).join(30)
    assert states == ["eager (compile failed: RuntimeError)"]
    assert eng.infer([model_events()])[0].rates.shape == (11,)


def test_device_choice_is_clear():
    from eventcore.errors import SettingsError
    from model.device import choose_device

    assert choose_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        assert choose_device(None).type == "cpu"
        with pytest.raises(SettingsError, match="no usable CUDA GPU"):
            choose_device("cuda")
    with pytest.raises(SettingsError, match="unknown device"):
        choose_device("tpu")


def test_each_hop_classifies_the_rule_s_nested_windows_and_decides_as_the_rule(ckpt):
    from eventcore.decision import DecisionSettings, DecisionSmoother

    settings = DecisionSettings(fractions=(0.25, 0.5, 1.0), min_events=10)
    eng = InferenceEngine.from_checkpoint(ckpt, device="cpu")
    batches = []

    class Spy(SlowEngine):
        def infer(self, windows, gains=None):
            batches.append([w["timestamp"].copy() for w in windows])
            return self.engine.infer(windows, gains)

    got = []
    pipe = Pipeline(bar_source(1.5), Spy(eng, 0.0), smoother=DecisionSmoother(eng.class_names, settings=settings),
                    on_result=got.append)
    pipe.start()
    assert pipe.wait(60)
    pipe.stop()
    assert pipe.error is None and len(got) == len(batches) >= 10
    replay = DecisionSmoother(eng.class_names, settings=settings)
    lengths = [75_000, 150_000, 300_000]  # the tiny model's 300 ms window
    held = -1
    for p, ts in zip(got, batches):
        n = 2 if held >= 0 else 3  # a held gesture needs only the 0.5 and 1 s windows
        assert len(ts) == n and p.window_rates.shape == (n, 11)
        held = p.decision.index
        for t, length in zip(ts, lengths[-n:]):
            assert len(t) and t[0] >= p.t_end_us - length and t[-1] < p.t_end_us
        assert all(len(a) <= len(b) for a, b in zip(ts, ts[1:])) and ts[0][-1] == ts[-1][-1]
        np.testing.assert_array_equal(p.rates, p.window_rates[-1])
        d = replay.update(p.window_rates, [len(t) for t in ts])
        assert d.index == p.decision.index and d.onset == p.decision.onset
        np.testing.assert_array_equal(d.smoothed, p.decision.smoothed)
