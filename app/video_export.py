"""MP4 export of a recording: the event view, the class evidence map and the gesture burned in.

The recording is played through the same :class:`~app.pipeline.Pipeline` as the app (every
window classified, as fast as the model allows), then drawn at ``fps`` frames per second of
recording time: left, the ON/OFF event image of the last ``view_ms`` with the evidence map
of the latest prediction over the model's input square; right, the gesture name, its
confidence, the smoothed class rates and the recording time. Frames are composed in numpy
and PIL and encoded to H.264 by FFmpeg's libraries through PyAV (``av``), so it runs off
any GUI thread and without a display.

Example::

    summary = export_video("recordings/synthetic_demo_1.aedat4", "demo.mp4", engine)
    # python main.py export-video recordings/synthetic_demo_1.aedat4 demo.mp4
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from eventcore.errors import SettingsError, SourceError
from app.gui.render import BACKGROUND, OFF_COLOUR, ON_COLOUR, blend_overlay, class_colours, event_image

VIEW_PX = 480  # the event panel's side
PANEL_PX = 320  # the text panel's width
TEXT = (230, 230, 230)
DIM = (150, 150, 160)


@dataclass
class Shown:
    """What one prediction puts on screen (kept small: no spike maps or gates)."""

    t_end_us: int
    label: str
    index: int
    confidence: float
    smoothed: np.ndarray
    evidence: np.ndarray | None
    evidence_label: str


@dataclass
class VideoSummary:
    """What was written."""

    path: Path
    frames: int
    width: int
    height: int
    fps: int
    predictions: int


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def predictions_of(path: str | Path, engine, cancel: threading.Event | None = None) -> list[Shown]:
    """Every window of the recording classified through the app's pipeline, as :class:`Shown` records."""
    from app.pipeline import Pipeline
    from app.sources.open import open_file

    shown: list[Shown] = []
    names = engine.class_names

    def keep(pred) -> None:
        k = getattr(pred.spike_maps, "evidence_class", None)
        d = pred.decision
        shown.append(Shown(pred.t_end_us, d.label, d.index, float(d.confidence), np.asarray(d.smoothed),
                           getattr(pred.spike_maps, "evidence", None), names[k] if k is not None else ""))

    source = open_file(path)
    pipe = Pipeline(source, engine, on_result=keep)
    pipe.start()
    try:
        while not pipe.wait(0.2):
            if cancel is not None and cancel.is_set():
                break
    finally:
        pipe.stop()
    if pipe.error is not None:
        raise SourceError(f"{path}: {pipe.error_text}")
    return shown


