"""Network configurations: sizes, official parameter names, outputs, state reset, GUI maps."""

from __future__ import annotations

import copy

import pytest
import torch
from spikingjelly.activation_based import neuron
from torch import nn

from model.networks import CONFIGS, NetConfig, build_network, count_parameters
from model.tcja import TCJA

TINY = NetConfig(name="tiny", T=6, in_channels=2, input_size=(16, 16), channels=(8, 8), tcja_blocks=(1,), head_hidden=32)


def excited(cfg: NetConfig, seed: int = 0) -> nn.Module:
    """A network in eval mode whose weights are scaled up so every layer spikes (random init is silent)."""
    torch.manual_seed(seed)
    net = build_network(cfg).eval()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.fill_(4.0)
            if isinstance(m, nn.Linear):
                m.weight.mul_(10.0)
    return net


def events(cfg: NetConfig, batch: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.poisson(torch.full((cfg.T, batch, cfg.in_channels, *cfg.input_size), 0.8), generator=g)


def official_dvs128_shapes() -> dict[str, tuple[int, ...]]:
    """state_dict of ridgerchu/TCJA src/dvs128.py CextNet(channels=128), written out from that file."""
    shapes: dict[str, tuple[int, ...]] = {}
    conv_idx = (0, 3, 6, 9, 13)  # SeqToANNContainer(Conv2d, BN) per block; LIF, [TCJA], pool follow
    for i, c_in in zip(conv_idx, (2, 128, 128, 128, 128)):
        shapes[f"conv.{i}.0.weight"] = (128, c_in, 3, 3)
        for buf in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"conv.{i}.1.{buf}"] = (128,)
        shapes[f"conv.{i}.1.num_batches_tracked"] = ()
    for i in (11, 15):  # TCJA(4, 4, 20, 128)
        shapes[f"conv.{i}.conv.weight"] = (20, 20, 4)
        shapes[f"conv.{i}.conv_c.weight"] = (128, 128, 4)
    shapes["fc.2.0.weight"] = (512, 2048)
    shapes["fc.5.0.weight"] = (110, 512)
    return shapes


def test_dvs128_paper_parameter_count_and_official_names() -> None:
    net = build_network(CONFIGS["dvs128_paper"])
    assert count_parameters(net) == 1_832_576
    assert {k: tuple(v.shape) for k, v in net.state_dict().items()} == official_dvs128_shapes()


def test_official_state_dict_loads_strictly() -> None:
    """A state_dict keyed like the official checkpoint's ['net'] loads and is used by the forward."""
    cfg = NetConfig(**{**CONFIGS["dvs128_paper"].to_dict(), "input_size": (32, 32), "head_hidden": 512})
    state = {k: torch.randn(s) for k, s in official_dvs128_shapes().items() if k != "fc.2.0.weight"}
    state["fc.2.0.weight"] = torch.randn(512, 128)  # 32x32 input leaves 1x1 after five pools
    state.update({k: torch.rand(s) + 0.5 for k, s in official_dvs128_shapes().items() if "running_var" in k})
    state.update({k: torch.tensor(0) for k in state if "num_batches" in k})
    net = build_network(cfg).eval()
    net.load_state_dict(state, strict=True)
    torch.testing.assert_close(net.conv[15].conv_c.weight, state["conv.15.conv_c.weight"])


@pytest.mark.parametrize("name", ["small64", "fmnist_paper", "nmnist"])
def test_config_forward_shapes(name: str) -> None:
    cfg = CONFIGS[name]
    net = build_network(cfg).eval()
    with torch.no_grad():
        rates = net(torch.zeros(cfg.T, 2, cfg.in_channels, *cfg.input_size))
    assert rates.shape == (2, cfg.n_classes)


