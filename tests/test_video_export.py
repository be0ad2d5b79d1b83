"""MP4 export: a recording replayed through the app's pipeline, written by PyAV, decodes back to
the frames asked for, with the events, the evidence overlay and the gesture panel drawn."""

from __future__ import annotations

import numpy as np
import pytest

av = pytest.importorskip("av")

from eventcore.events import empty_events  # noqa: E402
from app.gui.render import BACKGROUND  # noqa: E402
from app.inference import InferenceEngine  # noqa: E402
from app.video_export import PANEL_PX, VIEW_PX, export_video  # noqa: E402
from tests.fixtures import DURATION_US, tiny_config, write_checkpoint, write_recording  # noqa: E402


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("video")
    return {"recording": write_recording(d / "bar.aedat4"),
            "model": write_checkpoint(d / "net.pt", tiny_config("tiny_v", (2,)), 0, "untrained (test)")}


def decode(path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def test_export_writes_every_frame_with_events_attention_and_gesture(files, tmp_path):
    engine = InferenceEngine.from_checkpoint(files["model"], device="cpu", record=True)
    out = tmp_path / "bar.mp4"
    seen = []
    summary = export_video(files["recording"], out, engine, fps=10, progress=seen.append)
    frames = decode(out)
    assert len(frames) == summary.frames == DURATION_US // 100_000  # 3 s at 10 fps
    assert all(f.shape == (VIEW_PX, VIEW_PX + PANEL_PX, 3) for f in frames)
    assert summary.predictions >= 20 and seen[-1] == 1.0
    last = frames[-1].astype(np.float32)
    view, panel = last[:, :VIEW_PX], last[:, VIEW_PX:]
    # the rotating bar's ON events (blue) in the event panel, through H.264's colour loss
    blue = (view[..., 2] - view[..., 0] > 60).sum()
    assert blue > 500, blue
    assert (np.abs(panel - BACKGROUND).max(axis=-1) > 60).sum() > 2000, "gesture text and class bars drawn"


def test_frame_burns_in_the_evidence_map_over_the_input_square():
    from app.video_export import FrameComposer, Shown

    composer = FrameComposer((128, 128), (0, 0, 128), ("a", "b"), "tiny")
    evidence = np.zeros((64, 64), np.float32)
    evidence[:32, :32] = 1.0  # all the evidence in the top-left quarter of the input square
    shown = Shown(0, "a", 0, 0.9, np.array([0.9, 0.1]), evidence, "a")
    empty = empty_events()
    with_map = composer.frame(empty, shown, 1.0).astype(np.float32)
    without = composer.frame(empty, Shown(0, "a", 0, 0.9, np.array([0.9, 0.1]), None, ""), 1.0).astype(np.float32)
    change = np.abs(with_map - without).sum(-1)[:, :VIEW_PX]
    assert change[:VIEW_PX // 2 - 4, :VIEW_PX // 2 - 4].min() > 100  # the quarter lit (inferno's top: pale yellow)
    assert change[VIEW_PX // 2 + 4:, VIEW_PX // 2 + 4:].max() == 0  # the rest untouched


def test_export_video_command_says_where_it_saved_and_refuses_bad_names(files, tmp_path, capsys):
    from app.cli import main

    out = tmp_path / "cli.mp4"
    assert main(["export-video", str(files["recording"]), str(out), "--model", str(files["model"]), "--fps", "5",
                 "--backend", "torch"]) == 0
    assert f"saved to {out}: 15 frames 800x480 at 5 fps" in capsys.readouterr().out
    assert len(decode(out)) == 15
    bad = tmp_path / "x.avi"
    assert main(["export-video", str(files["recording"]), str(bad), "--model", str(files["model"])]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"error: {bad}: the video is written as MP4; name it .mp4"]
