"""Typed settings (eventcore.settings), the device choice (model.device) and the input chain."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from eventcore.errors import SettingsError, UserError
from eventcore.events import make_events
from eventcore.settings import WindowRequest, WindowSettings, ms_to_us, positive
from eventcore.transforms import CutWindow, input_chain
from model.device import available_devices, choose_device


def test_window_settings_hold_microseconds_and_convert_from_ms():
    w = WindowSettings.from_ms(1500, 100)
    assert (w.window_us, w.hop_us) == (1_500_000, 100_000) and (w.window_ms, w.hop_ms) == (1500, 100)
    assert w.changed(hop_us=50_000) == WindowSettings(1_500_000, 50_000)
    assert w.changed_ms(window_ms=0.5).window_us == 500
    with pytest.raises(AttributeError):
        w.window_us = 3  # frozen: change it by asking for a new one


@pytest.mark.parametrize("bad", [-5, 0, math.nan, math.inf, -math.inf, "abc"])
def test_bad_milliseconds_are_settings_errors_naming_the_flag(bad):
    with pytest.raises(SettingsError, match="--window-ms"):
        WindowRequest.from_ms(window_ms=bad)
    with pytest.raises(UserError, match="hop"):
        WindowSettings.from_ms(1000, bad)


def test_window_settings_refuse_fractions_bools_and_huge_values():
    for bad in (0, -1, 1.5, True, 10**12):
        with pytest.raises(SettingsError):
            WindowSettings(bad, 100)
    with pytest.raises(SettingsError, match="outside"):
        ms_to_us("x", 0.0004)


def test_request_resolves_over_the_models_own_values():
    model = WindowSettings(1_000_000, 100_000)
    assert WindowRequest().resolve(model) == model
    assert WindowRequest.from_ms(hop_ms=25).resolve(model) == WindowSettings(1_000_000, 25_000)
    assert WindowRequest.from_ms(500, None).resolve(model) == WindowSettings(500_000, 100_000)


def test_positive_passes_none_and_refuses_the_rest():
    assert positive("--speed", None) is None and positive("--speed", 2) == 2.0
    for bad in (0, -1, math.nan, math.inf):
        with pytest.raises(SettingsError, match="--speed"):
            positive("--speed", bad)


def test_choose_device_returns_a_torch_device_and_refuses_clearly():
    assert choose_device("cpu") == torch.device("cpu")
    assert choose_device(torch.device("cpu")) == torch.device("cpu")
    assert choose_device(None).type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert available_devices()[0][0] == torch.device("cpu")
    for bad, needle in (("foo", "unknown device"), ("meta", "unsupported"),
                        (f"cuda:{torch.cuda.device_count() + 3}", "GPU")):
        with pytest.raises(SettingsError, match=needle):
            choose_device(bad)
    if not torch.cuda.is_available():
        with pytest.raises(SettingsError, match="no usable CUDA GPU"):
            choose_device("cuda")


def test_input_chain_cuts_maps_and_bins_like_the_parts():
    t = np.arange(0, 2_000_000, 100)
    ev = make_events(t, (t // 100) % 240, (t // 7) % 180, t % 2)
    chain = input_chain(240, 180, T=4, input_size=(64, 64), split_by="number", window_us=1_000_000)
    cut = CutWindow(1_000_000)(ev)
    assert cut["timestamp"][0] >= 499_900 and cut["timestamp"][-1] < 1_500_000  # centred
    mapped = chain.events(ev)
    assert len(mapped) < len(cut) and mapped["x"].max() < 64 and mapped["y"].max() < 64
    frames = chain(ev)
    assert frames.shape == (4, 2, 64, 64) and frames.sum() == len(mapped)
    rng = np.random.default_rng(0)
    assert len(chain.events(ev, rng)) > 0
    seen = []
    chain(ev, None, between=lambda e: seen.append(len(e)) or e)
    assert seen == [len(cut)], "the step between runs on the cut window, before the geometry"
    with pytest.raises(ValueError, match="square"):
        input_chain(128, 128, 4, (32, 64))
