"""Checkpoint files: round trip, and a clear CheckpointError for every kind of bad file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from eventcore.errors import CheckpointError
from model.checkpoint import FORMAT, CheckpointMeta, Windowing, load_checkpoint, save_checkpoint
from model.networks import NetConfig, build_network

CFG = NetConfig(name="tiny", T=6, in_channels=2, input_size=(16, 16), channels=(8, 8), tcja_blocks=(1,), head_hidden=32)
CLASSES = tuple(f"class_{i}" for i in range(11))


def meta(**kw) -> CheckpointMeta:
    base = dict(
        class_names=CLASSES,
        windowing=Windowing(window_us=1_500_000, hop_us=100_000, split_by="number", input_size=(16, 16), geometry="native"),
        trained_on="simulated",
        accuracies={"val": 0.75, "test_max": 0.8},
        command="python -m train --config tiny",
        notes="unit test",
    )
    return CheckpointMeta(**{**base, **kw})


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, torch.nn.Module]:
    torch.manual_seed(0)
    net = build_network(CFG)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.fill_(4.0)
                m.running_mean.uniform_(-0.1, 0.1)
            if isinstance(m, torch.nn.Linear):
                m.weight.mul_(10.0)
    path = tmp_path / "weights" / "tiny.pt"
    save_checkpoint(path, net, CFG, meta())
    return path, net.eval()


def rewrite(path: Path, edit) -> None:
    """Apply ``edit`` to the raw payload dict and write it back (to forge a bad checkpoint)."""
    payload = torch.load(path, weights_only=True)
    edit(payload)
    torch.save(payload, path)


def test_round_trip(saved: tuple[Path, torch.nn.Module]) -> None:
    path, net = saved
    assert not list(path.parent.glob("*.tmp"))
    loaded, cfg, m = load_checkpoint(path, map_location="cpu")
    assert cfg == CFG and m == meta(date=m.date)
    assert m.windowing.hop_us == 100_000 and m.accuracies == {"val": 0.75, "test_max": 0.8}
    assert not loaded.training
    for k, v in net.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[k], v)
    x = torch.poisson(torch.full((6, 2, 2, 16, 16), 0.8))
    with torch.no_grad():
        expected = net(x)
        torch.testing.assert_close(loaded(x), expected)
    assert expected.sum() > 0


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "none.pt"
    with pytest.raises(CheckpointError, match=rf"{path}: no such checkpoint file"):
        load_checkpoint(path)


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "noise.pt"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(CheckpointError, match=rf"{path}: not a torch checkpoint"):
        load_checkpoint(path)


def test_truncated(saved: tuple[Path, torch.nn.Module]) -> None:
    path, _ = saved
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=rf"{path}: .*(corrupt|truncated)"):
        load_checkpoint(path)


def test_unsafe_pickle_is_refused_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "code_ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.pt"
    torch.save({"format": FORMAT, "payload": Evil()}, path)
    with pytest.raises(CheckpointError, match=rf"{path}: refused by safe loading.*Unsupported global: GLOBAL io.open was not an allowed global by default$"):
        load_checkpoint(path)
    assert not marker.exists()


def test_official_style_checkpoint_is_not_our_format(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint_max.pth"
    torch.save({"net": build_network(CFG).state_dict(), "epoch": 3, "max_test_acc": 0.9}, path)
    with pytest.raises(CheckpointError, match=rf"{path}: not a {FORMAT} file .*'net'.*dvs128_paper"):
        load_checkpoint(path)


def test_bare_tensor_is_not_our_format(tmp_path: Path) -> None:
    path = tmp_path / "t.pt"
    torch.save(torch.zeros(3), path)
    with pytest.raises(CheckpointError, match=rf"{path}: not a {FORMAT} file \(found Tensor\)"):
        load_checkpoint(path)


def test_config_T_does_not_match_weights(saved: tuple[Path, torch.nn.Module]) -> None:
    path, _ = saved
    rewrite(path, lambda p: p["config"].update(T=8))
    with pytest.raises(
        CheckpointError,
        match=rf"{path}: state_dict does not match config 'tiny': conv.5.conv.weight shape \[6,6,4\] vs expected \[8,8,4\]",
    ):
        load_checkpoint(path)


def test_missing_weight(saved: tuple[Path, torch.nn.Module]) -> None:
    path, _ = saved
    rewrite(path, lambda p: p["state_dict"].pop("fc.5.0.weight"))
    with pytest.raises(CheckpointError, match=rf"{path}: state_dict does not match .*missing \['fc.5.0.weight'\]"):
        load_checkpoint(path)


def test_unknown_config_field_and_version(saved: tuple[Path, torch.nn.Module]) -> None:
    path, _ = saved
    rewrite(path, lambda p: p["config"].update(depth=3))
    with pytest.raises(CheckpointError, match=rf"{path}: invalid checkpoint contents: unknown NetConfig fields \['depth'\]"):
        load_checkpoint(path)
    rewrite(path, lambda p: p.update(version=99))
    with pytest.raises(CheckpointError, match=rf"{path}: format version 99"):
        load_checkpoint(path)


def test_meta_must_agree_with_config(tmp_path: Path, saved: tuple[Path, torch.nn.Module]) -> None:
    path, net = saved
    with pytest.raises(ValueError, match="10 class names for a 11-class network"):
        save_checkpoint(tmp_path / "x.pt", net, CFG, meta(class_names=CLASSES[:10]))
    assert not (tmp_path / "x.pt").exists()
    rewrite(path, lambda p: p["meta"]["windowing"].update(input_size=[32, 32]))
    with pytest.raises(CheckpointError, match=rf"{path}: metadata disagrees .*input_size \[32, 32\] vs network input \[16, 16\]"):
        load_checkpoint(path)


def test_windowing_validation() -> None:
    with pytest.raises(ValueError, match="split_by"):
        Windowing(window_us=1000, hop_us=100, split_by="events", input_size=(16, 16), geometry="native")
    with pytest.raises(ValueError, match="invalid windowing"):
        Windowing(window_us=0, hop_us=100, split_by="time", input_size=(16, 16), geometry="native")


@pytest.mark.parametrize("field,value,needle", [
    ("input_size", [1_000_000, 1_000_000], "input size"),
    ("T", 100_000, "T=100000"),
    ("channels", [8, 4_000_000], "parameters"),
])
def test_implausible_sizes_are_refused_before_building(saved: tuple[Path, torch.nn.Module], field, value,
                                                        needle) -> None:
    path, _ = saved
    payload = torch.load(path, weights_only=True)
    payload["config"][field] = value
    if field == "input_size":
        payload["meta"]["windowing"]["input_size"] = value
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match=f"implausible checkpoint: .*{needle}"):
        load_checkpoint(path)


def test_implausible_windowing_is_refused(saved: tuple[Path, torch.nn.Module]) -> None:
    path, _ = saved
    payload = torch.load(path, weights_only=True)
    payload["meta"]["windowing"]["window_us"] = 10**15
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="windowing"):
        load_checkpoint(path)


def test_model_card_is_read_from_the_notes(tmp_path: Path) -> None:
    import json

    from model.checkpoint import REPO_ROOT, model_card

    assert model_card(meta()) == ("", "")  # plain-text notes: no card
    assert model_card(meta(notes=json.dumps({"model_card": "no/such/card.md"}))) == ("", "")
    card = next(REPO_ROOT.glob("model/weights/*.md"), None)
    if card is None:
        pytest.skip("no shipped model card")
    rel = str(card.relative_to(REPO_ROOT))
    assert model_card(meta(notes=json.dumps({"model_card": rel}))) == (rel, card.read_text())
