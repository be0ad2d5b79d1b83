"""Headless classification: one JSON line per window (or one for ``--whole``) on stdout.

Line fields (stable): ``t_end_us``, ``label``, ``index`` (-1 = no gesture), ``confidence``,
``rates`` (one per class), ``latency_ms``; ``input_square`` (the sensor square ``x0, y0, side``
the model read) with automatic framing; ``truth`` / ``truth_index`` when the recording carries
ground truth.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import numpy as np

from eventcore.decision import DecisionSmoother
from eventcore.framing import FramingSettings, framing_mode, pick_zoom, zoom_box
from eventcore.errors import SourceError, UserError
from eventcore.labels import CLASS_NAMES
from eventcore.settings import WindowRequest
from app.inference import InferenceEngine
from app.pipeline import Pipeline, Prediction
from app.sources.base import FileSource, Source
from app.sources.open import open_source


def _truth_fields(truth: int | None, names: tuple[str, ...]) -> dict:
    if truth is None:
        return {"truth": "none", "truth_index": -1}
    return {"truth": names[truth] if truth < len(names) else CLASS_NAMES[truth], "truth_index": int(truth)}


def prediction_line(pred: Prediction, names: tuple[str, ...], labelled: bool) -> str:
    """The JSON line for one window's prediction."""
    d = pred.decision
    line = {
        "t_end_us": pred.t_end_us,
        "label": d.label,
        "index": d.index,
        "confidence": round(float(d.confidence), 4),
        "rates": [round(float(r), 4) for r in pred.rates],
        "latency_ms": round(pred.latency_ms, 2),
    }
    if pred.framing is not None:  # automatic framing: the sensor square (x0, y0, side) the model read
        line["input_square"] = list(pred.crop_box)
    if labelled:
        line.update(_truth_fields(pred.truth, names))
    return json.dumps(line)


