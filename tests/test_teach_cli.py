"""``main.py teach`` and ``main.py finetune``: prompts on stdout, marked segments, exit codes, one-line errors."""

from __future__ import annotations

import argparse

import pytest

from app.cli import main
from eventcore.labels import LabelTimeline
from eventcore.takes import read_manifest, take_files
from tests.fixtures import tiny_config, write_checkpoint, write_recording
from tests.test_network import CAMERA, H, W, writer  # noqa: F401 (writer: a DV NetworkWriter child, a fixture)


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    return write_recording(tmp_path_factory.mktemp("rec") / "bar.aedat4")  # 3 s


def test_teach_marks_segments_of_a_recording(recording, tmp_path, capsys):
    out = tmp_path / "takes"
    code = main(["teach", str(recording), str(out), "--classes", "thumbs up,swipe", "--take-s", "1",
                 "--mark", "thumbs up@0.2", "--mark", "2@1.5", "--mark", "swipe@0.5"])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["saved c00_thumbs_up_01.aedat4", "saved c01_swipe_01.aedat4", "saved c01_swipe_02.aedat4"]
    assert [f.name for f in take_files(out)] == ["c00_thumbs_up_01.aedat4", "c01_swipe_01.aedat4", "c01_swipe_02.aedat4"]
    tl = LabelTimeline.from_csv(out / "c01_swipe_01_labels.csv")
    assert list(tl.label) == [1] and 1_500_000 <= tl.start_us[0] < tl.end_us[0] <= 2_500_001
    assert read_manifest(out).camera


def test_teach_guides_with_prompts_while_a_recording_plays_as_a_camera(recording, tmp_path, capsys):
    out = tmp_path / "takes"
    code = main(["teach", str(recording), str(out), "--classes", "a,b", "--takes", "1", "--take-s", "0.5",
                 "--countdown-s", "0.3"])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("get ready: a (take 1) in")
    assert "RECORDING a (take 1)" in lines and "RECORDING b (take 1)" in lines
    assert lines.index("RECORDING a (take 1)") < lines.index("saved take 1 of 2") < lines.index("RECORDING b (take 1)")
    assert "done: 2 of 2 takes recorded" in lines and lines[-1].startswith("2 takes in")
    assert len(take_files(out)) == 2


def test_teach_stream_ending_early_keeps_the_finished_takes(recording, tmp_path, capsys):
    out = tmp_path / "takes"
    code = main(["teach", str(recording), str(out), "--classes", "a", "--takes", "3", "--take-s", "1.2",
                 "--countdown-s", "0"])  # the 3 s recording ends during the third take
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "the stream ended after 2 of 3 takes" in err and str(out) in err
    assert len(take_files(out)) == 2


@pytest.mark.parametrize("argv,message", [
    (["--mark", "wave@x"], "expected GESTURE@SECONDS"),
    (["--mark", "jump@1"], "'jump' is none of the gestures"),
    (["--mark", "wave@20"], "20 s is past the end of the recording (3.0 s long)"),
    (["--classes=,"], "--classes"),
    (["--take-s", "0.1"], "take length"),
])
def test_teach_refuses_bad_arguments_in_one_line(recording, tmp_path, capsys, argv, message):
    classes = [] if any(a.startswith("--classes") for a in argv) else ["--classes", "wave,clap"]
    assert main(["teach", str(recording), str(tmp_path / "t"), *classes, *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and "\n" not in err
    assert not (tmp_path / "t").exists()


def test_finetune_command_prints_before_and_after(recording, tmp_path, capsys):
    base = write_checkpoint(tmp_path / "tiny.pt", tiny_config("tiny", (2,)), 0, "untrained (test)")
    out = tmp_path / "takes"
    marks = [f"{c}@{s}" for c in ("a", "b") for s in (0.2, 1.2)]
    assert main(["teach", str(recording), str(out), "--classes", "a,b", "--take-s", "1",
                 *[x for m in marks for x in ("--mark", m)]]) == 0
    capsys.readouterr()
    code = main(["finetune", str(out), "--from", str(base), "--epochs", "1", "--crops", "1", "--name", "ab",
                 "--out", str(tmp_path / "models")])
    assert code == 0
    text = capsys.readouterr().out
    assert "held-out accuracy before: n/a" in text and "held-out accuracy after:" in text
    assert (tmp_path / "models" / "ab.pt").is_file()
    assert main(["finetune", str(tmp_path / "nowhere"), "--from", str(base)]) == 2
    assert "no such teach folder" in capsys.readouterr().err


def test_finetune_options_match_python_m_model_finetune():
    from app.teach.cli import add_finetune_arguments
    from model.finetune import add_arguments

    ours, theirs = argparse.ArgumentParser(), argparse.ArgumentParser()
    add_finetune_arguments(ours)
    add_arguments(theirs)
    a, b = vars(ours.parse_args(["d"])), vars(theirs.parse_args(["d"]))
    assert a == b


def test_teach_records_from_the_dv_network_stream(writer, tmp_path, capsys):
    """The same prompts over a live DV TCP stream: takes at the stream's sensor, the camera named."""
    port, go, proc = writer(-1)
    go()
    out = tmp_path / "takes"
    assert main(["teach", f"127.0.0.1:{port}", str(out), "--classes", "a,b", "--takes", "1", "--take-s", "0.5",
                 "--countdown-s", "0.2"]) == 0
    assert "RECORDING b (take 1)" in capsys.readouterr().out
    man = read_manifest(out)
    assert man.sensor == (W, H) and man.camera == CAMERA
    from model.datasets.takes import load_takes

    assert [len(t.events) > 10_000 for t in load_takes(out).takes] == [True, True]
