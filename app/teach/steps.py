"""The guided recording as a pure state machine: prompt, countdown, record, next; redo, delete, pause.

One step function in the norse style, ``(out, state) = teach_step(plan, state, now, command)``:
no clock, no files, no Qt. ``now`` is any monotonic time in seconds (a fake one in tests).
The plan's slots are visited round by round (take 1 of every gesture, then take 2, ...),
so a change of light or posture during a session is spread over all gestures.

    COUNTDOWN --countdown_s--> RECORDING --take_s--> COUNTDOWN (next slot) ... --> DONE
    "start" leaves READY / PAUSED / DONE for the next missing slot; "pause" stops (a take
    being recorded is cancelled); "redo" re-records one slot now; "delete" drops one.

The output's edges (``started``, ``finished``, ``cancelled``, ``deleted``) tell the caller
when to open, commit, abort or remove a take's files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import Enum

from eventcore.errors import SettingsError
from eventcore.takes import check_class_names


class Phase(str, Enum):
    READY = "ready"
    COUNTDOWN = "countdown"
    RECORDING = "recording"
    PAUSED = "paused"
    DONE = "done"


@dataclass(frozen=True)
class TeachPlan:
    """What to record: the gesture names, takes per gesture, take and countdown lengths (seconds)."""

    class_names: tuple[str, ...]
    takes_per_class: int = 5
    take_s: float = 2.0
    countdown_s: float = 3.0

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "class_names", check_class_names(self.class_names))
        except Exception as err:
            raise SettingsError(str(err)) from None
        if not 1 <= self.takes_per_class <= 100:
            raise SettingsError(f"takes per gesture must be 1..100, not {self.takes_per_class}")
        if not 0.5 <= self.take_s <= 30:
            raise SettingsError(f"take length must be 0.5..30 s, not {self.take_s}")
        if not 0 <= self.countdown_s <= 30:
            raise SettingsError(f"countdown must be 0..30 s, not {self.countdown_s}")

    @property
    def slots(self) -> tuple[tuple[int, int], ...]:
        """``(class_index, take)`` in recording order, takes numbered from 1."""
        return tuple((c, t) for t in range(1, self.takes_per_class + 1) for c in range(len(self.class_names)))


@dataclass(frozen=True)
class TeachState:
    """Where the session is: phase, the slot being prompted or recorded, when the phase began, done slots."""

    phase: Phase = Phase.READY
    slot: int = -1
    since: float = 0.0
    done: frozenset[int] = frozenset()


@dataclass(frozen=True)
class TeachOutput:
    """What to show and do after a step: the prompt, seconds left in the phase, progress and edges."""

    phase: Phase
    slot: int
    class_name: str
    take: int
    remaining_s: float
    done: int
    total: int
    started: bool = False
    finished: bool = False
    cancelled: bool = False
    deleted: int = -1

    @property
    def prompt(self) -> str:
        """One line for a person: what to do now."""
        if self.phase == Phase.COUNTDOWN:
            return f"get ready: {self.class_name} (take {self.take}) in {math.ceil(self.remaining_s)} s"
        if self.phase == Phase.RECORDING:
            return f"RECORDING {self.class_name} (take {self.take}): {self.remaining_s:.1f} s left"
        if self.phase == Phase.DONE:
            return f"done: {self.done} of {self.total} takes recorded"
        if self.phase == Phase.PAUSED:
            return f"paused: {self.done} of {self.total} takes recorded"
        return f"ready: {self.total} takes to record"


def initial_state(plan: TeachPlan, finished: set[tuple[int, int]] = frozenset()) -> TeachState:
    """The state of a session whose ``finished`` slots are already on disk."""
    slots = plan.slots
    return TeachState(done=frozenset(i for i, s in enumerate(slots) if s in finished))


def _next_missing(plan: TeachPlan, done: frozenset[int], after: int = -1) -> int:
    n = len(plan.slots)
    for k in range(n):
        i = (after + 1 + k) % n
        if i not in done:
            return i
    return -1


def teach_step(plan: TeachPlan, state: TeachState, now: float,
               command: str | None = None, arg: int = -1) -> tuple[TeachOutput, TeachState]:
    """Advance the session to time ``now``, applying ``command`` ("start", "pause", "redo", "delete") first.

    ``arg`` is the slot index for "redo" and "delete".
    """
    edges: dict = {}
    s = state
    recording = s.phase == Phase.RECORDING
    if command == "start" and s.phase in (Phase.READY, Phase.PAUSED, Phase.DONE):
        nxt = _next_missing(plan, s.done)
        s = replace(s, phase=Phase.COUNTDOWN, slot=nxt, since=now) if nxt >= 0 else replace(s, phase=Phase.DONE)
    elif command == "pause" and s.phase in (Phase.COUNTDOWN, Phase.RECORDING):
        edges["cancelled"] = recording
        s = replace(s, phase=Phase.PAUSED)
    elif command == "redo" and 0 <= arg < len(plan.slots):
        edges["cancelled"] = recording
        s = replace(s, phase=Phase.COUNTDOWN, slot=arg, since=now)
    elif command == "delete" and 0 <= arg < len(plan.slots):
        if recording and s.slot == arg:
            edges["cancelled"] = True
            s = replace(s, phase=Phase.PAUSED)
        if arg in s.done:
            edges["deleted"] = arg
        s = replace(s, done=s.done - {arg})
        if s.phase == Phase.DONE:
            s = replace(s, phase=Phase.PAUSED)
    elif command not in (None, "tick"):
        if command not in ("start", "pause", "redo", "delete"):
            raise ValueError(f"unknown teach command {command!r}")

    if s.phase == Phase.COUNTDOWN and now - s.since >= plan.countdown_s:
        s = replace(s, phase=Phase.RECORDING, since=s.since + plan.countdown_s)
        edges["started"] = True
    if s.phase == Phase.RECORDING and now - s.since >= plan.take_s:
        edges["finished"] = True
        done = s.done | {s.slot}
        nxt = _next_missing(plan, done, s.slot)
        end = s.since + plan.take_s
        s = replace(s, done=done, phase=Phase.COUNTDOWN if nxt >= 0 else Phase.DONE, slot=nxt, since=end)
        if nxt >= 0 and now - s.since >= plan.countdown_s:  # a late tick: the next take starts in this step too
            s = replace(s, phase=Phase.RECORDING, since=s.since + plan.countdown_s)
            edges["started"] = True
    return _output(plan, s, now, edges), s


def _output(plan: TeachPlan, s: TeachState, now: float, edges: dict) -> TeachOutput:
    cls, take = plan.slots[s.slot] if 0 <= s.slot < len(plan.slots) else (-1, 0)
    length = {Phase.COUNTDOWN: plan.countdown_s, Phase.RECORDING: plan.take_s}.get(s.phase, 0.0)
    return TeachOutput(
        phase=s.phase, slot=s.slot, class_name=plan.class_names[cls] if cls >= 0 else "", take=take,
        remaining_s=max(0.0, length - (now - s.since)) if length else 0.0,
        done=len(s.done), total=len(plan.slots), **edges,
    )