def frames_by_number(chunks: Callable[[], Iterable[np.ndarray]], T: int, height: int, width: int
                     ) -> tuple[np.ndarray, int, int | None]:
    """``events_to_frames(all events, T, split_by="number")`` in two passes over ``chunks()``.

    Pass 1 counts the events N, pass 2 adds each chunk's events to the frames their global
    index falls in (frame j: events ``j * (N // T)`` up to the next frame's start; the last
    takes the rest). Memory: the frames and one chunk. Returns (frames, N, last timestamp).
    """
    n, t_end = 0, None
    for ev in chunks():
        n += len(ev)
        if len(ev):
            t_end = int(ev["timestamp"][-1])
    bounds = np.empty(T + 1, np.int64)  # eventcore.frames.segment_bounds, from the count alone
    bounds[:T] = np.arange(T) * (n // T)
    bounds[T] = n
    plane = 2 * height * width
    out = np.zeros((T, plane), np.float32)
    start = 0
    for ev in chunks():
        end = start + len(ev)
        first = int(np.searchsorted(bounds, start, side="right")) - 1
        for j in range(max(first, 0), T):
            a, b = max(int(bounds[j]), start), min(int(bounds[j + 1]), end)
            if a >= end:
                break
            if b > a:
                part = ev[a - start:b - start]
                idx = np.multiply(part["polarity"], height, dtype=np.int32)
                idx += part["y"]
                idx *= width
                idx += part["x"]
                out[j] += np.bincount(idx, minlength=plane)
        start = end
    return out.reshape(T, 2, height, width), n, t_end


def classify_whole(source: FileSource, engine: InferenceEngine, roi: tuple[int, int, int] | None = None,
                   framing: FramingSettings | None = None) -> dict:
    """The whole recording as one sample, split into T frames by event count (DVS128 protocol).

    The file is read twice a chunk at a time (count, then bin), so memory is the frames and
    one chunk, not the recording. The decision is the app's one rule (a fresh
    :class:`DecisionSmoother`): "no gesture" (index -1) when the top rate is below its
    ``min_confidence`` or too few events fall inside the model's input. ``framing``: the sample
    is also read at each zoom (the file twice per zoom, one batch through the model) and
    :func:`eventcore.framing.pick_zoom` picks the square decided on.
    """
    t0 = time.perf_counter()
    with _roi_fits(source, roi):
        chain = engine.input_chain(source.width, source.height, roi, split_by="number")
    box = chain.geometry.geometry.crop_box
    chains = [chain] + [engine.input_chain(source.width, source.height, zoom_box(box, z), split_by="number")
                        for z in (framing.zooms[1:] if framing is not None else ())]
    frames, n, t_end = zip(*(frames_by_number(lambda c=c: (c.events(e) for e in source.chunks()), c.frames.T,
                                              c.frames.height, c.frames.width) for c in chains))
    if not n[0]:
        raise SourceError(f"{source.name}: no events inside the model's input region")
    outs = engine.infer_frames(np.stack([c.frames.scale(f) for f, c in zip(frames, chains)]))
    rates = [o.rates if count else None for o, count in zip(outs, n)]
    k = 0 if framing is None else pick_zoom(framing, rates)
    d = DecisionSmoother(engine.class_names).decide_once(rates[k], n[k])
    line = {
        "t_end_us": t_end[0],
        "label": d.label,
        "index": d.index,
        "confidence": round(float(d.confidence), 4),
        "rates": [round(float(r), 4) for r in rates[k]],
        "latency_ms": round((time.perf_counter() - t0) * 1e3, 2),
    }
    if framing is not None:
        line["input_square"] = list(chains[k].geometry.geometry.crop_box)
    if source.labels is not None and len(source.labels):
        classes = np.unique(source.labels.label)
        line.update(_truth_fields(int(classes[0]) if len(classes) == 1 else None, engine.class_names))
    return line


@contextmanager
def _roi_fits(source: Source, roi: tuple[int, int, int] | None) -> Iterator[None]:
    """A region of interest that does not fit the source's sensor (the geometry's ValueError) as the user's error."""
    try:
        yield
    except ValueError as err:
        if roi is None:
            raise
        raise UserError(f"{source.name}: --roi: {err}") from None


def run_classify(args: argparse.Namespace, source: Source | None = None) -> int:
    """Entry of ``main.py classify`` (also the GUI's headless fallback); arguments checked by the CLI."""
    engine = InferenceEngine.from_checkpoint(args.model, args.device, backend=getattr(args, "backend", None))
    windowing = WindowRequest.from_ms(args.window_ms, args.hop_ms).resolve(engine.windowing)
    source = source or open_source(args.source)
    for w in source.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if args.whole:
        if not isinstance(source, FileSource):
            raise UserError(f"{source.name}: --whole needs a recorded file, not a live stream")
        print(json.dumps(classify_whole(source, engine, getattr(args, "roi", None), framing_mode(args.framing))),
              flush=True)
        return 0
    if isinstance(source, FileSource) and args.speed is not None:
        source.speed = args.speed
    noise = None
    if args.denoise:
        from app.noise import NoiseFilter

        noise = NoiseFilter("background_activity", source.width, source.height)
    labelled = source.labels is not None
    out = sys.stdout
    roi = getattr(args, "roi", None)
    with _roi_fits(source, roi):
        pipe = Pipeline(
            source,
            engine,
            windowing=windowing,
            noise_filter=noise,
            roi=roi,
            framing=framing_mode(args.framing),
            on_result=lambda p: print(prediction_line(p, engine.class_names, labelled), file=out, flush=True),
        )
    if args.compile:
        engine.start_compile()
    pipe.start()
    timer = threading.Timer(args.seconds, pipe.stop) if args.seconds is not None else None
    if timer is not None:
        timer.daemon = True  # never keeps the process alive once the source has ended
        timer.start()
    try:
        pipe.wait()
    finally:
        if timer is not None:
            timer.cancel()
            timer.join()
        pipe.stop()
    if isinstance(pipe.error, UserError):
        raise UserError(f"{source.name}: {pipe.error}") from pipe.error
    if pipe.error is not None:
        raise pipe.error  # a bug of ours: keeps its traceback for --debug
    if pipe.end_reason:
        print(f"stream ended: {pipe.end_reason}", file=sys.stderr)
    if pipe.skipped:
        print(f"{pipe.skipped} windows skipped to keep up with the stream", file=sys.stderr)
    return 0
