"""The TCJA block against an independent loop implementation of the paper's definition."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from model.tcja import TCJA, same_padding


def reference_gate(x: torch.Tensor, w_cla: torch.Tensor, w_tla: torch.Tensor) -> torch.Tensor:
    """F[n,t,c] = sigmoid(TLA * CLA) by explicit sums, zero padding (k-1)//2 left, the rest right.

    w_cla [T, T, K_C] convolves along channels; w_tla [C, C, K_T] convolves along time.
    """
    T, N, C = x.shape[:3]
    z = x.double().mean(dim=(3, 4))  # [T, N, C]
    k_c, k_t = w_cla.shape[2], w_tla.shape[2]
    left_c, left_t = (k_c - 1) // 2, (k_t - 1) // 2
    gate = torch.zeros(N, T, C, dtype=torch.float64)
    for n in range(N):
        for t in range(T):
            for c in range(C):
                cla = sum(
                    w_cla[t, s, j].double() * z[s, n, c + j - left_c]
                    for s in range(T)
                    for j in range(k_c)
                    if 0 <= c + j - left_c < C
                )
                tla = sum(
                    w_tla[c, d, j].double() * z[t + j - left_t, n, d]
                    for d in range(C)
                    for j in range(k_t)
                    if 0 <= t + j - left_t < T
                )
                gate[n, t, c] = torch.sigmoid(cla * tla)
    return gate


@pytest.mark.parametrize("k_t, k_c", [(4, 4), (3, 5), (2, 1)])
def test_matches_loop_reference(k_t: int, k_c: int) -> None:
    torch.manual_seed(k_t * 10 + k_c)
    T, N, C = 5, 2, 6
    blk = TCJA(T=T, channels=C, k_t=k_t, k_c=k_c)
    with torch.no_grad():  # larger weights than the default init, so the gate is far from 0.5
        blk.conv.weight.normal_(0, 2.0)
        blk.conv_c.weight.normal_(0, 2.0)
    x = torch.poisson(torch.full((T, N, C, 3, 4), 1.5))
    expected = reference_gate(x, blk.conv.weight, blk.conv_c.weight).float()
    assert expected.std() > 0.1
    blk.record_gate = True
    y = blk(x)
    torch.testing.assert_close(blk.last_gate, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(y, x * expected.transpose(0, 1)[..., None, None], rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6])
def test_explicit_padding_equals_torch_same(k: int) -> None:
    """Official formulation (Conv1d padding='same') with the same weights gives the same gate."""
    torch.manual_seed(k)
    T, N, C = 7, 3, 9
    blk = TCJA(T=T, channels=C, k_t=k, k_c=k)
    cla = nn.Conv1d(T, T, k, padding="same", bias=False)
    tla = nn.Conv1d(C, C, k, padding="same", bias=False)
    cla.weight.data.copy_(blk.conv.weight.data)
    tla.weight.data.copy_(blk.conv_c.weight.data)
    x = torch.rand(T, N, C, 4, 4)
    z = x.mean(dim=(3, 4)).transpose(0, 1)  # [N, T, C]
    expected = torch.sigmoid(cla(z) * tla(z.transpose(1, 2)).transpose(1, 2))
    torch.testing.assert_close(blk.gate(x), expected)


def test_same_padding_is_asymmetric_for_even_kernels() -> None:
    assert same_padding(4) == (1, 2)
    assert same_padding(2) == (0, 1)
    assert same_padding(3) == (1, 1)
    assert same_padding(1) == (0, 0)


def test_official_parameter_names_and_shapes() -> None:
    """``conv`` is the T-channel conv with K_C, ``conv_c`` the C-channel conv with K_T (ridgerchu/TCJA)."""
    blk = TCJA(T=20, channels=128, k_t=3, k_c=4)
    shapes = {k: tuple(v.shape) for k, v in blk.state_dict().items()}
    assert shapes == {"conv.weight": (20, 20, 4), "conv_c.weight": (128, 128, 3)}
    assert sum(p.numel() for p in blk.parameters()) == 4 * 20**2 + 3 * 128**2


def test_wrong_T_is_a_clear_error() -> None:
    blk = TCJA(T=20, channels=8)
    with pytest.raises(ValueError, match=r"T=20.*T=16"):
        blk(torch.zeros(16, 1, 8, 4, 4))


def test_wrong_rank_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"\[T, N, C, H, W\]"):
        TCJA(T=4, channels=8)(torch.zeros(4, 8, 4, 4))


def test_gate_recorded_only_when_asked_and_detached() -> None:
    blk = TCJA(T=4, channels=6)
    x = torch.rand(4, 2, 6, 3, 3, requires_grad=True)
    blk(x)
    assert blk.last_gate is None
    blk.record_gate = True
    y = blk(x)
    assert blk.last_gate.shape == (2, 4, 6) and not blk.last_gate.requires_grad
    y.sum().backward()
    assert blk.conv.weight.grad is not None and blk.conv_c.weight.grad.abs().sum() > 0
