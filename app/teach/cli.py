"""``main.py teach SOURCE OUT_DIR --classes ...`` and ``main.py finetune DATA_DIR ...`` for terminals and scripts.

``teach`` prompts on stdout (one line per change: gesture, countdown seconds, RECORDING,
saved) while a camera, a DV network stream or a recording played in real time streams; with
``--mark GESTURE@SECONDS`` on a recording it writes those segments as takes instead, at once.
Ctrl-C stops; every finished take is kept.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from eventcore.errors import SettingsError, SourceError, UserError
from eventcore.labels import CLASS_NAMES


def add_teach_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="camera, camera:NAME, host:port or a recording")
    p.add_argument("out_dir", help="the teach folder (new, or one to continue)")
    p.add_argument("--classes", default="dvs128",
                   help="comma-separated gesture names, or 'dvs128' for the 11 DVS128 Gesture classes (default)")
    p.add_argument("--takes", type=int, default=5, help="takes per gesture (5)")
    p.add_argument("--take-s", type=float, default=2.0, help="take length in seconds (2)")
    p.add_argument("--countdown-s", type=float, default=3.0, help="countdown before each take (3)")
    p.add_argument("--mark", action="append", default=[], metavar="GESTURE@SECONDS",
                   help="on a recording: a take of GESTURE (name or 1-based number) starting SECONDS into the file; "
                        "repeat for more")


def add_finetune_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``python -m model.finetune`` (same names and defaults, pinned by a test), without
    importing torch: building the command line must stay fast for every command."""
    p.add_argument("data_dir", type=Path, help="a teach folder (main.py teach)")
    p.add_argument("--from", dest="base", default=None,
                   help="shipped model name or checkpoint path (default: the shipped default)")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--crops", type=int, default=4, help="random windows per take")
    p.add_argument("--name", default=None, help="checkpoint name (default: <folder>-<base>)")
    p.add_argument("--out", type=Path, default=None,
                   help="folder for the checkpoint (default: ~/.local/share/tcja-gesture/models)")
    p.add_argument("--freeze", type=int, default=None, help="frozen conv blocks (default: all but the last)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (1: on the shared 2-core machine 2 threads took 3.6x the CPU time)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")


def parse_classes(text: str) -> tuple[str, ...]:
    """``dvs128`` -> the 11 DVS128 Gesture names; else the comma-separated names."""
    if text.strip().lower() == "dvs128":
        return CLASS_NAMES
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise SettingsError("--classes: give comma-separated gesture names or 'dvs128'")
    return names


def parse_mark(text: str, names: tuple[str, ...]) -> tuple[int, float]:
    """``GESTURE@SECONDS`` -> (class index, seconds)."""
    what, sep, when = text.rpartition("@")
    try:
        seconds = float(when)
    except ValueError:
        seconds = -1.0
    if not sep or seconds < 0:
        raise SettingsError(f"--mark {text!r}: expected GESTURE@SECONDS, e.g. {names[0]!r}@12.5")
    if what in names:
        return names.index(what), seconds
    if what.isdigit() and 1 <= int(what) <= len(names):
        return int(what) - 1, seconds
    raise SettingsError(f"--mark {text!r}: {what!r} is none of the gestures ({', '.join(names)}) nor 1..{len(names)}")


def run_teach(args: argparse.Namespace, clock: Callable[[], float] = time.monotonic, out=None) -> int:
    """Record takes guided by prompts on ``out`` (stdout), or write the marked segments of a recording."""
    from app.sources.base import FileSource
    from app.sources.open import open_source
    from app.teach.folder import TeachFolder
    from app.teach.session import TeachSession, marked_segment
    from app.teach.steps import Phase, TeachPlan

    out = out or sys.stdout
    plan = TeachPlan(parse_classes(args.classes), args.takes, args.take_s, args.countdown_s)
    marks = [parse_mark(m, plan.class_names) for m in args.mark]
    source = open_source(args.source)
    with source:
        if marks and not isinstance(source, FileSource):
            raise SettingsError("--mark needs a recording, not a live source")
        segments = [(cls, marked_segment(source, seconds, plan.take_s)) for cls, seconds in marks]  # all checked first
        folder = TeachFolder.create(args.out_dir, plan.class_names, source.camera or source.name,
                                    (source.width, source.height), plan.takes_per_class, plan.take_s,
                                    source=args.source)
        session = TeachSession(plan, folder, clock)
        if marks:
            for cls, events in segments:
                name = session.mark(events, cls)
                print(f"saved {name}", file=out, flush=True)
            print(f"{len(folder.finished())} takes in {folder.path}", file=out, flush=True)
            return 0
        if isinstance(source, FileSource) and source.speed is None:
            source.speed = 1.0  # a recording stands in for a camera: played in real time
        ended = threading.Event()

        def read() -> None:
            try:
                for batch in source.batches():
                    session.feed(batch)
            finally:
                ended.set()

        reader = threading.Thread(target=read, name="teach-reader", daemon=True)
        reader.start()
        last_line = ""
        session.start()
        try:
            while True:
                n_msgs = len(session.messages)
                o = session.tick()
                for msg in session.messages[n_msgs:]:
                    print(f"warning: {msg}", file=out, flush=True)
                if o.finished and len(session.messages) == n_msgs:
                    print(f"saved take {o.done} of {o.total}", file=out, flush=True)
                line = o.prompt if o.phase != Phase.RECORDING else f"RECORDING {o.class_name} (take {o.take})"
                if line != last_line:
                    print(line, file=out, flush=True)
                    last_line = line
                if o.phase == Phase.DONE:
                    break
                if ended.is_set():
                    raise SourceError(f"{args.source}: the stream ended after {o.done} of {o.total} takes; "
                                      f"they are in {folder.path}; run again to record the rest")
                time.sleep(0.02)
        except KeyboardInterrupt:
            print(f"interrupted: {len(folder.finished())} finished takes kept in {folder.path}", file=out, flush=True)
            return 130
        finally:
            session.close()
            source.close()
            reader.join(timeout=5)
    print(f"{len(folder.finished())} takes in {folder.path}; fine-tune with: main.py finetune {shlex.quote(str(folder.path))}",
          file=out, flush=True)
    return 0


def finetune_command(args: argparse.Namespace) -> str:
    """The command line that reproduces this run (stored in the checkpoint)."""
    parts = ["main.py", "finetune", str(args.data_dir)]
    if args.base:
        parts += ["--from", str(args.base)]
    parts += ["--epochs", str(args.epochs), "--crops", str(args.crops), "--seed", str(args.seed)]
    for flag, value in (("--freeze", args.freeze), ("--name", args.name), ("--out", args.out),
                        ("--device", None if str(args.device) == "cpu" else args.device)):
        if value is not None:
            parts += [flag, str(value)]
    return shlex.join(parts)


def run_finetune(args: argparse.Namespace) -> int:
    """Fine-tune on a teach folder, printing progress and the held-out accuracy before and after."""
    from model.finetune import run

    try:
        run(args, finetune_command(args))
    except ValueError as err:  # settings refused by torch or the checkpoint code: bad input, not a bug
        raise UserError(str(err)) from None
    return 0
