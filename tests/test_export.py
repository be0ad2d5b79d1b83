"""The ONNX backends answer exactly as the spikingjelly network, on recorded windows, for every
shipped config; the export is cached by the checkpoint's hash and reloads without exporting."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from spikingjelly.activation_based import neuron, surrogate

from app.backends import (BACKENDS, TorchRunner, available_backends, check_backend, default_backend,
                          make_runner)
from app.sources.open import open_file
from eventcore.frames import batch_frames
from eventcore.geometry import Geometry
from model import export
from model.checkpoint import Windowing, load_checkpoint
from model.networks import CONFIGS
from model.zoo import resolve_model
from tests.fixtures import tiny_config, write_checkpoint

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "recordings" / "synthetic_demo_1.aedat4"
ONNX_BACKENDS = [b for b in ("onnxruntime", "openvino") if b in available_backends()]
TOL = 1e-5


def recorded_windows(size: int, T: int, ends_s: list[float], window_us: int = 1_000_000) -> np.ndarray:
    """Frames [T, N, 2, size, size] of the demo recording's windows ending at ``ends_s``."""
    with open_file(DEMO) as src:
        events = Geometry(src.width, src.height, size).apply(src.read_all())
    t = events["timestamp"]
    ends = [int(t[0] + e * 1e6) for e in ends_s]
    wins = [events[np.searchsorted(t, e - window_us):np.searchsorted(t, e)] for e in ends]
    assert all(len(w) > 1000 for w in wins)
    return batch_frames(wins, T, size, size, "number")


def assert_same(ref, out) -> None:
    """Same class per window (unless two classes tie within TOL); rates and gates within TOL;
    spike maps within TOL but for a knife-edge: a membrane within float rounding of its
    threshold may fire in one backend and not in the other (the sums run in another order), one
    spike in at most 0.1 % of a map's entries (measured: 1 of 16,384 entries, onnxruntime, the
    round-3 small64)."""
    top2 = np.sort(ref.rates, 1)[:, -2:]
    decided = top2[:, 1] - top2[:, 0] > TOL  # a tie between two classes has no one answer
    assert np.array_equal(ref.rates.argmax(1)[decided], out.rates.argmax(1)[decided])
    np.testing.assert_allclose(out.rates, ref.rates, rtol=0, atol=TOL)
    assert len(out.gates) == len(ref.gates) and len(out.spike_maps) == len(ref.spike_maps)
    for a, b in zip(ref.gates, out.gates):
        assert a.shape == b.shape
        np.testing.assert_allclose(b, a, rtol=0, atol=TOL)
    for a, b in zip(ref.spike_maps, out.spike_maps):
        assert a.shape == b.shape
        diff = np.abs(b - a)
        assert np.mean(diff > TOL) <= 1e-3 and diff.max() <= 1 / 512, (np.mean(diff > TOL), diff.max())
    if ref.features is not None:  # the class evidence map's input (model.evidence), same knife-edge allowance
        diff = np.abs(out.features - ref.features)
        assert np.mean(diff > TOL) <= 1e-3 and diff.max() <= 1 / 16, (np.mean(diff > TOL), diff.max())


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def small64_reference():
    """Recorded windows and the spikingjelly network's answers to them."""
    cfg = CONFIGS["small64"]
    # inside the demo's labelled gestures (classes 5, 7, 8) and one between them
    frames = recorded_windows(cfg.input_size[0], cfg.T, [2.5, 4.3, 6.0, 9.5])
    return frames, TorchRunner(load_checkpoint(resolve_model("small64"))[0]).run(frames)


@pytest.mark.parametrize("backend", ONNX_BACKENDS)
def test_shipped_small64_answers_exactly_as_spikingjelly(backend, cache, small64_reference):
    frames, ref = small64_reference
    assert ref.rates.max() > 0.1  # the windows make the network answer: the comparison means something
    assert_same(ref, make_runner(backend, resolve_model("small64"), cache_root=cache).run(frames))


@pytest.fixture(scope="module")
def paper_checkpoint(tmp_path_factory) -> Path:
    """dvs128_paper with random weights (seed 0), scaled so spikes reach the head; no weights are shipped."""
    cfg = CONFIGS["dvs128_paper"]
    path = tmp_path_factory.mktemp("paper") / "dvs128_paper_random.pt"
    return write_checkpoint(path, cfg, 0, "random", fc_scale=40,
                            windowing=Windowing(1_000_000, 100_000, "number", cfg.input_size, "native"))


