"""Guided recording without Qt: the step function, the session with a fake clock, the folder on disk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from app.teach.folder import TeachFolder
from app.teach.session import TeachSession, mark_take
from app.teach.steps import Phase, TeachPlan, initial_state, teach_step
from eventcore.errors import SettingsError, SourceError
from eventcore.labels import LabelTimeline
from eventcore.takes import read_manifest, take_files
from tests.fixtures import ROOT, rotating_bar

PLAN = TeachPlan(("wave", "clap"), takes_per_class=2, take_s=1.0, countdown_s=0.5)


def run_steps(plan, times, commands=None):
    state, outs = initial_state(plan), []
    for t in times:
        out, state = teach_step(plan, state, t, (commands or {}).get(t))
        outs.append(out)
    return outs, state


def test_steps_prompt_count_down_record_and_move_on_round_by_round():
    outs, state = run_steps(PLAN, [0.0, 0.4, 0.5, 1.2, 1.5, 2.0, 3.0, 3.5, 5.0, 5.5, 6.5], {0.0: "start"})
    assert outs[0].phase == Phase.COUNTDOWN and outs[0].prompt == "get ready: wave (take 1) in 1 s"
    assert outs[1].phase == Phase.COUNTDOWN and not outs[1].started
    assert outs[2].phase == Phase.RECORDING and outs[2].started and outs[2].class_name == "wave"
    assert outs[4].finished and outs[4].phase == Phase.COUNTDOWN and outs[4].class_name == "clap"  # round robin
    assert outs[4].take == 1 and outs[4].done == 1
    assert [o.class_name for o in outs if o.started] == ["wave", "clap", "wave", "clap"]
    assert outs[-1].phase == Phase.DONE and outs[-1].done == outs[-1].total == 4
    assert state.done == frozenset(range(4))


def test_steps_pause_cancels_the_take_and_redo_and_delete_come_round_again():
    plan = PLAN
    outs, state = run_steps(plan, [0.0, 0.6, 0.8], {0.0: "start", 0.8: "pause"})
    assert outs[1].started and outs[2].cancelled and outs[2].phase == Phase.PAUSED and not state.done
    out, state = teach_step(plan, state, 10.0, "start")
    assert out.phase == Phase.COUNTDOWN and out.slot == 0  # the cancelled take is asked for again
    out, state = teach_step(plan, state, 11.6)  # countdown and the whole take passed: finished in one late tick
    assert out.finished and out.slot == 1 and state.done == {0}
    out, state = teach_step(plan, state, 11.7, "delete", 0)
    assert out.deleted == 0 and state.done == frozenset()
    out, state = teach_step(plan, state, 11.8, "redo", 3)
    assert out.phase == Phase.COUNTDOWN and (out.class_name, out.take) == ("clap", 2)
    with pytest.raises(SettingsError):
        TeachPlan(("a",), take_s=0.1)
    with pytest.raises(SettingsError, match="same once made file names"):
        TeachPlan(("Wave!", "wave"))


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def drive(session, clock, events, until_s, step_s=0.05):
    """Advance the fake clock, feeding the events of each step as a camera would."""
    t = events["timestamp"]
    while clock.t < until_s:
        a, b = np.searchsorted(t, [clock.t * 1e6, (clock.t + step_s) * 1e6])
        session.feed(events[a:b])
        clock.t = round(clock.t + step_s, 6)
        session.tick()


def test_session_writes_one_closed_take_per_slot_with_dvs128_labels(tmp_path):
    from app.sources.open import open_file

    clock = FakeClock()
    folder = TeachFolder.create(tmp_path / "takes", PLAN.class_names, camera="test camera", sensor=(128, 128),
                                takes_per_class=2, take_s=1.0)
    session = TeachSession(PLAN, folder, clock)
    session.start()
    drive(session, clock, rotating_bar(8_000_000), 6.0)
    files = take_files(folder.path)
    assert [f.name for f in files] == ["c00_wave_01.aedat4", "c00_wave_02.aedat4", "c01_clap_01.aedat4",
                                       "c01_clap_02.aedat4"]
    assert session.last.phase == Phase.DONE
    first = files[0]
    assert (first.parent / "c00_wave_01_labels.csv").read_text().splitlines()[0] == "class,startTime_usec,endTime_usec"
    tl = LabelTimeline.from_csv(first.parent / "c00_wave_01_labels.csv")
    assert list(tl.label) == [0] and 0.9e6 <= tl.end_us[0] - tl.start_us[0] <= 1.0e6
    src = open_file(first)  # the app's replay reads a take with its labels, as a DVS128 Gesture recording
    assert src.labels is not None and src.labels.truth_at((tl.start_us[0] + tl.end_us[0]) // 2) == 0
    assert src.start_us >= tl.start_us[0] and src.end_us < tl.end_us[0]
    man = read_manifest(folder.path)
    assert man.class_names == ("wave", "clap") and man.camera == "test camera" and len(man.takes) == 4
    assert {t.file for t in man.takes} == {f.name for f in files}


def test_session_redo_replaces_and_delete_removes_only_that_take(tmp_path):
    clock = FakeClock()
    plan = TeachPlan(("wave", "clap"), takes_per_class=1, take_s=1.0, countdown_s=0.5)
    folder = TeachFolder.create(tmp_path / "takes", plan.class_names, "cam", (128, 128))
    session = TeachSession(plan, folder, clock)
    session.start()
    events = rotating_bar(12_000_000)
    drive(session, clock, events, 3.2)
    clap = folder.take_path(1, 1)
    before = clap.read_bytes()
    wave_labels = (folder.path / "c00_wave_01_labels.csv").read_text()
    session.redo(0, 1)
    drive(session, clock, events, 5.0)
    assert clap.read_bytes() == before  # untouched
    assert (folder.path / "c00_wave_01_labels.csv").read_text() != wave_labels  # the new take's interval
    session.delete(1, 1)
    assert not clap.exists() and not (folder.path / "c01_clap_01_labels.csv").exists()
    assert folder.take_path(0, 1).exists() and session.finished_takes() == {(0, 1)}
    assert [t.file for t in read_manifest(folder.path).takes] == ["c00_wave_01.aedat4"]


def test_empty_take_is_dropped_and_asked_again(tmp_path):
    clock = FakeClock()
    plan = TeachPlan(("wave",), takes_per_class=1, take_s=1.0, countdown_s=0.0)
    folder = TeachFolder.create(tmp_path / "takes", plan.class_names, "cam", (128, 128))
    session = TeachSession(plan, folder, clock)
    session.start()
    clock.t = 1.5
    out = session.tick()
    assert out.finished and not take_files(folder.path)
    assert "no events arrived" in session.messages[0] and session.finished_takes() == set()


def test_folder_refuses_another_gesture_set_and_keeps_what_is_there(tmp_path):
    folder = TeachFolder.create(tmp_path / "takes", ["wave"], "cam", (128, 128))
    mark_take(folder, rotating_bar(1_000_000), 0)
    snapshot = {p.name: p.read_bytes() for p in folder.path.iterdir() if p.is_file()}
    with pytest.raises(SourceError, match="already holds takes"):
        TeachFolder.create(tmp_path / "takes", ["clap"], "cam", (128, 128))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    with pytest.raises(SourceError, match="not empty"):
        TeachFolder.create(tmp_path / "other", ["clap"], "cam", (128, 128))
    again = TeachFolder.create(tmp_path / "takes", ["wave"], "cam", (128, 128))
    assert {p.name: p.read_bytes() for p in folder.path.iterdir() if p.is_file() and p.name != "manifest.json"} == \
        {k: v for k, v in snapshot.items() if k != "manifest.json"}
    assert again.next_take(0) == 2


CHILD = textwrap.dedent("""
    import sys, time
    import numpy as np
    from app.teach.folder import TeachFolder
    from app.teach.session import TeachSession
    from app.teach.steps import TeachPlan
    from eventcore.events import make_events
    plan = TeachPlan(("wave", "clap"), takes_per_class=3, take_s=0.5, countdown_s=0.0)
    folder = TeachFolder.create(sys.argv[1], plan.class_names, "cam", (128, 128))
    session = TeachSession(plan, folder)
    rng = np.random.default_rng(0)
    n = 800_000
    ev = make_events(np.sort(rng.integers(0, 20_000_000, n)), rng.integers(0, 128, n), rng.integers(0, 128, n),
                     rng.integers(0, 2, n))
    session.start()
    t0, done = time.monotonic(), 0
    while True:
        now = time.monotonic() - t0
        a, b = ev["timestamp"].searchsorted([now * 1e6, (now + 0.02) * 1e6])
        session.feed(ev[a:b])
        out = session.tick()
        if out.done != done:
            done = out.done
            print("finished", done, flush=True)
        time.sleep(0.02)
""")


def test_killed_mid_session_every_finished_take_reads_back(tmp_path):
    from model.datasets.takes import load_takes

    out = tmp_path / "takes"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(out)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        for line in child.stdout:
            if line.strip() == "finished 2":
                break
        import time

        time.sleep(0.25)  # well inside the third take
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    takes = load_takes(out)
    assert [t.name for t in takes.takes][:2] == ["c00_wave_01.aedat4", "c01_clap_01.aedat4"]
    assert all(len(t.events) > 1000 for t in takes.takes)
    assert (out / ".recording").is_dir()  # the unfinished take stays out of the folder's takes
