"""Fine-tuning on a teach folder: a simulated new user gains accuracy; bad takes give one clear error."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from app.teach.folder import TeachFolder  # noqa: E402
from app.teach.session import mark_take  # noqa: E402
from eventcore.errors import SourceError, UserError  # noqa: E402
from eventcore.labels import CLASS_NAMES  # noqa: E402
from model.checkpoint import load_checkpoint  # noqa: E402
from model.datasets.takes import load_takes, split_takes  # noqa: E402
from model.finetune import FinetuneSettings, finetune, user_models_dir  # noqa: E402
from tests.fixtures import rotating_bar, tiny_config, write_checkpoint  # noqa: E402
from tests.teach_user import write_user_folder  # noqa: E402

# left_arm_clockwise, left_arm_counter_clockwise, air_drums: the three the shipped model gets
# most wrong for this user (0 %, 0 %, 10 % of windows over 5 takes each, 11-class benchmark).
USER_CLASSES = [5, 6, 8]
TAKES, TAKE_S = 3, 1.5
# The stated margin: fine-tuning on 2 takes per gesture must add at least this much window
# accuracy on the user's 3 held-out takes (15 windows of 1 s every 100 ms). Measured on the
# 2-core machine with this recipe (the defaults, 6 crops per take): 33 % -> 93 %, takes 1 -> 3
# of 3, with the round-1 small64; 87 % -> 100 %, takes 3 -> 3, with the round-3 small64;
# other recipes tried gave 47-67 % (fewer optimizer steps or a lower learning rate).
MARGIN = 0.2


def folder_hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _simulator_key() -> str:
    """A hash of the simulator's and the new user's code: a cached folder is reused only while both are unchanged."""
    root = Path(__file__).resolve().parents[1]
    files = sorted((root / "model" / "simulator").glob("*.py")) + [root / "tests" / "teach_user.py"]
    spec = repr((USER_CLASSES, TAKES, TAKE_S)).encode()
    return hashlib.sha1(b"".join(p.read_bytes() for p in files) + spec).hexdigest()[:12]


@pytest.fixture(scope="module")
def user_folder(request, tmp_path_factory) -> Path:
    """3 gestures x 3 takes of 1.5 s by the simulated new user (DAVIS346, farther, faster, noisier).

    Generating them takes 10-30 s on the 2-core machine, so the folder is kept in pytest's
    cache, keyed by the simulator's code; a copy is handed to the tests.
    """
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    root = cache.mkdir(f"teach-new-user-{_simulator_key()}") if cache else tmp_path_factory.mktemp("new-user")
    cached = Path(root) / "takes"
    if not (cached / "manifest.json").exists():
        shutil.rmtree(cached, ignore_errors=True)
        write_user_folder(cached.with_name("partial"), USER_CLASSES, TAKES, duration_s=TAKE_S)
        cached.with_name("partial").rename(cached)
    copy = tmp_path_factory.mktemp("user") / "takes"
    shutil.copytree(cached, copy)
    return copy


def test_new_user_accuracy_rises_after_finetuning(user_folder, tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same float sums on every machine
    try:
        res = finetune(user_folder, "small64", out_dir=tmp_path,
                       settings=FinetuneSettings(crops_per_take=6, eval_hop_us=100_000))
    finally:
        torch.set_num_threads(threads)
    print(f"simulated new user, held-out: before {res.before.describe()}; after {res.after.describe()}")
    assert res.before.windows is not None and res.after.n_windows == 15
    # at least MARGIN better, or half the way to 100 % where the base model already does well
    # (the round-3 small64 gets 87 % of this user's held-out windows before fine-tuning)
    need = min(MARGIN, (1.0 - res.before.windows) / 2)
    assert res.after.windows >= res.before.windows + need, (res.before, res.after)
    assert res.after.takes > res.before.takes or res.after.takes == res.before.takes == 1.0
    net, cfg, meta = load_checkpoint(res.path)
    assert meta.class_names == tuple(CLASS_NAMES[c] for c in USER_CLASSES) and cfg.n_classes == 3
    assert "SIMULATED takes" in meta.trained_on and "small64" in meta.trained_on
    notes = json.loads(meta.notes)
    assert notes["base_model"] == "small64" and notes["data_dir"] == str(user_folder.resolve())
    assert "held out" in notes["protocol"] and len(notes["held_out"]) == 3 and notes["simulated_takes"] is True
    assert meta.accuracies["heldout_windows_after"] == pytest.approx(res.after.windows)
    assert res.path.parent == tmp_path


@pytest.fixture
def tiny_base(tmp_path) -> Path:
    return write_checkpoint(tmp_path / "tiny.pt", tiny_config("tiny", (2,)), 0, "untrained (test)")


def bar_folder(path: Path, names, takes: int) -> TeachFolder:
    """A teach folder of rotating-bar takes (fast to make), ``takes`` per gesture."""
    folder = TeachFolder.create(path, names, "cam", (128, 128))
    for c in range(len(names)):
        for k in range(takes):
            ev = rotating_bar(800_000, rate=60_000, seed=10 * c + k)
            ev["timestamp"] += 1_000_000 * (10 * c + k)
            mark_take(folder, ev, c)
    return folder


def test_custom_three_gesture_set_gets_a_new_head_and_classifies(tmp_path, tiny_base, capsys):
    from app.cli import main

    names = ["thumbs up", "swipe", "knock"]
    folder = bar_folder(tmp_path / "mine", names, 2)
    res = finetune(folder.path, tiny_base, name="mine", out_dir=tmp_path / "models",
                   settings=FinetuneSettings(epochs=1, crops_per_take=2))
    assert res.before.windows is None and "n/a" in res.before.describe()  # the base knows none of them
    net, cfg, meta = load_checkpoint(tmp_path / "models" / "mine.pt")
    assert meta.class_names == tuple(names) and net.fc[-2][0].out_features == cfg.voting * 3
    assert "heldout_windows_after" in meta.accuracies and "heldout_windows_before" not in meta.accuracies
    take = folder.take_path(1, 1)
    assert main(["classify", str(take), "--model", str(res.path), "--device", "cpu"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines and all(line["label"] in names + ["no gesture"] and len(line["rates"]) == 3 for line in lines)
    assert {line["truth"] for line in lines} <= {"swipe", "none"} and any(line["truth"] == "swipe" for line in lines)


def test_checkpoints_go_to_the_user_folder_never_the_shipped_weights(tmp_path, tiny_base, monkeypatch):
    from model.zoo import WEIGHTS_DIR

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert user_models_dir() == tmp_path / "data" / "tcja-gesture" / "models"
    folder = bar_folder(tmp_path / "t", ["a", "b"], 2)
    with pytest.raises(UserError, match="not written into the shipped"):
        finetune(folder.path, tiny_base, out_dir=WEIGHTS_DIR, settings=FinetuneSettings(epochs=1, crops_per_take=1))
    res = finetune(folder.path, tiny_base, settings=FinetuneSettings(epochs=1, crops_per_take=1))
    assert res.path == tmp_path / "data" / "tcja-gesture" / "models" / "t-tiny.pt"
    from model.zoo import resolve_model

    assert resolve_model("t-tiny") == res.path  # `--model t-tiny` finds it by name


def _break(folder: Path, how: str) -> str:
    """Damage the folder one way; returns the take the message must name."""
    take = folder / "c01_b_02.aedat4"
    labels = folder / "c01_b_02_labels.csv"
    if how == "empty":
        take.write_bytes(b"")
    elif how == "corrupt":
        data = take.read_bytes()
        take.write_bytes(data[:200] + bytes(len(data) - 200))
    elif how == "wrong class":
        labels.write_text("class,startTime_usec,endTime_usec\n1,11000000,11800000\n")
    elif how == "wrong interval":
        labels.write_text("class,startTime_usec,endTime_usec\n2,90000000,92000000\n")
    elif how == "no labels":
        labels.unlink()
    return take.name


@pytest.mark.parametrize("how,message", [
    ("empty", "the file is empty"), ("corrupt", "corrupt or truncated"), ("wrong class", "do not match"),
    ("wrong interval", "does not match the recording"), ("no labels", "label file c01_b_02_labels.csv is missing"),
])
def test_a_bad_take_is_named_and_nothing_is_touched(tmp_path, tiny_base, how, message):
    folder = bar_folder(tmp_path / "t", ["a", "b"], 2).path
    name = _break(folder, how)
    before = folder_hashes(folder)
    with pytest.raises(SourceError) as err:
        finetune(folder, tiny_base, out_dir=tmp_path / "m", settings=FinetuneSettings(epochs=1))
    assert name in str(err.value) and message in str(err.value)
    assert "\n" not in str(err.value)
    assert folder_hashes(folder) == before and not (tmp_path / "m").exists()


def test_too_few_takes_or_a_gesture_without_takes(tmp_path, tiny_base):
    few = bar_folder(tmp_path / "few", ["a", "b"], 1).path
    with pytest.raises(SourceError, match=r"too few takes of a \(1\), b \(1\).*at least 2 per gesture"):
        finetune(few, tiny_base, out_dir=tmp_path / "m")
    missing = TeachFolder.create(tmp_path / "missing", ["a", "b", "c"], "cam", (128, 128))
    for k in range(2):
        mark_take(missing, rotating_bar(500_000, seed=k), 0)
    with pytest.raises(SourceError, match="no take of b, c"):
        finetune(missing.path, tiny_base, out_dir=tmp_path / "m")
    with pytest.raises(SourceError, match="manifest.json: missing"):
        load_takes(tmp_path)
    assert not (tmp_path / "m").exists()


def test_split_holds_out_one_take_per_gesture(tmp_path):
    folder = bar_folder(tmp_path / "t", ["a", "b"], 3).path
    train, held = split_takes(load_takes(folder), seed=0)
    assert sorted(t.class_index for t in held) == [0, 1] and len(train) == 4
    assert not {t.name for t in train} & {t.name for t in held}


def test_user_folder_is_simulated_and_shaped_like_a_new_camera(user_folder):
    takes = load_takes(user_folder)
    assert takes.manifest.simulated and takes.manifest.sensor == (346, 260) and len(takes.takes) == 9
    ev = takes.takes[0].events
    assert ev["x"].max() > 128 and 1.3e6 < ev["timestamp"][-1] - ev["timestamp"][0] <= 1.5e6
