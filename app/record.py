"""``main.py record SOURCE OUT.aedat4``: write any source to an AEDAT4 file as it streams."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from pathlib import Path

from app.sources.open import open_source
from app.sources.recorder import Recorder
from eventcore.errors import SourceError


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """Treat SIGTERM like Ctrl-C while recording, so the file is flushed and closed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


MIN_SECONDS = 0.01  # one packet interval of file playback (FileSource.batch_us): less records nothing


def run_record(args: argparse.Namespace) -> int:
    """Record until the source ends, ``--seconds`` of stream time pass, or Ctrl-C / SIGTERM."""
    from eventcore.errors import SettingsError, UserError
    from eventcore.settings import positive

    positive("--seconds", args.seconds, "seconds")  # 0 would record nothing: refused, like a negative
    if args.seconds is not None and args.seconds < MIN_SECONDS:
        raise SettingsError(f"--seconds {args.seconds:g} is shorter than one packet interval "
                            f"({MIN_SECONDS:g} s): nothing would be recorded")
    out = Path(args.output)
    if out.exists():
        raise UserError(f"{out}: already exists; not overwriting a recording")
    with _sigterm_as_interrupt():
        try:
            source = open_source(args.source)  # a network source may take a while to connect
        except KeyboardInterrupt:
            print("interrupted before recording started: no file written", file=sys.stderr)
            return 130
        return _record(source, out, args.seconds)


def _record(source, out: Path, seconds: float | None) -> int:
    limit = None if seconds is None else int(seconds * 1e6)
    t_first = None
    with source, Recorder(out, source.width, source.height, camera=source.camera) as rec:
        # A live source may stall: --seconds is also wall time there, enforced from a timer.
        timer = threading.Timer(seconds, source.close) if limit is not None and source.is_live else None
        try:
            if timer:
                timer.start()
            for batch in source.batches():
                if len(batch) and t_first is None:
                    t_first = int(batch["timestamp"][0])
                if limit is not None and len(batch) and batch["timestamp"][-1] - t_first >= limit:
                    rec.write(batch[batch["timestamp"] - t_first < limit])
                    break
                rec.write(batch)
        except KeyboardInterrupt:
            print("interrupted: recording closed", file=sys.stderr)
        except SourceError as err:
            try:
                rec.close()
            except SourceError:
                pass
            raise SourceError(f"{err} (kept {rec.events_flushed} events in {out})") from None
        finally:
            if timer:
                timer.cancel()
        rec.close()
        reason = getattr(source, "end_reason", None)
        if reason:
            print(f"stream ended: {reason}", file=sys.stderr)
        print(f"{out}: {rec.events_written} events, {rec.elapsed_us / 1e6:.3f} s", file=sys.stderr)
    return 0
