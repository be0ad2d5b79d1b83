"""The running pipeline: source -> filter/geometry -> window -> model -> decision, in threads.

Two worker threads, none of them the GUI's: the reader pulls batches from the source,
maps them to the model's input and cuts windows every hop; the inference thread runs the
model on the newest window, as the decision rule asks (``eventcore.decision``: its last
0.25 s, 0.5 s and whole second, one batch), and decides. With automatic framing
(``eventcore.framing``) the windows stay in sensor coordinates and the inference thread maps
each to the zoom in force, plus one probe zoom's whole window in the same batch. They meet in a one-element :class:`LatestSlot`: a live or
paced stream overwrites a window the model has not started yet (counted as skipped), so
the result never lags the stream by more than one inference; a file played as fast as
possible waits instead, so every window is classified.

Example::

    pipe = Pipeline(source, engine, on_result=print)
    pipe.start(); pipe.wait(); pipe.stop()
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from eventcore.decision import Decision, DecisionSettings, DecisionSmoother
from eventcore.errors import UserError
from eventcore.events import EVENT_DTYPE, empty_events
from eventcore.framing import FramingSettings, FramingState, framing_step, initial_state, zoom_box
from eventcore.geometry import Geometry
from eventcore.settings import WindowSettings
from eventcore.window import SlidingWindow
from app.sources.base import FileSource, Source


@dataclass
class WindowJob:
    """One window handed to the model: events in model coordinates (sensor coordinates when the
    pipeline frames automatically) and its timing."""

    events: np.ndarray
    t_end_us: int
    t_ready: float
    truth: int | None
    restarted: bool


@dataclass
class Prediction:
    """What the model said about one window, with the timestamps to judge its latency."""

    t_end_us: int
    t_ready: float
    t_done: float
    n_events: int
    rates: np.ndarray
    decision: Decision
    truth: int | None
    gates: list[np.ndarray] = field(default_factory=list)
    spike_maps: list[np.ndarray] = field(default_factory=list)
    window_rates: np.ndarray | None = None  # [lengths, classes]: every window the decision rule classified
    crop_box: tuple[int, int, int] | None = None  # the sensor square the model read (automatic framing moves it)
    framing: FramingState | None = None  # automatic framing's state after this hop

    @property
    def latency_ms(self) -> float:
        """Wall time from the window being complete to its result being ready."""
        return (self.t_done - self.t_ready) * 1e3


class LatestSlot:
    """A one-element hand-over. ``drop=True``: a new item replaces an unconsumed one."""

    def __init__(self, drop: bool) -> None:
        self.drop = drop
        self.skipped = 0
        self._item = None
        self._closed = False
        self._cond = threading.Condition()

    def put(self, item) -> None:
        with self._cond:
            if not self.drop:
                while self._item is not None and not self._closed:
                    self._cond.wait()
            elif self._item is not None:
                self.skipped += 1
            self._item = item
            self._cond.notify_all()

    def get(self):
        """The newest item, waiting for one; None once closed and empty."""
        with self._cond:
            while self._item is None and not self._closed:
                self._cond.wait()
            item, self._item = self._item, None
            self._cond.notify_all()
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class RateMeter:
    """Events per second over the last ``span_s`` seconds of wall time."""

    def __init__(self, span_s: float = 2.0) -> None:
        self.span_s = span_s
        self._samples: collections.deque[tuple[float, int]] = collections.deque()
        self._total = 0

    def add(self, n: int, now: float) -> None:
        self._samples.append((now, n))
        self._total += n
        while self._samples and now - self._samples[0][0] > self.span_s:
            self._total -= self._samples.popleft()[1]

    def rate(self, now: float) -> float:
        if not self._samples:
            return 0.0
        span = max(now - self._samples[0][0], 1e-3)
        return self._total / span if now - self._samples[-1][0] < self.span_s else 0.0


class Pipeline:
    """Runs one source through the model until the source ends or :meth:`stop`.

    ``windowing`` (default: the checkpoint's), ``roi`` and ``framing`` are fixed for the
    pipeline's life; a change of any is a new pipeline (the session's job). ``framing``
    (:mod:`eventcore.framing`): the model reads a square zoomed into the ROI or default crop,
    chosen by its own confidence; None reads the whole square. ``error`` holds the exception
    that stopped it: a :class:`UserError` is bad input, anything else a bug with its traceback.
    """

    def __init__(
        self,
        source: Source,
        engine,
        *,
        windowing: WindowSettings | None = None,
        roi: tuple[int, int, int] | None = None,
        framing: FramingSettings | None = None,
        framing_state: FramingState | None = None,
        noise_filter: Callable[[np.ndarray], np.ndarray] | None = None,
        smoother: DecisionSmoother | None = None,
        drop: bool | None = None,
        on_result: Callable[[Prediction], None] | None = None,
        view_us: int = 200_000,
    ) -> None:
        self.source = source
        self.engine = engine
        self.windowing = windowing or engine.windowing
        self.chain = engine.input_chain(source.width, source.height, roi)
        self.geometry = self.chain.geometry.geometry
        self.framing = framing
        self._framed: list[Geometry] = []
        if framing is not None:
            box, size = self.geometry.crop_box, self.geometry.size
            self._framed = [self.geometry] + [Geometry(source.width, source.height, size, zoom_box(box, z))
                                              for z in framing.zooms[1:]]
            self.framing_state = framing_state or initial_state(framing)
        self.noise_filter = noise_filter
        self.smoother = smoother or DecisionSmoother(engine.class_names)
        paced = isinstance(source, FileSource) and source.speed is not None
        self.drop = drop if drop is not None else (source.is_live or paced)
        self.on_result = on_result
        self.view_us = view_us
        self._recorder = None
        self._rec_lock = threading.Lock()

        self.window = SlidingWindow(duration_us=self.window_us, hop_us=self.hop_us)
        self.slot = LatestSlot(self.drop)
        self.latest: Prediction | None = None
        self.history: collections.deque[Prediction] = collections.deque(maxlen=600)
        self.events_in = 0
        self.windows_made = 0
        self.meter = RateMeter()
        self.error: BaseException | None = None
        self.end_reason: str | None = None
        self.last_t_us: int | None = None
        self._view: collections.deque[np.ndarray] = collections.deque()
        self._view_lock = threading.Lock()
        self._stop = threading.Event()
        self._done = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def window_us(self) -> int:
        return self.windowing.window_us

    @property
    def hop_us(self) -> int:
        return self.windowing.hop_us

    @property
    def skipped(self) -> int:
        return self.slot.skipped

    @property
    def error_text(self) -> str | None:
        """The stopping error as one line for a banner or stderr (None when none)."""
        if self.error is None:
            return None
        if isinstance(self.error, UserError):
            return str(self.error)
        return f"internal error: {type(self.error).__name__}: {self.error}"

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._read_loop, name="reader", daemon=True),
            threading.Thread(target=self._infer_loop, name="inference", daemon=True),
        ]
        for t in self._threads:
            t.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the source has ended and every window handed over is classified."""
        return self._done.wait(timeout)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def stop(self) -> None:
        self._stop.set()
        self.source.close()
        self.slot.close()
        for t in self._threads:
            t.join(timeout=60)  # one inference on a loaded CPU can take seconds

    @property
    def recorder(self):
        return self._recorder

    def set_recorder(self, recorder):
        """Attach (or detach with None) a recorder; returns the previous one, no longer written to.

        The swap waits for a write in progress, so the caller may close the old one at once.
        """
        with self._rec_lock:
            old, self._recorder = self._recorder, recorder
        return old

    def recent_events(self) -> np.ndarray:
        """The last ``view_us`` of filtered events at sensor resolution, for display."""
        with self._view_lock:
            parts = list(self._view)
        if not parts:
            return empty_events()
        ev = np.concatenate(parts, dtype=EVENT_DTYPE)
        t_end = ev["timestamp"][-1]
        return ev[np.searchsorted(ev["timestamp"], t_end - self.view_us, side="right"):]

    def _keep_for_view(self, batch: np.ndarray) -> None:
        with self._view_lock:
            self._view.append(batch)
            t_end = batch["timestamp"][-1]
            while len(self._view) > 1 and self._view[0]["timestamp"][-1] <= t_end - self.view_us:
                self._view.popleft()

    def _read_loop(self) -> None:
        restarted = False
        try:
            for batch in self.source.batches():
                if self._stop.is_set():
                    break
                now = time.perf_counter()
                with self._rec_lock:
                    if self._recorder is not None:
                        self._recorder.write(batch)
                self.events_in += len(batch)
                self.meter.add(len(batch), now)
                if not len(batch):
                    continue
                if self.last_t_us is not None and batch["timestamp"][0] < self.last_t_us:
                    self.window.reset()
                    with self._view_lock:
                        self._view.clear()
                    restarted = True
                self.last_t_us = int(batch["timestamp"][-1])
                if self.noise_filter is not None:
                    batch = self.noise_filter(batch)
                    if not len(batch):
                        continue
                self._keep_for_view(batch)
                for win in self.window.push(batch if self.framing is not None else self.chain.geometry(batch)):
                    t_end, events = win.t_end, win.events
                    truth = self.source.labels.truth_at(t_end) if self.source.labels is not None else None
                    self.windows_made += 1
                    self.slot.put(WindowJob(events, int(t_end), time.perf_counter(), truth, restarted))
                    restarted = False
            self.end_reason = getattr(self.source, "end_reason", None)
        except Exception as err:  # kept whole (traceback included) for the GUI banner / the CLI
            self.error = err
        finally:
            self.slot.close()

    def _nested_windows(self, events: np.ndarray, t_end_us: int) -> list[np.ndarray]:
        """The decision rule's windows, all ending with the job's (shortest first, the whole window last)."""
        starts = t_end_us - np.asarray(self.smoother.lengths_us(self.window_us), dtype=np.int64)
        cuts = np.searchsorted(events["timestamp"], starts, side="left")
        return [events[c:] for c in cuts.tolist()]

    def _windows(self, job: WindowJob) -> tuple[list[np.ndarray], np.ndarray | None, Geometry, Geometry | None]:
        """The rule's windows in model coordinates, the probe zoom's whole window (automatic framing),
        and the squares each was read through."""
        if self.framing is None:
            return self._nested_windows(job.events, job.t_end_us), None, self.geometry, None
        st = self.framing_state
        geo = self._framed[st.current]
        windows = self._nested_windows(geo.apply(job.events), job.t_end_us)
        if st.probe == st.current or len(windows[-1]) < self.smoother.settings.min_events:
            return windows, None, geo, None  # an idle scene teaches framing nothing: no probe to classify
        probe_geo = self._framed[st.probe]
        return windows, probe_geo.apply(job.events), geo, probe_geo

    def _reframe(self, rates: np.ndarray, probe: np.ndarray | None, probe_rates: np.ndarray | None) -> None:
        """Compare the probe's zoom with the one in force on the same busy whole window."""
        if probe is not None:
            lost = len(probe) < self.smoother.settings.min_events  # the probe's zoom left the scene idle
            self.framing_state = framing_step(self.framing, self.framing_state, rates, None if lost else probe_rates)

    def _infer_loop(self) -> None:
        try:
            while (job := self.slot.get()) is not None:
                if job.restarted:
                    self.smoother.reset()
                windows, probe, geo, probe_geo = self._windows(job)
                gains = [geo.count_gain] * len(windows) + ([probe_geo.count_gain] if probe_geo is not None else [])
                outs = self.engine.infer(windows if probe is None else [*windows, probe], gains)
                window_rates = np.stack([o.rates for o in outs[:len(windows)]])
                if self.framing is not None:
                    self._reframe(window_rates[-1], probe, None if probe is None else outs[-1].rates)
                decision = self.smoother.update(window_rates, [len(w) for w in windows])
                out = outs[len(windows) - 1]  # the whole window: its gates and maps are the ones drawn
                pred = Prediction(
                    t_end_us=job.t_end_us,
                    t_ready=job.t_ready,
                    t_done=time.perf_counter(),
                    n_events=len(windows[-1]),
                    rates=out.rates,
                    decision=decision,
                    truth=job.truth,
                    gates=out.gates,
                    spike_maps=out.spike_maps,
                    window_rates=window_rates,
                    crop_box=geo.crop_box,
                    framing=self.framing_state if self.framing is not None else None,
                )
                self.latest = pred
                self.history.append(pred)
                if self.on_result is not None:
                    self.on_result(pred)
        except Exception as err:
            self.error = err
            self._stop.set()
            self.source.close()
            self.slot.close()
        finally:
            self._done.set()


def run_to_end(source: Source, engine, framing: FramingSettings | None = None,
               framing_state: FramingState | None = None, rule: DecisionSettings | None = None) -> list[Prediction]:
    """Every prediction of a recorded source played through the pipeline to its end (benchmarks, shipping);
    ``framing_state``: automatic framing starts from there (a user who stays where they stood); ``rule``:
    another decision rule than the app's (a benchmark's earlier rules)."""
    preds: list[Prediction] = []
    smoother = None if rule is None else DecisionSmoother(engine.class_names, settings=rule)
    pipe = Pipeline(source, engine, framing=framing, framing_state=framing_state, smoother=smoother,
                    on_result=preds.append)
    pipe.start()
    pipe.wait()
    pipe.stop()
    return preds
