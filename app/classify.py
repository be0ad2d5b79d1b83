"""Headless classification: one JSON line per window (or one for ``--whole``) on stdout.

Line fields (stable): ``t_end_us``, ``label``, ``index`` (-1 = no gesture), ``confidence``,
``rates`` (one per class), ``latency_ms``; ``truth`` / ``truth_index`` when the recording
carries ground truth.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time

import numpy as np

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
    if labelled:
        line.update(_truth_fields(pred.truth, names))
    return json.dumps(line)


def classify_whole(source: FileSource, engine: InferenceEngine) -> dict:
    """The whole recording as one sample, split into T frames by event count (DVS128 protocol)."""
    t0 = time.perf_counter()
    chain = engine.input_chain(source.width, source.height, split_by="number")
    events = chain.events(source.read_all())
    if not len(events):
        raise SourceError(f"{source.name}: no events inside the model's input region")
    rates = engine.infer_frames(chain.frames(events)[None])[0].rates
    index = int(np.argmax(rates))
    line = {
        "t_end_us": int(events["timestamp"][-1]),
        "label": engine.class_names[index],
        "index": index,
        "confidence": round(float(rates[index]), 4),
        "rates": [round(float(r), 4) for r in rates],
        "latency_ms": round((time.perf_counter() - t0) * 1e3, 2),
    }
    if source.labels is not None and len(source.labels):
        classes = np.unique(source.labels.label)
        line.update(_truth_fields(int(classes[0]) if len(classes) == 1 else None, engine.class_names))
    return line


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
        print(json.dumps(classify_whole(source, engine)), flush=True)
        return 0
    if isinstance(source, FileSource) and args.speed is not None:
        source.speed = args.speed
    noise = None
    if args.denoise:
        from app.noise import NoiseFilter

        noise = NoiseFilter("background_activity", source.width, source.height)
    labelled = source.labels is not None
    out = sys.stdout
    pipe = Pipeline(
        source,
        engine,
        windowing=windowing,
        noise_filter=noise,
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
