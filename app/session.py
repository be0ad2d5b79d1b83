"""The app's session, without Qt: one source, one model, the pipeline between them and every setting.

The session owns the settings (windowing, region of interest, framing, noise filter, speed, loop,
event view); the GUI and the CLI only ask it for changes and read back what is in force.
A change that needs a new pipeline restarts it; a file keeps its playback position, a live
source (camera, network) is reopened from its spec, and a recording in progress is handed
from one pipeline to the next. Failures raise :class:`UserError` (the caller shows the line).

Example::

    s = Session(Settings(window=WindowRequest.from_ms(1000, 50)))
    s.load_model("small64", "cpu")
    s.open("recordings/demo.aedat4")     # starts the pipeline
    s.pipe.latest                        # newest Prediction, read by the GUI timer
    s.status(time.perf_counter())        # the status bar's text
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field, replace

import numpy as np

from eventcore.errors import CheckpointError, SettingsError, SourceError
from eventcore.framing import DEFAULT_MODE, FRAMING
from eventcore.settings import WindowRequest, WindowSettings, ms_to_us, positive
from model.checkpoint import model_card
from app.pipeline import Pipeline
from app.sources.base import FileSource, Source
from app.sources.open import open_source
from app.sources.recorder import Recorder

LATENCY_SPAN_S = 5.0
STEP_SEEK_US = 1_000_000
VIEW_MODES = ("window", "decay")
DECAY_SPANS = 5  # the decay view keeps this many time constants of events


@dataclass(frozen=True)
class Settings:
    """What the user chose. ``window``: requests over the checkpoint's own window and hop."""

    window: WindowRequest = field(default_factory=WindowRequest)
    roi: tuple[int, int, int] | None = None
    framing: bool = DEFAULT_MODE == "auto"  # automatic framing (eventcore.framing): zoom onto a far subject
    denoise: bool = False
    speed: float | None = 1.0
    loop: bool = True
    view_mode: str = "window"
    view_span_us: int = 100_000

    def __post_init__(self) -> None:
        positive("speed", self.speed)
        if self.view_mode not in VIEW_MODES:
            raise SettingsError(f"view mode must be one of {VIEW_MODES}, got {self.view_mode!r}")

    @property
    def view_us(self) -> int:
        """How much recent time the event view keeps (the span, or 5 decay time constants)."""
        return self.view_span_us * (DECAY_SPANS if self.view_mode == "decay" else 1)


@dataclass(frozen=True)
class Status:
    """The status bar's texts for one moment."""

    source: str
    rate: str
    latency: str
    model: str
    compile_state: str
    recording: str
    time: str
    seek_fraction: float | None  # playback position in [0, 1] for a file, None for a live source
    model_detail: str = ""  # the model's tooltip: what it was trained on, in full


def skipped_text(share: float | None) -> str:
    """The status bar's skip counter: the share of windows dropped to keep up ("" when not counted)."""
    return "" if share is None else f" | skipped {share:.0%} of windows"


def trained_on_text(trained_on: str) -> str:
    """``trained on X``, or X itself when it already says how ("fine-tuned on 4 takes ...")."""
    return trained_on if trained_on.lower().startswith(("fine-tuned", "trained")) else f"trained on {trained_on}"


def short_trained_on(trained_on: str) -> str:
    """A few words for the status bar (the full text is in the tooltip and the About box)."""
    low = trained_on.lower()
    if low.startswith("fine-tuned"):
        return "fine-tuned" + (", simulated takes" if "simulated takes" in low else "")
    if "simulated" in low:
        return "trained on simulated data"
    text = trained_on_text(trained_on)
    return text if len(text) <= 40 else text[:39] + "…"


def latency_summary(latencies_ms: np.ndarray) -> tuple[float, float] | None:
    """(median, p95) in ms of the given inference latencies; None when there are none."""
    if len(latencies_ms) == 0:
        return None
    p50, p95 = np.percentile(latencies_ms, (50, 95))
    return float(p50), float(p95)


