"""``python main.py`` / ``main.py gui``: open the app, or classify headless when there is no display.

Environment hooks for scripted runs (tests, the README screenshot):
``GESTURE_GUI_SCREENSHOT=PATH`` saves a PNG of the window ``GESTURE_GUI_SCREENSHOT_AFTER``
seconds (default 4) after start, with ``PATH.json`` beside it (each panel's rectangle in the
window, and the banner message), then quits.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

HEADLESS_NOTICE = "no display found: running headless, printing classify output"


def has_display() -> bool:
    """True when Qt can open a window: X11, Wayland, an explicit Qt platform, or macOS/Windows."""
    if sys.platform in ("win32", "darwin"):
        return True
    return any(os.environ.get(k) for k in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))


def run_headless(args: argparse.Namespace) -> int:
    """The ``classify`` output at real time for the GUI's source (the demo recording by default)."""
    from app.classify import run_classify
    from app.demo import default_demo

    source = args.source if args.source is not None else str(default_demo())
    ns = argparse.Namespace(**{**vars(args), "source": source, "whole": False, "speed": 1.0, "seconds": None})
    return run_classify(ns)


def run_gui(args: argparse.Namespace) -> int:
    """Open the main window on ``args.source`` (default: the demo recording) and ``args.model``."""
    if not has_display():
        print(HEADLESS_NOTICE, file=sys.stderr, flush=True)
        return run_headless(args)
    from PyQt6.QtWidgets import QApplication

    from eventcore.settings import WindowRequest
    from app.demo import demo_recordings
    from app.gui.main_window import MainWindow
    from app.session import Settings

    settings = Settings(window=WindowRequest.from_ms(args.window_ms, args.hop_ms), denoise=bool(args.denoise),
                        framing=args.framing == "auto")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    win = MainWindow(settings, compile_model=bool(args.compile))
    win.session.backend = getattr(args, "backend", None)
    win.show()
    problems = [] if win.load_model(args.model, args.device) else [win.model_problem]
    if args.source is None and not demo_recordings():
        problems.append("no demo recording found: open a file (Source > Open file), a camera or a network stream")
    elif not (win.open_source(args.source) if args.source is not None else win.open_demo()):
        problems.append(win.message)
    if problems:
        win.show_message("\n".join(dict.fromkeys(problems)))
    _schedule_screenshot(win, app)
    return app.exec()


def _schedule_screenshot(win, app) -> None:
    path = os.environ.get("GESTURE_GUI_SCREENSHOT")
    if not path:
        return
    after_ms = int(float(os.environ.get("GESTURE_GUI_SCREENSHOT_AFTER", "4")) * 1000)

    def shoot() -> None:
        ok = win.save_screenshot(path)
        Path(path + ".json").write_text(json.dumps({"panels": win.panel_rects(), "message": win.message}))
        print(f"screenshot {'saved to' if ok else 'FAILED:'} {path}", file=sys.stderr, flush=True)
        win.close()
        app.exit(0 if ok else 1)

    from PyQt6.QtCore import QTimer

    QTimer.singleShot(after_ms, shoot)
