"""Shared fixtures: the real recordings in ../shared/data (skipped when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Engines answer with torch unless a test asks for an ONNX backend (tests/test_export.py): no
# export of every temporary test checkpoint into the user's cache.
os.environ.setdefault("TCJA_GESTURE_BACKEND", "torch")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real recordings; tests using it skip when a fresh clone lacks it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real recordings not available ({SHARED_DATA} is absent)")
    return SHARED_DATA