def exact_or_knife_edge(ref, out) -> bool:
    """True if ``out`` matches ``ref`` exactly (``assert_same``); False if the spike maps agree up
    to one block whose map differs only inside one 3x3 neighbourhood. That is a knife-edge: a
    membrane within float rounding of its threshold fires in one backend only, and reaches at
    most a 3x3 convolution's neighbours within its block (measured: 1 entry, or 5 within 3x3).
    In a deep random-weight network the flip then cascades into every later block and the
    rates, so nothing after it can be compared. Anything else fails."""
    for k, (a, b) in enumerate(zip(ref.spike_maps, out.spike_maps)):
        ys, xs = np.nonzero(np.abs(b - a) > TOL)[-2:]  # rows and columns of the differing entries
        if len(ys):
            assert np.ptp(ys) < 3 and np.ptp(xs) < 3, f"spike map {k}: {len(ys)} entries differ, not one neighbourhood"
            return False
    assert_same(ref, out)
    return True


@pytest.mark.slow
def test_dvs128_paper_answers_exactly_in_every_backend(paper_checkpoint, cache):
    """Every window exact or cut by a knife-edge flip, and the whole network (every layer, the
    rates, the decision) exact on at least one window."""
    cfg = CONFIGS["dvs128_paper"]
    runners = {b: make_runner(b, paper_checkpoint, cache_root=cache) for b in ONNX_BACKENDS}
    torch_runner = TorchRunner(load_checkpoint(paper_checkpoint)[0])
    exact = {b: 0 for b in ONNX_BACKENDS}
    for end_s in (2.5, 3.0, 6.0, 9.5):  # one window at a time: a 1.8 M-parameter net
        frames = recorded_windows(cfg.input_size[0], cfg.T, [end_s])
        ref = torch_runner.run(frames)
        assert ref.rates.max() > 0.1 and min(m.mean() for m in ref.spike_maps) > 0.03  # every layer fires (round-5 demos: 3.9 %)
        for backend, runner in runners.items():
            exact[backend] += exact_or_knife_edge(ref, runner.run(frames))
    assert all(exact.values()), exact


def test_plain_lif_fires_bit_identically_to_spikingjelly():
    torch.manual_seed(1)
    x = torch.rand(12, 4, 300) * 1.5
    x[3:6] = 1.0  # exactly at the threshold from rest: h = x / 2 + v / 2
    sj = neuron.LIFNode(tau=2.0, v_threshold=1.0, v_reset=0.0, surrogate_function=surrogate.ATan(),
                        detach_reset=True, step_mode="m")
    with torch.no_grad():
        want = sj(x)
        got = export.PlainLIF.from_node(sj)(x.flatten(1)).reshape(want.shape)
    assert 0 < want.mean() < 1
    assert torch.equal(got, want)


def test_soft_reset_lif_is_refused():
    with pytest.raises(NotImplementedError, match="hard-reset"):
        export.PlainLIF.from_node(neuron.LIFNode(v_reset=None, step_mode="m"))


@pytest.mark.skipif("onnxruntime" not in available_backends(), reason="onnxruntime not installed")
def test_export_is_cached_by_checkpoint_hash(tmp_path, monkeypatch):

    ckpt = write_checkpoint(tmp_path / "a.pt", tiny_config("tiny", (1, 2)), seed=0, trained_on="random")
    first = export.cached_onnx(ckpt, tmp_path / "cache")
    assert first.is_file() and export.file_hash(ckpt)[:32] in first.name
    stamp = first.stat().st_mtime_ns

    def no_export(*_a, **_k):
        raise AssertionError("exported again although the checkpoint did not change")

    monkeypatch.setattr(export, "export_onnx", no_export)
    t0 = time.perf_counter()
    runner = make_runner("onnxruntime", ckpt, cache_root=tmp_path / "cache")
    assert time.perf_counter() - t0 < 5.0
    assert export.cached_onnx(ckpt, tmp_path / "cache") == first and first.stat().st_mtime_ns == stamp
    out = runner.run(np.zeros((8, 2, 2, 64, 64), np.float32))
    assert out.rates.shape == (2, 11) and [g.shape for g in out.gates] == [(2, 8, 8)] * 2
    assert [m.shape for m in out.spike_maps] == [(2, 64, 64), (2, 32, 32), (2, 16, 16)]

    write_checkpoint(ckpt, tiny_config("tiny", (1, 2)), seed=1, trained_on="random")  # new weights, same path
    with pytest.raises(AssertionError, match="exported again"):
        export.cached_onnx(ckpt, tmp_path / "cache")


