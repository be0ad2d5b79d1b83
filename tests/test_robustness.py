"""The robustness benchmark's changes: every set-up the issue lists, at both ends, and the larger sensors."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.robustness import CHANGES, embed
from eventcore.events import make_events
from eventcore.geometry import Geometry
from model.simulator.setup import RANGES


def test_every_change_is_a_row_at_both_ends_of_its_range():
    setups = [c.setup for c in CHANGES if c.setup is not None]
    for field in ("dx", "dy", "scale", "roll_deg", "tempo"):
        values = sorted(getattr(s, field) for s in setups if getattr(s, field) != getattr(type(s)(), field))
        assert values == [RANGES[field][0], RANGES[field][1]] or (field == "roll_deg" and values == [-10.0, 10.0])
    faults = [c.faults for c in CHANGES if c.faults is not None]
    assert max(f.noise_hz for f in faults) == 2.0 and max(f.hot for f in faults) == 12
    assert min(f.keep for f in faults) == 0.5
    assert {c.sensor for c in CHANGES if c.sensor} == {(346, 260), (640, 480), (1280, 720)}
    assert CHANGES[0].name == "unchanged" and CHANGES[0].setup is CHANGES[0].faults is CHANGES[0].sensor is None


@pytest.mark.parametrize("sensor, scale", [((346, 260), 260 / 256), ((640, 480), 480 / 384), ((1280, 720), 720 / 640)])
def test_a_larger_sensor_sees_the_subject_fill_its_height_then_the_app_crops_and_scales(sensor, scale):
    rng = np.random.default_rng(0)
    n = 20000
    ev = make_events(np.arange(n), rng.integers(40, 88, n), rng.integers(40, 88, n), rng.integers(0, 2, n))
    big = embed(ev, *sensor, rng)
    assert big["x"].max() < sensor[0] and big["y"].max() < sensor[1]
    back = Geometry(*sensor, 128).apply(big)
    # the app's centre crop enlarges the scene about the centre by sensor height / crop side
    spread = np.ptp(np.percentile(back["x"], [5, 95])) / np.ptp(np.percentile(ev["x"], [5, 95]))
    assert spread == pytest.approx(scale, rel=0.06)
    assert abs(back["x"].mean() - ev["x"].mean()) < 2 and abs(back["y"].mean() - ev["y"].mean()) < 3


def test_a_benchmark_rewrites_only_its_own_card_section(tmp_path):
    from benchmarks.common import put_card_section

    card = tmp_path / "card.md"
    card.write_text("# Card\n\n## Accuracy\n95 %\n\n## Demo recordings\nall right\n")
    put_card_section(card, "Robustness", "| a | b |")
    assert card.read_text() == "# Card\n\n## Accuracy\n95 %\n\n## Robustness\n| a | b |\n\n## Demo recordings\nall right\n"
    put_card_section(card, "Robustness", "| c | d |")
    text = card.read_text()
    assert "| c | d |" in text and "| a | b |" not in text and text.count("## Robustness") == 1
    assert text.endswith("## Demo recordings\nall right\n")


def test_the_fair_column_scores_only_the_recordings_both_judges_recognise():
    from benchmarks.robustness import fair_share, table

    right, total = np.array([10, 0, 5]), np.array([10, 10, 10])
    judges = {"teacher": 2 / 3, "speck": 1.0, "both": 2 / 3, "both_recognise": [True, False, True]}
    assert fair_share(right, total, judges) == {"fair_recordings": 2, "fair_correct": 0.75}
    assert fair_share(right, total, None) == {"fair_recordings": None, "fair_correct": None}
    base = {"change": "unchanged", "judges": judges, "models": {"m": {"correct": 1.0, "fair_correct": 1.0}}}
    moved = {"change": "moved", "judges": judges, "models": {"m": {"correct": 0.5, **fair_share(right, total, judges)}}}
    lines = table({"rows": [base, moved]}, ["m"]).splitlines()
    assert "on recordings both judges recognise" in lines[0] and lines[1].count("---") == 5
    assert lines[-1] == "| moved | 50.0 % (-50.0) | 75.0 % (-25.0) | 66.7 % | 100.0 % |"
