"""Command line: ``inspect``, ``classify``, ``record``, ``teach``, ``finetune``, ``export-video`` and the GUI (the default).

The JSON printed by ``inspect`` and ``classify`` is a stable interface that others
script against. Every command exits non-zero with one line on stderr on bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Sequence

import numpy as np

from eventcore.errors import SettingsError, UserError
from eventcore.framing import DEFAULT_MODE, MODES
from eventcore.settings import ms_to_us, parse_roi, positive


def cmd_inspect(args: argparse.Namespace) -> int:
    from app.sources.open import open_file

    with open_file(args.path) as src:
        n = on = 0
        for chunk in src.chunks():  # one pass, a chunk at a time: memory does not grow with the file
            n += len(chunk)
            on += int(np.count_nonzero(chunk["polarity"]))
        info = {
            "format": src.format,
            "events": n,
            "width": int(src.width),
            "height": int(src.height),
            "duration_s": round(src.duration_us / 1e6, 6),
            "on_fraction": round(on / n, 6) if n else None,
        }
        if src.camera:
            info["camera"] = src.camera
        if src.labels is not None:
            info["labels"] = len(src.labels)
        for w in src.warnings:
            print(f"warning: {w}", file=sys.stderr)
    print(json.dumps(info))
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    from app.classify import run_classify

    return run_classify(args)


def cmd_record(args: argparse.Namespace) -> int:
    from app.record import run_record

    return run_record(args)


def cmd_teach(args: argparse.Namespace) -> int:
    from app.teach.cli import run_teach

    return run_teach(args)


def cmd_finetune(args: argparse.Namespace) -> int:
    from app.teach.cli import run_finetune

    return run_finetune(args)


def cmd_export_video(args: argparse.Namespace) -> int:
    from app.video_export import run_export_video

    return run_export_video(args)


def cmd_gui(args: argparse.Namespace) -> int:
    from app.gui.launch import run_gui

    return run_gui(args)


class _Parser(argparse.ArgumentParser):
    """argparse with the project's one-line errors (``error: ...``, exit 2), not a usage line and the error."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog.split()[-1]}: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="main.py", description="Real-time DVS gesture recognition with TCJA-SNN.")
    p.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = p.add_subparsers(dest="command")

    ins = sub.add_parser("inspect", help="print facts about a recording as one JSON object")
    ins.add_argument("path")
    ins.set_defaults(func=cmd_inspect)

    cls = sub.add_parser("classify", help="classify a recording or live stream, one JSON line per window")
    cls.add_argument("source", help="file path, 'camera', 'camera:NAME' or host:port")
    _model_args(cls)
    cls.add_argument("--whole", action="store_true", help="classify the whole recording as one sample (DVS128 Gesture protocol)")
    cls.add_argument("--speed", type=float, default=None, help="pace a file at this real-time factor (default: as fast as possible)")
    cls.add_argument("--seconds", type=float, default=None, help="stop a live source after this many seconds")
    cls.add_argument("--roi", default=None, metavar="X0,Y0,SIDE",
                     help="classify only this square of the sensor, scaled to the model's input: frame a subject "
                          "standing further away (default: the centre crop; the GUI draws it on the event view)")
    cls.set_defaults(func=cmd_classify)

    rec = sub.add_parser("record", help="record a source to an AEDAT4 file")
    rec.add_argument("source")
    rec.add_argument("output")
    rec.add_argument("--seconds", type=float, default=None, help="stop after this many seconds of stream time")
    rec.set_defaults(func=cmd_record)

    from app.teach.cli import add_finetune_arguments, add_teach_arguments

    teach = sub.add_parser("teach", help="record your own gesture takes, guided by prompts, into a teach folder")
    add_teach_arguments(teach)
    teach.set_defaults(func=cmd_teach)

    tune = sub.add_parser("finetune", help="fine-tune a model on a teach folder (held-out accuracy before and after)")
    add_finetune_arguments(tune)
    tune.set_defaults(func=cmd_finetune)

    vid = sub.add_parser("export-video", help="write an MP4 of a recording with the attention map and gesture burned in")
    vid.add_argument("path", help="the recording")
    vid.add_argument("output", help="the video file (.mp4)")
    vid.add_argument("--model", default=None, help="shipped model name or checkpoint path (default: the shipped default)")
    vid.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available)")
    vid.add_argument("--backend", default=None, choices=("torch", "onnxruntime", "openvino"),
                     help="inference backend (default: the fastest installed for the device)")
    vid.add_argument("--fps", type=int, default=25, help="video frames per second of recording time (default 25)")
    vid.add_argument("--view-ms", type=float, default=100.0, help="events shown in each frame (default 100 ms)")
    vid.set_defaults(func=cmd_export_video)

    gui = sub.add_parser("gui", help="open the desktop app (the default command)")
    gui.add_argument("source", nargs="?", default=None, help="file, camera[:NAME] or host:port (default: the demo recording)")
    _model_args(gui)
    gui.set_defaults(func=cmd_gui)
    return p


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="shipped model name or checkpoint path (default: the shipped default)")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available)")
    p.add_argument("--window-ms", type=float, default=None, help="window length (default: from the checkpoint)")
    p.add_argument("--hop-ms", type=float, default=None, help="hop between windows (default: from the checkpoint)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (warms up first)")
    p.add_argument("--backend", default=None, choices=("torch", "onnxruntime", "openvino"),
                   help="inference backend (default: the fastest installed for the device: openvino on a CPU, "
                        "torch on a GPU; README, Backends)")
    p.add_argument("--denoise", action="store_true", help="drop background-activity noise events")
    p.add_argument("--framing", default=DEFAULT_MODE, choices=MODES,
                   help=f"auto: zoom the model's input onto a subject standing further away, chosen by the model's "
                        f"confidence (hop by hop with one extra window a hop; --whole: the sample read at every "
                        f"zoom; README, Robustness); off: the whole input square (default: {DEFAULT_MODE})")


def check_args(args: argparse.Namespace) -> None:
    """Refuse out-of-range numbers at the boundary (SettingsError: one line, exit 2)."""
    for flag in ("window_ms", "hop_ms"):
        ms_to_us(f"--{flag.replace('_', '-')}", getattr(args, flag, None))
    for flag in ("speed", "seconds"):
        positive(f"--{flag}", getattr(args, flag, None))
    if hasattr(args, "roi"):
        args.roi = parse_roi("--roi", args.roi)
    if getattr(args, "compile", False) and getattr(args, "backend", None) not in (None, "torch"):
        raise SettingsError(f"--compile is torch.compile: it goes with --backend torch, not {args.backend}")
    if getattr(args, "device", None) is not None:  # checked before any window opens; passed on as a torch.device
        from model.device import choose_device

        args.device = choose_device(args.device)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    known = {"inspect", "classify", "record", "teach", "finetune", "export-video", "gui", "-h", "--help"}
    if not any(a in known for a in argv):
        argv = [a for a in argv if a == "--debug"] + ["gui"] + [a for a in argv if a != "--debug"]
    args = parser.parse_args(argv)
    try:
        check_args(args)
        return args.func(args)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as err:  # a bug of ours: one line for the user, details on request
        if args.debug:
            traceback.print_exc()
        print(f"internal error: {type(err).__name__}: {err} (run with --debug for details)", file=sys.stderr)
        return 1
