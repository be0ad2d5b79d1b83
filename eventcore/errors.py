"""The project's error types, one per kind. ``str(err)`` is a one-line message for the user.

Everything derived from :class:`UserError` is bad input (a file, a device, an argument, a
checkpoint) and ends a command with that line and exit status 2; any other exception is a
bug of ours and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


class SourceError(UserError):
    """A source cannot be opened or read; the message names the file or device and the fault."""


class StreamEnded(SourceError):
    """A live stream ended on its own (camera unplugged, network writer gone)."""


class CheckpointError(UserError):
    """A checkpoint file is missing, unreadable, foreign or inconsistent."""


class SettingsError(UserError):
    """A setting (window, hop, speed, seconds, device, ...) is out of its allowed range."""
