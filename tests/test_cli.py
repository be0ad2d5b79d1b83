"""The command line others script against: ``inspect``, ``classify``, ``record``, exit codes."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys

import numpy as np
import pytest

from app.cli import main
from app.sources.aedat4 import Aedat4Source
from eventcore.framing import DEFAULT_MODE, FRAMING, zoom_box
from eventcore.labels import CLASS_NAMES
from app.sources.recorder import write_aedat4
from tests.fixtures import ROOT, TRUTH, rotating_bar, tiny_config, write_checkpoint, write_recording
from tests.writers import synthetic_events, write_aedat2, write_aedat3


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    ev = synthetic_events(20_000, 128, 128, span_us=2_000_000, seed=4)
    write_aedat4(d / "a.aedat4", ev, 128, 128, camera="DVXplorer_test")
    return {
        "events": ev,
        "aedat4": d / "a.aedat4",
        "aedat3.1": write_aedat3(d / "b.aedat", ev),
        "aedat2": write_aedat2(d / "c.aedat", synthetic_events(20_000, 240, 180, seed=5), width=240, height=180),
        "recording": write_recording(d / "bar.aedat4"),
        "model": write_checkpoint(d / "tiny.pt", tiny_config("tiny", (1, 2)), 0, "untrained (test)"),
        "dir": d,
    }


@pytest.mark.parametrize("fmt", ["aedat4", "aedat3.1", "aedat2"])
def test_inspect_prints_one_json_object(capsys, files, fmt):
    code, out, err = run(capsys, "inspect", str(files[fmt]))
    assert code == 0, err
    info = json.loads(out)
    assert info["format"] == fmt
    assert info["events"] == 20_000
    if fmt == "aedat2":
        assert (info["width"], info["height"]) == (240, 180)
    else:
        ev = files["events"]
        assert (info["width"], info["height"]) == (128, 128)
        assert info["duration_s"] == pytest.approx((ev["timestamp"][-1] - ev["timestamp"][0]) / 1e6)
        assert info["on_fraction"] == pytest.approx(ev["polarity"].mean(), abs=1e-6)
    if fmt == "aedat4":
        assert info["camera"] == "DVXplorer_test"


@pytest.mark.parametrize(
    "name, events, width, height, camera, duration, on",
    [
        ("davis346_aestream.aedat4", 117_667, 346, 260, "DAVIS346_00000104", 0.130, 0.615),
        ("davis346_aedat.aedat4", 78_830, 346, 260, "DAVIS346_00000002", 2.360, 0.523),
        ("davis240_translboxes_aedat2.aedat", 162_771, 240, 180, None, 2.07, None),
        ("davis240_rotdisk_aedat2.aedat", 374_296, 240, 180, None, 3.17, None),
    ],
)
def test_inspect_real_recordings(capsys, shared_data, name, events, width, height, camera, duration, on):
    code, out, err = run(capsys, "inspect", str(shared_data / "real" / name))
    assert code == 0, err
    info = json.loads(out)
    assert (info["events"], info["width"], info["height"]) == (events, width, height)
    assert info["duration_s"] == pytest.approx(duration, abs=0.006)
    if camera:
        assert info["camera"] == camera
    if on:
        assert info["on_fraction"] == pytest.approx(on, abs=0.0006)


def test_inspect_a_recording_of_nothing(capsys, tmp_path):
    """A recording that received no events is a valid, empty file: inspect says 0 events."""
    from app.sources.recorder import Recorder

    path = tmp_path / "silent.aedat4"
    Recorder(path, 128, 128).close()
    code, out, err = run(capsys, "inspect", str(path))
    assert code == 0, err
    info = json.loads(out)
    assert (info["events"], info["width"], info["height"], info["on_fraction"]) == (0, 128, 128, None)
    assert "silent.aedat4: the recording holds no events" in err


def test_bad_inputs_exit_non_zero_with_one_line(capsys, files, shared_data, tmp_path):
    noise = tmp_path / "noise.aedat4"
    noise.write_bytes(np.random.default_rng(0).bytes(5000))
    empty = tmp_path / "empty.aedat"
    empty.write_bytes(b"")
    cases = [tmp_path / "missing.aedat4", tmp_path, noise, empty, shared_data / "real" / "frames_only_gray16.aedat4"]
    for path in cases:
        code, out, err = run(capsys, "inspect", str(path))
        assert code == 2 and out == ""
        assert err.startswith("error: ") and err.count("\n") == 1 and path.name in err, err


def test_truncated_file_recovers_events_and_warns(capsys, files, tmp_path):
    data = files["aedat3.1"].read_bytes()
    cut = tmp_path / "cut.aedat"
    cut.write_bytes(data[: len(data) * 2 // 3])
    code, out, err = run(capsys, "inspect", str(cut))
    assert code == 0
    assert 0 < json.loads(out)["events"] < 20_000
    assert "warning:" in err and "truncated" in err


def test_main_py_exit_status_from_a_real_process(tmp_path):
    proc = subprocess.run([sys.executable, "main.py", "inspect", str(tmp_path / "nope.aedat")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "nope.aedat" in proc.stderr and "Traceback" not in proc.stderr


def test_classify_prints_a_json_line_per_window_with_truth(capsys, files):
    code, out, err = run(capsys, "classify", str(files["recording"]), "--model", str(files["model"]), "--device", "cpu")
    assert code == 0, err
    lines = [json.loads(x) for x in out.splitlines()]
    assert len(lines) >= 25  # 3 s recording, 100 ms hop
    for line in lines:
        framed = {"input_square"} if DEFAULT_MODE == "auto" else set()
        assert set(line) == {"t_end_us", "label", "index", "confidence", "rates", "latency_ms", "truth", "truth_index",
                             *framed}
        assert len(line["rates"]) == len(CLASS_NAMES) and line["latency_ms"] >= 0
        assert line["label"] == (CLASS_NAMES[line["index"]] if line["index"] >= 0 else "no gesture")
    t_end = np.array([x["t_end_us"] for x in lines])
    assert np.all(np.diff(t_end) == 100_000), "every window, in order, one hop apart"
    truth = {x["t_end_us"]: x["truth_index"] for x in lines}
    assert truth[t_end[t_end > 1_000_000][0]] == TRUTH and truth[t_end[-1]] == -1


def test_classify_whole_is_one_line(capsys, files):
    code, out, err = run(capsys, "classify", str(files["aedat3.1"]), "--model", str(files["model"]), "--whole")
    assert code == 0, err
    (line,) = out.splitlines()
    data = json.loads(line)
    assert data["t_end_us"] == int(files["events"]["timestamp"][-1])
    # the app's one decision rule: below min_confidence (0.5) it is "no gesture", never a class at 0.0
    top = max(data["rates"])
    assert data["confidence"] == top
    if top < 0.5:
        assert (data["index"], data["label"]) == (-1, "no gesture")
    else:
        assert data["index"] == int(np.argmax(data["rates"]))


def test_classify_reads_only_the_region_of_interest(capsys, files, monkeypatch):
    """--roi frames a part of the sensor (a subject further away): the bar turns within 56 px of the
    centre, so a corner square holds none of its events and the centre square does."""
    base = ("classify", str(files["recording"]), "--model", str(files["model"]), "--device", "cpu", "--whole")
    from app.inference import InferenceEngine
    from app.sources.open import open_file

    read, infer_frames = [], InferenceEngine.infer_frames
    monkeypatch.setattr(InferenceEngine, "infer_frames", lambda self, batch: read.append(batch) or infer_frames(self, batch))
    code, out, err = run(capsys, *base, "--roi", "32,32,64")
    assert code == 0 and len(out.splitlines()) == 1, err
    engine = InferenceEngine.from_checkpoint(files["model"], device="cpu")
    chain = engine.input_chain(128, 128, (32, 32, 64), split_by="number")
    assert chain.frames.gain == 4.0, "half the side: each model pixel gathers a quarter of the sensor pixels"
    np.testing.assert_array_equal(read[0][0], chain(np.concatenate(list(open_file(files["recording"]).chunks()))),
                                  err_msg="--whole reads the square as the one chain does, counts scaled back to "
                                          "the whole view's density")
    code, out, err = run(capsys, *base, "--roi", "0,0,16")
    assert code == 2 and out == "" and "bar.aedat4" in err and "no events inside the model's input region" in err
    code, out, err = run(capsys, *base, "--roi", "100,100,64")
    assert code == 2 and err.count("\n") == 1 and "bar.aedat4: --roi:" in err and "does not fit inside the 128x128" in err
    code, out, err = run(capsys, *base[:-1], "--roi", "100,100,64")
    assert code == 2 and out == "" and "does not fit inside the 128x128" in err, "windowed too, before any window"


def test_classify_with_automatic_framing_prints_the_square_the_model_read(capsys, files):
    """--framing auto (the default): every window still classified, each line saying which square
    the model read; --whole reads the sample at every zoom and says which it decided on."""
    base = ("classify", str(files["recording"]), "--model", str(files["model"]), "--device", "cpu")
    code, plain, err = run(capsys, *base, "--framing", "off")
    assert code == 0 and "input_square" not in plain, err
    code, out, err = run(capsys, *base, *(("--framing", "auto") if DEFAULT_MODE != "auto" else ()))
    assert code == 0, err
    lines = [json.loads(x) for x in out.splitlines()]
    assert len(lines) == len(plain.splitlines()) and lines[0]["input_square"] == [0, 0, 128]
    assert all(tuple(x["input_square"]) in {zoom_box((0, 0, 128), z) for z in FRAMING.zooms} for x in lines)
    code, whole, err = run(capsys, *base, "--whole", "--framing", "off")
    assert code == 0 and "input_square" not in whole, err
    code, out, err = run(capsys, *base, "--whole", "--framing", "auto")
    assert code == 0 and out.count("\n") == 1, err
    line, one = json.loads(out), json.loads(whole)
    assert tuple(line["input_square"]) in {zoom_box((0, 0, 128), z) for z in FRAMING.zooms}
    if line["input_square"] == [0, 0, 128]:
        assert line["rates"] == one["rates"], "zoom 1 is the sample --framing off reads"
    with pytest.raises(SystemExit) as exit_:
        main([*base, "--framing", "sometimes"])
    assert exit_.value.code == 2 and "--framing" in capsys.readouterr().err


@pytest.mark.parametrize("n", [0, 5, 20, 21, 12_345])
def test_whole_recording_frames_in_two_passes_equal_the_one_binning_function(n):
    """classify --whole bins chunk by chunk (constant memory) exactly as events_to_frames bins the whole array."""
    from app.classify import frames_by_number
    from eventcore.events import make_events
    from eventcore.frames import events_to_frames

    rng = np.random.default_rng(n)
    ev = make_events(np.sort(rng.integers(0, 10**6, n)), rng.integers(0, 32, n), rng.integers(0, 32, n),
                     rng.integers(0, 2, n))
    for size in (1, 7, 4096):
        frames, count, t_end = frames_by_number(lambda: (ev[i:i + size] for i in range(0, n, size)), 20, 32, 32)
        np.testing.assert_array_equal(frames, events_to_frames(ev, 20, 32, 32))
        assert count == n and t_end == (int(ev["timestamp"][-1]) if n else None)


def test_classify_bad_model_or_device_is_one_line(capsys, files, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    for argv, needle in (
        (["--model", str(bad)], "bad.pt"),
        (["--model", "no_such_model"], "unknown model"),
        (["--model", str(files["model"]), "--device", "cuda:7"], "cuda:7"),
    ):
        code, out, err = run(capsys, "classify", str(files["recording"]), *argv)
        assert code == 2 and out == "" and err.count("\n") == 1 and needle in err, err


def test_record_writes_a_readable_aedat4_copy(capsys, files):
    out_path = files["dir"] / "copy.aedat4"
    code, _, err = run(capsys, "record", str(files["aedat2"]), str(out_path))
    assert code == 0, err
    src = Aedat4Source(out_path)
    got = src.read_all()
    assert (src.width, src.height) == (240, 180) and len(got) == 20_000
    code, _, err = run(capsys, "record", str(files["aedat2"]), str(out_path))
    assert code == 2 and "already exists" in err


@pytest.mark.parametrize("flag,value", [
    ("--window-ms", "-5"), ("--window-ms", "0"), ("--window-ms", "nan"), ("--window-ms", "inf"),
    ("--hop-ms", "-1"), ("--hop-ms", "0"), ("--hop-ms", "nan"), ("--speed", "0"), ("--speed", "-2"),
    ("--speed", "nan"), ("--seconds", "0"), ("--seconds", "-1"), ("--seconds", "inf"),
    ("--roi", "abc"), ("--roi", "1,2"), ("--roi", "0,0,0"), ("--roi", "0,-1,10"),
])
def test_classify_refuses_bad_numbers_with_one_line(capsys, files, flag, value):
    code, out, err = run(capsys, "classify", str(files["recording"]), "--model", str(files["model"]),
                         "--device", "cpu", flag, value)
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith(f"error: {flag}: "), err


def test_record_refuses_zero_seconds(capsys, files):
    out_path = files["dir"] / "zero.aedat4"
    code, out, err = run(capsys, "record", str(files["recording"]), str(out_path), "--seconds", "0")
    assert code == 2 and err.count("\n") == 1 and "--seconds" in err and not out_path.exists(), err


def test_bad_device_is_one_line_exit_2_in_app_training_and_evaluation(capsys, files, tmp_path):
    from model import evaluate, train

    code, out, err = run(capsys, "classify", str(files["recording"]), "--model", str(files["model"]), "--device", "foo")
    assert code == 2 and err == "error: --device foo: unknown device (use cpu, cuda or cuda:N)\n", err
    assert evaluate.main([str(files["model"]), "--dataset", "dvs128", "--device", "foo"]) == 2
    assert capsys.readouterr().err == err
    assert train.main(["--dataset", "dvs128", "--device", "foo", "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == err
    assert train.main(["--dataset", "dvs128", "--window-ms", "-5", "--out", str(tmp_path / "run")]) == 2
    assert "--window-ms" in capsys.readouterr().err
    # training's --window-ms 0 means whole samples: accepted (the run then stops at the bad device)
    assert train.main(["--dataset", "dvs128", "--window-ms", "0", "--device", "foo", "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == err


def test_a_pipeline_bug_keeps_its_traceback_and_bad_input_stays_one_line(capsys, files, monkeypatch):
    from app.inference import InferenceEngine
    from eventcore.errors import SourceError

    def broken(self, windows, gains=None):
        raise RuntimeError("boom in the engine")

    monkeypatch.setattr(InferenceEngine, "infer", broken)
    argv = ("classify", str(files["recording"]), "--model", str(files["model"]), "--device", "cpu")
    code, out, err = run(capsys, *argv)
    assert code == 1 and "internal error: RuntimeError: boom in the engine" in err and "Traceback" not in err, err
    code, out, err = run(capsys, "--debug", *argv)
    assert code == 1 and "Traceback" in err and "in broken" in err, err

    def bad_input(self, windows, gains=None):
        raise SourceError("damaged block at byte 42")

    monkeypatch.setattr(InferenceEngine, "infer", bad_input)
    code, out, err = run(capsys, "--debug", *argv)
    assert code == 2 and err.count("\n") == 1 and "damaged block at byte 42" in err, err


def test_classify_of_a_file_stops_when_the_file_ends(capsys, files):
    import threading
    import time

    t0 = time.perf_counter()
    code, out, _ = run(capsys, "classify", str(files["recording"]), "--model", str(files["model"]),
                       "--device", "cpu", "--seconds", "30")
    assert code == 0 and out.count("\n") > 5
    assert time.perf_counter() - t0 < 25
    lingering = [t for t in threading.enumerate() if isinstance(t, threading.Timer) and t.is_alive()]
    assert not lingering, "a --seconds timer would keep the process alive after the file ended"


def test_window_and_hop_flags_reach_the_pipeline(capsys, files):
    code, out, _ = run(capsys, "classify", str(files["recording"]), "--model", str(files["model"]),
                       "--device", "cpu", "--window-ms", "400", "--hop-ms", "250")
    ends = [json.loads(line)["t_end_us"] for line in out.splitlines()]
    assert code == 0 and len(ends) > 3 and set(np.diff(ends)) == {250_000}


def test_gui_with_a_bad_device_is_one_line_before_any_window(capsys):
    code, out, err = run(capsys, "gui", "--device", "cuda:99")
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: --device cuda:99: "), err


def test_record_refuses_a_duration_that_records_nothing_and_bad_numbers_in_one_line(capsys, files):
    out_path = files["dir"] / "never.aedat4"
    for value, needle in (("1e-9", "shorter than one packet interval"), ("abc", "invalid float value: 'abc'")):
        with pytest.raises(SystemExit) if value == "abc" else contextlib.nullcontext() as exit_info:
            code = main(["record", str(files["aedat2"]), str(out_path), "--seconds", value])
        if exit_info is not None:
            code = exit_info.value.code
        out, err = capsys.readouterr()
        assert code == 2 and out == "" and err.count("\n") == 1 and needle in err, err
        assert not out_path.exists()
