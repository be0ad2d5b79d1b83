"""A guided recording session: the step function, a clock, a teach folder and a stream of events.

Qt-free. The source's thread calls :meth:`TeachSession.feed` with every batch; the GUI timer
or the CLI loop calls :meth:`TeachSession.tick` (and the commands); the clock is injected
(``time.monotonic`` by default, a fake one in tests). Events reach the take's file only while
a take is recording; each take is closed and moved into the folder before the next opens.

Example::

    session = TeachSession(TeachPlan(("wave", "clap")), folder)
    session.start()
    for batch in source.batches():
        session.feed(batch)
        out = session.tick()
        print(out.prompt)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from app.teach.folder import TakeRecording, TeachFolder
from app.teach.steps import Phase, TeachOutput, TeachPlan, initial_state, teach_step
from eventcore.errors import SourceError


class TeachSession:
    """Drives a :class:`TeachPlan` into a :class:`TeachFolder` from a live (or replayed) event stream."""

    def __init__(self, plan: TeachPlan, folder: TeachFolder, clock: Callable[[], float] = time.monotonic) -> None:
        if plan.class_names != folder.manifest.class_names:
            raise ValueError("the plan's gestures differ from the folder's")
        self.plan, self.folder, self.clock = plan, folder, clock
        self.state = initial_state(plan, set(folder.finished()))
        self.recording: TakeRecording | None = None
        self.messages: list[str] = []  # takes dropped (no events) and other notes for the user
        self._lock = threading.Lock()
        self.last = teach_step(plan, self.state, clock())[0]

    def feed(self, batch: np.ndarray) -> None:
        """Events from the source (any thread): written when a take is recording, else ignored."""
        with self._lock:
            if self.recording is not None and len(batch):
                self.recording.write(batch)

    def tick(self) -> TeachOutput:
        """Advance to the clock's time; open, commit or abort takes as the step says."""
        return self._step(None)

    def start(self) -> TeachOutput:
        return self._step("start")

    def pause(self) -> TeachOutput:
        return self._step("pause")

    def redo(self, class_index: int, take: int) -> TeachOutput:
        """Record this take again now (the old one is replaced once the new one is finished)."""
        return self._step("redo", self.plan.slots.index((class_index, take)))

    def delete(self, class_index: int, take: int) -> TeachOutput:
        """Remove a finished take; "start" records it again later."""
        return self._step("delete", self.plan.slots.index((class_index, take)))

    def mark(self, events: np.ndarray, class_index: int) -> str:
        """A segment marked on a recording becomes this gesture's next take; returns its file name."""
        with self._lock:
            name = mark_take(self.folder, events, class_index)
            on_disk = set(self.folder.finished())
            self.state = replace(self.state, done=frozenset(
                i for i, s in enumerate(self.plan.slots) if s in on_disk))
            return name

    def finished_takes(self) -> set[tuple[int, int]]:
        return {self.plan.slots[i] for i in self.state.done}

    def close(self) -> None:
        """End the session; a take being recorded is dropped (finished takes stay)."""
        with self._lock:
            if self.recording is not None:
                self.folder.abort(self.recording)
                self.recording = None

    def _step(self, command: str | None, arg: int = -1) -> TeachOutput:
        with self._lock:
            out, state = teach_step(self.plan, self.state, self.clock(), command, arg)
            if (out.cancelled or out.finished) and self.recording is not None:
                rec, self.recording = self.recording, None
                if out.cancelled:
                    self.folder.abort(rec)
                else:
                    try:
                        self.folder.commit(rec)
                    except SourceError as err:  # an empty take: not done, it comes round again
                        slot = self.plan.slots.index((rec.class_index, rec.take))
                        state = replace(state, done=state.done - {slot})
                        self.messages.append(str(err))
            if out.deleted >= 0:
                self.folder.delete_take(*self.plan.slots[out.deleted])
            if out.started and state.phase == Phase.RECORDING:
                self.recording = self.folder.begin_take(*self.plan.slots[state.slot])
            self.state = state
            self.last = out
            return out


def marked_segment(source, seconds: float, take_s: float) -> np.ndarray:
    """The events of a recording (a FileSource) from ``seconds`` for ``take_s``; SourceError past its end."""
    length_s = source.duration_us / 1e6
    if seconds < 0 or seconds >= length_s:
        raise SourceError(f"{source.name}: {seconds:g} s is past the end of the recording ({length_s:.1f} s long)")
    t0 = source.start_us + int(seconds * 1e6)
    return source.events_between(t0, t0 + int(take_s * 1e6))


def mark_take(folder: TeachFolder, events: np.ndarray, class_index: int, take: int | None = None) -> str:
    """A segment marked on a recording becomes a take (the next free number unless ``take``); returns its file."""
    if not len(events):
        raise SourceError(f"{folder.manifest.class_names[class_index]}: the marked segment holds no events")
    take = folder.next_take(class_index) if take is None else take
    return folder.write_take(class_index, take, events).file
