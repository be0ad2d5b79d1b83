"""Teach the app your own gestures: guided recording into a teach folder (see ``eventcore.takes``)."""
