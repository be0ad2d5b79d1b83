"""The shipped demo recordings (``recordings/*.aedat4``): what the app plays when given no source."""

from __future__ import annotations

from pathlib import Path

from eventcore.errors import SourceError

RECORDINGS_DIR = Path(__file__).resolve().parents[1] / "recordings"


def demo_recordings() -> list[Path]:
    """The shipped demo recordings, sorted; the first is the default."""
    return sorted(RECORDINGS_DIR.glob("*.aedat4"))


def default_demo() -> Path:
    """The default demo recording; SourceError when none is shipped."""
    demos = demo_recordings()
    if not demos:
        raise SourceError(f"no demo recording in {RECORDINGS_DIR}: pass a file, camera or host:port")
    return demos[0]