class FrameComposer:
    """Draws one video frame (RGB uint8 [VIEW_PX, VIEW_PX + PANEL_PX, 3]) from events and a prediction."""

    def __init__(self, sensor: tuple[int, int], crop_box: tuple[int, int, int], class_names: tuple[str, ...],
                 model_name: str) -> None:
        from app.gui.render import overlay_lut

        self.width, self.height = sensor
        self.box = crop_box
        self.names = class_names
        self.model_name = model_name
        self.lut = overlay_lut()
        self.colours = class_colours(len(class_names))
        scale = VIEW_PX / max(self.width, self.height)
        self.view_size = (max(2, int(round(self.width * scale))), max(2, int(round(self.height * scale))))
        self.size = (VIEW_PX + PANEL_PX, VIEW_PX)  # width, height (both even: H.264 wants them so)
        self.big, self.mid, self.small = _font(34), _font(18), _font(13)

    def frame(self, events: np.ndarray, shown: Shown | None, t_s: float) -> np.ndarray:
        rgb = event_image(events, self.width, self.height)
        if shown is not None and shown.evidence is not None:
            rgb = blend_overlay(rgb, shown.evidence, self.lut, self.box)
        canvas = Image.new("RGB", self.size, tuple(int(v) for v in BACKGROUND))
        view = Image.fromarray(rgb).resize(self.view_size, Image.Resampling.NEAREST)
        canvas.paste(view, ((VIEW_PX - self.view_size[0]) // 2, (VIEW_PX - self.view_size[1]) // 2))
        self._panel(ImageDraw.Draw(canvas), shown, t_s)
        return np.asarray(canvas)

    def _panel(self, draw: ImageDraw.ImageDraw, shown: Shown | None, t_s: float) -> None:
        x = VIEW_PX + 16
        draw.text((x, 14), f"t = {t_s:6.2f} s", fill=DIM, font=self.mid)
        if shown is None:
            draw.text((x, 50), "waiting for the first window", fill=DIM, font=self.mid)
        else:
            name = "no gesture" if shown.index < 0 else shown.label.replace("_", " ")
            colour = TEXT if shown.index < 0 else tuple(int(v) for v in self.colours[shown.index])
            draw.text((x, 44), name, fill=colour, font=self.big if len(name) <= 14 else self.mid)
            draw.text((x, 88), f"confidence {100 * shown.confidence:.0f} %", fill=TEXT, font=self.mid)
            top = 124
            for i, (n, r) in enumerate(zip(self.names, shown.smoothed)):
                y = top + 20 * i
                draw.rectangle((x, y + 3, x + int(140 * min(float(r), 1.0)), y + 15),
                               fill=tuple(int(v) for v in self.colours[i]))
                draw.text((x + 146, y + 1), n.replace("_", " ")[:20], fill=DIM, font=self.small)
            if shown.evidence is not None:
                draw.text((x, top + 20 * len(self.names) + 6), f"overlay: evidence for {shown.evidence_label}",
                          fill=DIM, font=self.small)
        legend_y = VIEW_PX - 44
        draw.rectangle((x, legend_y + 3, x + 10, legend_y + 13), fill=tuple(int(v) for v in ON_COLOUR))
        draw.text((x + 14, legend_y), "ON", fill=DIM, font=self.small)
        draw.rectangle((x + 50, legend_y + 3, x + 60, legend_y + 13), fill=tuple(int(v) for v in OFF_COLOUR))
        draw.text((x + 64, legend_y), "OFF", fill=DIM, font=self.small)
        draw.text((x, legend_y + 20), f"model {self.model_name} (TCJA-SNN)", fill=DIM, font=self.small)


def check_output(out: str | Path, fps: int) -> Path:
    """The output path, or SettingsError (one line) for a name that is not .mp4, a missing folder or a bad fps."""
    out = Path(out)
    if out.suffix.lower() != ".mp4":
        raise SettingsError(f"{out}: the video is written as MP4; name it .mp4")
    if not 1 <= fps <= 120:
        raise SettingsError(f"--fps must be 1..120, not {fps}")
    if not out.parent.is_dir():
        raise SettingsError(f"{out}: the folder {out.parent} does not exist")
    return out


def export_video(path: str | Path, out: str | Path, engine, fps: int = 25, view_ms: float = 100.0,
                 progress: Callable[[float], None] | None = None, cancel: threading.Event | None = None
                 ) -> VideoSummary:
    """Write ``out`` (.mp4, H.264): the recording ``path`` replayed with attention and gesture burned in.

    ``engine`` must record (``record=True``) for the evidence map; ``progress(fraction)`` is
    called as frames are written; ``cancel`` stops early (the frames so far are kept).
    """
    import av

    from app.sources.open import open_file

    out = check_output(out, fps)

    shown = predictions_of(path, engine, cancel)
    ends = [s.t_end_us for s in shown]
    with open_file(path, labels=False) as src:
        chain = engine.input_chain(src.width, src.height)
        composer = FrameComposer((src.width, src.height), chain.geometry.geometry.crop_box, engine.class_names,
                                 engine.name)
        step_us, view_us = 1e6 / fps, int(view_ms * 1000)
        n = max(1, int(np.ceil(src.duration_us / step_us)))
        try:
            container = av.open(str(out), mode="w")
        except OSError as err:
            raise SettingsError(f"{out}: cannot write the video ({err.strerror or err})") from None
        frames = 0
        try:
            stream = container.add_stream("libx264", rate=fps)
            stream.width, stream.height = composer.size
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": "20", "preset": "veryfast"}
            for i in range(1, n + 1):
                if cancel is not None and cancel.is_set():
                    break
                t = src.start_us + int(i * step_us)
                events = src.events_between(t - view_us, t)
                j = bisect.bisect_right(ends, t) - 1
                rgb = composer.frame(events, shown[j] if j >= 0 else None, (t - src.start_us) / 1e6)
                for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                    container.mux(packet)
                frames += 1
                if progress is not None and (i % 10 == 0 or i == n):
                    progress(i / n)
            for packet in stream.encode():
                container.mux(packet)
        finally:
            container.close()
    w, h = composer.size
    return VideoSummary(out, frames, w, h, fps, len(shown))


def run_export_video(args) -> int:
    """``main.py export-video FILE OUT.mp4``: print one line naming what was written."""
    import sys

    from app.inference import InferenceEngine

    check_output(args.output, args.fps)
    engine = InferenceEngine.from_checkpoint(args.model, device=args.device, record=True, backend=args.backend)
    last = [-1]

    def progress(fraction: float) -> None:
        pct = int(fraction * 10) * 10
        if pct != last[0]:
            last[0] = pct
            print(f"\rexporting {pct:3d} %", end="", file=sys.stderr, flush=True)

    summary = export_video(args.path, args.output, engine, fps=args.fps, view_ms=args.view_ms, progress=progress)
    print(file=sys.stderr)
    size_mb = summary.path.stat().st_size / 1e6
    print(f"saved to {summary.path}: {summary.frames} frames {summary.width}x{summary.height} at {summary.fps} fps "
          f"({summary.frames / summary.fps:.1f} s, {summary.predictions} windows classified, {size_mb:.1f} MB)")
    return 0