def test_config_fields() -> None:
    assert CONFIGS["fmnist_paper"].in_channels == 1 and CONFIGS["fmnist_paper"].n_classes == 10
    assert CONFIGS["nmnist"].input_size == (34, 34) and CONFIGS["nmnist"].n_classes == 10
    small = CONFIGS["small64"]
    assert small.input_size == (64, 64) and small.tcja_blocks == (small.n_blocks - 2, small.n_blocks - 1)
    assert all(name == cfg.name for name, cfg in CONFIGS.items())


def test_rates_are_voted_spike_counts() -> None:
    """rates = mean over T of the last LIF's spikes, averaged over groups of `voting` neurons."""
    net = excited(TINY)
    seen = {}
    net.fc.register_forward_hook(lambda mod, inp, out: seen.update(spikes=out))
    with torch.no_grad():
        rates = net(events(TINY, 3))
    spikes = seen["spikes"]
    assert spikes.shape == (TINY.T, 3, TINY.voting * TINY.n_classes)
    expected = torch.stack([spikes[:, :, k * 10 : (k + 1) * 10].mean(dim=(0, 2)) for k in range(TINY.n_classes)], 1)
    torch.testing.assert_close(rates, expected)
    assert rates.shape == (3, 11) and rates.min() >= 0 and rates.max() <= 1 and rates.sum() > 0


def test_state_is_reset_between_calls() -> None:
    net = excited(TINY)
    a, b = events(TINY, 2, seed=1), events(TINY, 2, seed=2)
    with torch.no_grad():
        fresh = copy.deepcopy(net)(b)
        net(a)
        after_a = net(b)
    assert fresh.sum() > 0
    torch.testing.assert_close(after_a, fresh)


def test_forward_with_maps() -> None:
    net = excited(TINY)
    x = events(TINY, 3)
    lif_out = []
    for m in net.conv:
        if isinstance(m, neuron.LIFNode):
            m.register_forward_hook(lambda mod, inp, out: lif_out.append(out))
    with torch.no_grad():
        out = net.forward_with_maps(x)
        rates = net(x)
    torch.testing.assert_close(out.rates, rates)
    assert [tuple(m.shape[1:]) for m in out.spike_maps] == [(16, 16), (8, 8)] == list(TINY.map_sizes)
    for got, spikes in zip(out.spike_maps, lif_out):
        torch.testing.assert_close(got, spikes.mean(dim=(0, 2)))
    assert out.spike_maps[1].sum() > 0
    assert len(out.gates) == 1 and out.gates[0].shape == (3, TINY.T, 8)
    assert ((out.gates[0] > 0) & (out.gates[0] < 1)).all()
    (tcja,) = [m for m in net.conv if isinstance(m, TCJA)]
    assert not tcja.record_gate and tcja.last_gate is None  # no recording left on for later calls


def test_gradients_reach_first_layer() -> None:
    net = excited(TINY).train()
    rates = net(events(TINY, 2))
    torch.nn.functional.mse_loss(rates, torch.eye(11)[:2]).backward()
    assert net.conv[0][0].weight.grad.abs().sum() > 0


def test_wrong_input_shape() -> None:
    net = build_network(TINY)
    with pytest.raises(ValueError, match=r"expects input \[T=6, N, 2, 16, 16\], got \[5, 1, 2, 16, 16\]"):
        net(torch.zeros(5, 1, 2, 16, 16))
    with pytest.raises(ValueError, match=r"got \[6, 1, 2, 32, 32\]"):
        net.forward_with_maps(torch.zeros(6, 1, 2, 32, 32))


def test_config_round_trip_and_validation() -> None:
    for cfg in CONFIGS.values():
        assert NetConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown NetConfig fields"):
        NetConfig.from_dict({**TINY.to_dict(), "depth": 3})
    with pytest.raises(ValueError, match="tcja_blocks"):
        NetConfig(name="bad", T=4, in_channels=2, input_size=(16, 16), channels=(8,), tcja_blocks=(1,))
    with pytest.raises(ValueError, match="to nothing"):
        NetConfig(name="bad", T=4, in_channels=2, input_size=(8, 8), channels=(8,) * 4, tcja_blocks=())
