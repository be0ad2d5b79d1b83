"""Ground-truth timelines: the DVS128 Gesture label CSV, lookups, and bad label files."""

from __future__ import annotations

import numpy as np
import pytest

from eventcore.errors import SourceError
from eventcore.labels import LabelTimeline, labels_beside


def test_csv_round_trip_and_lookup(tmp_path):
    p = tmp_path / "user01_fluorescent_labels.csv"
    p.write_text("class,startTime_usec,endTime_usec\n3,500,900\n1,100,400\n")
    tl = LabelTimeline.from_csv(p)
    assert list(tl.label) == [0, 2]
    assert tl.truth_at(100) == 0 and tl.truth_at(399) == 0
    assert tl.truth_at(400) is None and tl.truth_at(50) is None and tl.truth_at(950) is None
    assert list(tl.truth_at(np.array([150, 450, 600]))) == [0, -1, 2]
    out = tmp_path / "copy.csv"
    tl.to_csv(out)
    again = LabelTimeline.from_csv(out)
    assert np.array_equal(again.start_us, tl.start_us) and np.array_equal(again.label, tl.label)


def test_label_file_found_beside_recording(tmp_path):
    rec = tmp_path / "user01_led.aedat"
    rec.write_bytes(b"")
    assert labels_beside(rec) is None
    (tmp_path / "user01_led_labels.csv").write_text("class,startTime_usec,endTime_usec\n1,0,10\n")
    assert labels_beside(rec).name == "user01_led_labels.csv"


@pytest.mark.parametrize(
    "text, message",
    [
        ("class,startTime_usec,endTime_usec\n12,0,10\n", "class numbers"),
        ("class,startTime_usec,endTime_usec\n1,10,5\n", "ends before"),
        ("class,startTime_usec,endTime_usec\n1,a,5\n", "not a label file"),
        ("class,startTime_usec\n1,10\n", "3 columns"),
    ],
)
def test_bad_label_files_name_the_file(tmp_path, text, message):
    p = tmp_path / "bad_labels.csv"
    p.write_text(text)
    with pytest.raises(SourceError, match=message) as err:
        LabelTimeline.from_csv(p)
    assert "bad_labels.csv" in str(err.value)