def test_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert export.cache_dir() == tmp_path / "tcja-gesture"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert export.cache_dir() == Path.home() / ".cache" / "tcja-gesture"


def test_backend_choice(monkeypatch):
    monkeypatch.delenv("TCJA_GESTURE_BACKEND", raising=False)
    assert default_backend("cuda") == "torch"
    assert default_backend("cpu") == next(b for b in ("openvino", "onnxruntime", "torch") if b in available_backends())
    assert set(available_backends()) <= set(BACKENDS) and "torch" in available_backends()
    with pytest.raises(ValueError, match="unknown backend 'tensorrt'"):
        check_backend("tensorrt")
    monkeypatch.setenv("TCJA_GESTURE_BACKEND", "torch")
    assert default_backend("cpu") == "torch"


def wait_for_runner(engine, timeout_s: float = 120.0) -> None:
    t_end = time.perf_counter() + timeout_s
    while engine.runner is None and time.perf_counter() < t_end:
        time.sleep(0.05)
    assert engine.runner is not None, engine.backend_state


@pytest.mark.parametrize("backend", ONNX_BACKENDS)
def test_engine_answers_the_same_through_every_backend(backend, monkeypatch, tmp_path, small64_reference):
    from app.inference import InferenceEngine

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    engine = InferenceEngine.from_checkpoint("small64", "cpu", record=True, backend=backend)
    assert engine.backend == backend
    wait_for_runner(engine)  # exported in the background on a first load; torch answered meanwhile
    frames, ref = small64_reference
    got = engine.infer_frames(np.ascontiguousarray(frames.transpose(1, 0, 2, 3, 4)))
    for i, r in enumerate(got):
        assert r.rates.argmax() == ref.rates[i].argmax()
        np.testing.assert_allclose(r.rates, ref.rates[i], atol=TOL, rtol=0)
        assert [g.shape for g in r.gates] == [g[i].shape for g in ref.gates]
        assert [m.shape for m in r.spike_maps] == [m[i].shape for m in ref.spike_maps]
    again = InferenceEngine.from_checkpoint("small64", "cpu", record=True, backend=backend)
    assert again.runner is not None and again.backend_state == f"{backend} backend"  # cached: ready at once


def test_engine_refuses_unusable_backends():
    from app.inference import InferenceEngine
    from eventcore.errors import SettingsError

    with pytest.raises(SettingsError, match="--backend tensorrt: unknown backend"):
        InferenceEngine.from_checkpoint("small64", "cpu", backend="tensorrt")
    net, cfg, meta = load_checkpoint(resolve_model("small64"))
    assert InferenceEngine(net, cfg, meta.to_dict(), device="cpu").backend == "torch"  # no file: torch
    if ONNX_BACKENDS:
        with pytest.raises(SettingsError, match="needs the model's checkpoint file"):
            InferenceEngine(net, cfg, meta.to_dict(), device="cpu", backend=ONNX_BACKENDS[0])


@pytest.mark.skipif("onnxruntime" not in available_backends(), reason="onnxruntime not installed")
def test_classify_whole_same_answer_with_onnxruntime(capsys, monkeypatch, tmp_path):
    import json

    from app.cli import main

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    export.cached_onnx(resolve_model("small64"), export.cache_dir())  # cached: the runner answers from the start
    lines = {}
    for backend in ("torch", "onnxruntime"):
        assert main(["classify", str(DEMO), "--whole", "--device", "cpu", "--backend", backend]) == 0
        lines[backend] = json.loads(capsys.readouterr().out)
    assert lines["torch"]["label"] == lines["onnxruntime"]["label"]
    np.testing.assert_allclose(lines["torch"]["rates"], lines["onnxruntime"]["rates"], atol=TOL)
