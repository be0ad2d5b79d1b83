"""``main.py record SOURCE OUT.aedat4``: write any source to an AEDAT4 file as it streams."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.sources.open import open_source
from app.sources.recorder import Recorder


def run_record(args: argparse.Namespace) -> int:
    """Record until the source ends, ``--seconds`` of stream time pass, or Ctrl-C."""
    from eventcore.errors import UserError
    from eventcore.settings import positive

    positive("--seconds", args.seconds, "seconds")  # 0 would record nothing: refused, like a negative
    out = Path(args.output)
    if out.exists():
        raise UserError(f"{out}: already exists; not overwriting a recording")
    source = open_source(args.source)
    limit = None if args.seconds is None else int(args.seconds * 1e6)
    t_first = None
    with source, Recorder(out, source.width, source.height, camera=source.camera) as rec:
        try:
            for batch in source.batches():
                if len(batch) and t_first is None:
                    t_first = int(batch["timestamp"][0])
                if limit is not None and len(batch) and batch["timestamp"][-1] - t_first >= limit:
                    rec.write(batch[batch["timestamp"] - t_first < limit])
                    break
                rec.write(batch)
        except KeyboardInterrupt:
            print("interrupted: recording closed", file=sys.stderr)
        reason = getattr(source, "end_reason", None)
        if reason:
            print(f"stream ended: {reason}", file=sys.stderr)
        print(f"{out}: {rec.events_written} events, {rec.elapsed_us / 1e6:.3f} s", file=sys.stderr)
    return 0