class Session:
    """Owns the source, the engine, the running :class:`Pipeline`, the recorder and the settings."""

    def __init__(self, settings: Settings | None = None, compile_model: bool = False) -> None:
        self.settings = settings or Settings()
        self.compile_model = compile_model
        self.backend: str | None = None  # app.backends name; None: the fastest for the device
        self.spec: str | None = None
        self.source: Source | None = None
        self.engine = None
        self.model_spec: str | None = None
        self.pipe: Pipeline | None = None
        self.recorder: Recorder | None = None
        self._skip_base: tuple[object, int, int] | None = None  # (pipe, skipped, windows made) at the last play

    @property
    def is_file(self) -> bool:
        return isinstance(self.source, FileSource)

    # ---- source and model -----------------------------------------------------------------
    def open(self, spec: str) -> Source:
        """Open a new source (a UserError leaves the current one playing) and start on it."""
        try:
            new = open_source(spec)
        except (ValueError, OSError) as err:
            raise SourceError(f"{spec}: {err}") from None
        self.close()
        self.source, self.spec = new, spec
        self.settings = replace(self.settings, roi=None)
        if isinstance(new, FileSource):
            new.speed = self.settings.speed
            new.loop = self.settings.loop
        self.start()
        return new

    def load_model(self, spec: str | None, device=None):
        """Load a shipped model by name or a checkpoint path (None: the default) on ``device``; keep the old on error."""
        from app.inference import InferenceEngine

        engine = InferenceEngine.from_checkpoint(spec, device, record=True, backend=self.backend)
        self.set_engine(engine)
        self.model_spec = spec
        return engine

    def set_engine(self, engine) -> None:
        """Use an inference engine made with ``record=True``; CheckpointError for one that cannot take events."""
        if engine.cfg.in_channels != 2:
            raise CheckpointError(f"model {engine.name}: expects {engine.cfg.in_channels} input channel(s); an event "
                                  "model takes 2 (OFF, ON). Choose another model.")
        self._stop_pipe()
        self.engine = engine
        if self.compile_model:
            engine.start_compile()
        self.start()

    @property
    def device(self):
        return None if self.engine is None else self.engine.device

    # ---- settings -------------------------------------------------------------------------
    @property
    def windowing(self) -> WindowSettings | None:
        """The window and hop in force: the user's requests over the model's own (None without a model)."""
        return None if self.engine is None else self.settings.window.resolve(self.engine.windowing)

    def set_windowing_ms(self, window_ms: float | None = None, hop_ms: float | None = None) -> bool:
        """Ask for a window and/or hop in ms (SettingsError when out of range); True when it changed."""
        asked = {"window_us": ms_to_us("window", window_ms), "hop_us": ms_to_us("hop", hop_ms)}
        current = self.windowing
        # a value equal to the one in force is no request (it must not pin the model's default)
        asked = {k: v for k, v in asked.items() if v is not None and (current is None or v != getattr(current, k))}
        return self._change(window=replace(self.settings.window, **asked)) if asked else False

    def set_roi(self, roi: tuple[int, int, int] | None) -> bool:
        """Use a square region of interest ``(x0, y0, side)`` of the sensor (None: the default crop)."""
        return self._change(roi=None if roi is None else tuple(int(v) for v in roi))

    def set_framing(self, on: bool) -> bool:
        """Let the model zoom its input onto a subject standing further away (``eventcore.framing``)."""
        return self._change(framing=bool(on))

    def set_denoise(self, on: bool) -> bool:
        return self._change(denoise=bool(on))

    def set_view(self, mode: str | None = None, span_ms: float | None = None) -> None:
        """The event view's mode ("window" or "decay") and span; no restart needed."""
        span_us = ms_to_us("view span", span_ms)
        self.settings = replace(self.settings, view_mode=mode or self.settings.view_mode,
                                view_span_us=span_us or self.settings.view_span_us)
        if self.pipe is not None:
            self.pipe.view_us = self.settings.view_us

    def set_speed(self, speed: float | None) -> None:
        """File playback speed (None: as fast as possible)."""
        self.settings = replace(self.settings, speed=speed)
        if self.is_file:
            self.source.speed = speed
        self._count_skips_from_now()

    def set_loop(self, on: bool) -> None:
        self.settings = replace(self.settings, loop=bool(on))
        if self.is_file:
            self.source.loop = bool(on)

    def _change(self, **changes) -> bool:
        """Apply settings that need a new pipeline; restart only when something changed."""
        new = replace(self.settings, **changes)
        if new == self.settings:
            return False
        old, self.settings = self.settings, new
        try:
            self.restart()
        except (ValueError, SourceError) as err:  # e.g. an ROI off the sensor: keep the old settings running
            self.settings = old
            self.restart()
            raise SettingsError(str(err)) from None
        return True

    # ---- pipeline -------------------------------------------------------------------------
    def start(self) -> None:
        """Start a pipeline when both a source and a model are present (ValueError on bad settings)."""
        if self.source is None or self.engine is None:
            return
        noise = None
        if self.settings.denoise:
            from app.noise import NoiseFilter

            noise = NoiseFilter("background_activity", self.source.width, self.source.height)
        pipe = Pipeline(self.source, self.engine, windowing=self.windowing, roi=self.settings.roi,
                        framing=FRAMING if self.settings.framing else None, noise_filter=noise, drop=True,
                        view_us=self.settings.view_us)
        pipe.set_recorder(self.recorder)
        self.pipe = pipe
        self._count_skips_from_now()
        pipe.start()

    def _count_skips_from_now(self) -> None:
        """Count skipped windows from here (a play, a resume, a seek): steps while paused are not skips."""
        pipe = self.pipe
        self._skip_base = None if pipe is None else (pipe, pipe.skipped, pipe.windows_made)

    def skipped_share(self) -> float | None:
        """Share of windows skipped since the last play while live or paced (None when not counted).

        A live or paced stream drops a window the model has not started yet so the result
        keeps up; paused, stepping or at "max" speed nothing is dropped for lateness.
        """
        pipe, base = self.pipe, self._skip_base
        if pipe is None or base is None or base[0] is not pipe or self.paused:
            return None
        if self.is_file and self.source.speed is None:
            return None
        made = pipe.windows_made - base[2]
        return (pipe.skipped - base[1]) / made if made > 0 else 0.0

    def restart(self) -> None:
        """Apply changed settings: a new pipeline on the same (or reopened live) source."""
        self._stop_pipe()
        if self.source is not None and not self.is_file and self.spec is not None:
            self.source = open_source(self.spec)
        self.start()

    def _stop_pipe(self) -> None:
        if self.pipe is not None:
            self.pipe.set_recorder(None)  # the recording outlives the pipeline
            self.pipe.stop()
            self.pipe = None

    # ---- playback (files only; no-ops on live sources) ------------------------------------
    def toggle_play(self) -> None:
        """Pause or resume; after the end of a file, start it again."""
        if not self.is_file:
            return
        src = self.source
        if self.pipe is not None and self.pipe.done:
            self.restart()
            src.resume()
        elif src.paused:
            src.resume()
        else:
            src.pause()
        self._count_skips_from_now()

    @property
    def paused(self) -> bool:
        return self.is_file and self.source.paused

    def pause(self) -> None:
        if self.is_file and not self.source.paused:
            self.toggle_play()

    def step(self) -> None:
        """Pause and play one hop of the file (one more window)."""
        if self.is_file and self.pipe is not None:
            self.pause()
            self.source.step(self.pipe.hop_us)

    def seek(self, t_us: int) -> None:
        """Jump to file time ``t_us``; while paused, play one window there so it is shown."""
        if not self.is_file or self.pipe is None:
            return
        self.source.seek(int(t_us))
        if self.source.paused:
            self.source.step(self.pipe.window_us + self.pipe.hop_us)
        self._count_skips_from_now()

    def seek_fraction(self, fraction: float) -> None:
        """Seek to a fraction in [0, 1] of the file (the seek slider)."""
        if self.is_file:
            src = self.source
            self.seek(src.start_us + int(min(max(fraction, 0.0), 1.0) * src.duration_us))

    def forward(self) -> None:
        """Paused: one hop; playing: one second ahead."""
        if self.is_file:
            self.step() if self.source.paused else self.seek(self.source.position_us + STEP_SEEK_US)

    def back(self) -> None:
        """Paused: back to the previous window; playing: one second back."""
        if self.is_file and self.pipe is not None:
            pipe = self.pipe
            self.seek(self.source.position_us - (pipe.window_us + 2 * pipe.hop_us if self.source.paused else STEP_SEEK_US))

    # ---- recording ------------------------------------------------------------------------
    def start_recording(self, path: str) -> Recorder:
        if self.source is None:
            raise SourceError("no source to record")
        self.stop_recording()
        try:
            self.recorder = Recorder(path, self.source.width, self.source.height, camera=self.source.camera,
                                     raise_errors=False)  # a full disk stops the recording, not the view
        except (ValueError, OSError) as err:
            raise SourceError(f"{path}: {err}") from None
        if self.pipe is not None:
            self.pipe.set_recorder(self.recorder)
        return self.recorder

    def recording_error(self) -> str | None:
        """The line saying why the running recording failed (full disk, ...), or None; the caller stops it."""
        rec = self.recorder
        return None if rec is None or rec.error is None else str(rec.error)

    def stop_recording(self) -> Recorder | None:
        """Detach the recorder from the reader (waiting for a write in progress); the caller closes it."""
        rec, self.recorder = self.recorder, None
        if self.pipe is not None:
            self.pipe.set_recorder(None)
        return rec

    # ---- what to show ---------------------------------------------------------------------
    def status(self, now: float) -> Status | None:
        """The status bar's texts (None without a pipeline)."""
        pipe, src, engine = self.pipe, self.source, self.engine
        if pipe is None:
            return None
        recent = [p.latency_ms for p in list(pipe.history) if p.t_done >= now - LATENCY_SPAN_S]
        lat = latency_summary(np.asarray(recent))
        time_text, fraction = "", None
        if self.is_file:
            pos = src.position_us - src.start_us
            time_text = f"{pos / 1e6:.1f} / {src.duration_us / 1e6:.1f} s"
            fraction = min(max(pos / src.duration_us, 0.0), 1.0) if src.duration_us > 0 else 0.0
        return Status(
            source=src.describe(),
            rate=f"{pipe.meter.rate(now) / 1e3:,.0f} k ev/s" + skipped_text(self.skipped_share()),
            latency="latency: -" if lat is None else f"latency {lat[0]:.0f} ms (p95 {lat[1]:.0f} ms)",
            model=f"{engine.name} ({short_trained_on(engine.trained_on)}) | {engine.device_name}",
            compile_state=engine.compile_state,
            recording="" if self.recorder is None else f"\u25cf REC {self.recorder.elapsed_us / 1e6:.1f} s",
            time=time_text,
            seek_fraction=fraction,
            model_detail=trained_on_text(engine.trained_on),
        )

    def end_report(self) -> tuple[str, str] | None:
        """Why the pipeline stopped, once known: ("error", line) or ("ended", line); None while running."""
        pipe = self.pipe
        if pipe is None:
            return None
        if pipe.error is not None:
            return "error", f"{self.source.name}: {pipe.error_text}"
        if not pipe.done:
            return None
        if pipe.end_reason:
            return "error", f"{self.source.name}: stream ended: {pipe.end_reason}"
        return "ended", "end of recording: press Play to start again"

    def about(self) -> tuple[str, str]:
        """The About box: (the model's checkpoint summary as HTML, its model card text or "")."""
        return about_model(self.engine) if self.engine is not None else ("no model loaded", "")

    def close(self) -> None:
        """Finish any recording, stop the pipeline and release the source."""
        rec = self.stop_recording()
        self._stop_pipe()
        if rec is not None:
            rec.close()
        if self.source is not None:
            self.source.close()


