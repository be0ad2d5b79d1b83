"""Errors a source raises: one type, a message naming the file or device and the fault."""

from __future__ import annotations


class SourceError(Exception):
    """A source cannot be opened or read. ``str(err)`` is a one-line message for the user."""


class StreamEnded(SourceError):
    """A live stream ended on its own (camera unplugged, network writer gone)."""