# what each stored accuracy measured, in the order shown; the training loop's own figures are left
# to the model card when the shipping measure (with "no gesture" below the threshold) is present
ACCURACY_TEXT = {
    "simulated_test_last_epoch": "simulated test set (as the app decides)",
    "test_acc_last": "simulated test set",
    "demo_gesture_windows": "demo recordings' gesture windows",
    "heldout_takes_after": "held-out takes",
    "heldout_windows_after": "held-out windows",
    "heldout_takes_before": "held-out takes before fine-tuning",
    "heldout_windows_before": "held-out windows before fine-tuning",
}
HIDDEN_ACCURACIES = {"train_acc_last", "teacher_on_simulated_test"}


def accuracy_lines(accuracies: dict[str, float]) -> list[tuple[str, float]]:
    """(what was measured, accuracy) for the About box: one test figure, no raw keys."""
    hidden = set(HIDDEN_ACCURACIES)
    if "simulated_test_last_epoch" in accuracies:
        hidden.add("test_acc_last")
    known = [(ACCURACY_TEXT[k], float(accuracies[k])) for k in ACCURACY_TEXT if k in accuracies and k not in hidden]
    other = [(k.replace("_", " "), float(v)) for k, v in accuracies.items() if k not in ACCURACY_TEXT and k not in hidden]
    return known + other


def about_model(engine) -> tuple[str, str]:
    """A loaded model's summary as HTML lines and its model card text ("" when it has none)."""
    meta, cfg = engine.meta, engine.cfg
    lines = [
        f"<b>{engine.name}</b> ({cfg.name}: T={cfg.T}, input {cfg.input_size[0]}x{cfg.input_size[1]}, "
        f"channels {list(cfg.channels)}, TCJA in blocks {[b + 1 for b in cfg.tcja_blocks]})",
        f"<b>{html.escape(trained_on_text(engine.trained_on))}</b>",
        f"window {engine.window_us / 1e3:.0f} ms, hop {engine.hop_us / 1e3:.0f} ms, frames split by {engine.split_by}",
    ]
    lines += [f"accuracy, {html.escape(text)}: {acc:.1%}" for text, acc in accuracy_lines(meta.get("accuracies") or {})]
    if meta.get("date"):
        lines.append(f"date: {html.escape(str(meta['date']))}")
    card_path, card = model_card(meta)
    if card:
        lines.append(f"model card: {html.escape(card_path)} (details below)")
    elif meta.get("notes"):
        lines.append(f"notes: {html.escape(str(meta['notes']))}")
    return "<br>".join(lines), card
