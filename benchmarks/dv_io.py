"""Throughput of the dv-processing paths: AEDAT4 read, recording, noise filtering (2-core CPU)."""
import sys, tempfile, time
from pathlib import Path
import numpy as np, dv_processing as dv
sys.path.insert(0, "/work/main")
from app.events import make_events
from app.sources.aedat4 import Aedat4Source
from app.sources.recorder import Recorder, to_event_store, write_aedat4
from app.noise import NoiseFilter

def best(f, reps=3):
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    return min(ts)

n = 2_000_000
rng = np.random.default_rng(0)
ev = make_events(1_000_000 + np.arange(n) * 2, rng.integers(0, 346, n), rng.integers(0, 260, n), rng.integers(0, 2, n))
tmp = Path(tempfile.mkdtemp())

def loop_store(e):
    s = dv.EventStore()
    for a, b, c, d in zip(e["timestamp"].tolist(), e["x"].tolist(), e["y"].tolist(), (e["polarity"] != 0).tolist()):
        s.push_back(a, b, c, d)
    return s
m = 500_000
t_loop = best(lambda: loop_store(ev[:m])); t_fast = best(lambda: to_event_store(ev[:m]))
print(f"EventStore from numpy: push_back loop {m/t_loop/1e6:.1f} M/s, to_event_store {m/t_fast/1e6:.1f} M/s ({t_loop/t_fast:.2f}x)")

path = tmp / "bench.aedat4"
t = best(lambda: write_aedat4(path, ev, 346, 260), reps=2)
print(f"write_aedat4 (one 2M-event array): {n/t/1e6:.1f} M/s, {path.stat().st_size/n:.1f} B/event")
for bs in (1_000, 10_000, 100_000):
    def rec():
        with Recorder(tmp / f"rec{bs}.aedat4", 346, 260) as r:
            for i in range(0, n, bs): r.write(ev[i:i + bs])
    t = best(rec, reps=1)
    print(f"Recorder.write in batches of {bs:>7,}: {n/t/1e6:.1f} M/s")

def raw():
    r = dv.io.MonoCameraRecording(str(path)); s, e = r.getTimeRange(); return r.getEventsTimeRange(s, e + 1).numpy()
t_raw = best(raw)
t_src = best(lambda: Aedat4Source(path).read_all())
src = Aedat4Source(path)
def play():
    return sum(len(b) for b in src.batches())
src.batch_us = 10_000
t_play = best(play)
print(f"read: raw dv {n/t_raw/1e6:.0f} M/s, Aedat4Source open+read_all {n/t_src/1e6:.0f} M/s ({t_raw/t_src:.2f}x of raw), batches() 10 ms {n/t_play/1e6:.0f} M/s")
real = Path("/work/shared/data/real/davis346_aestream.aedat4")
if real.exists():
    src = Aedat4Source(real); k = len(src.read_all())
    t = best(lambda: Aedat4Source(real).read_all(), reps=5)
    print(f"read real davis346_aestream ({k} events): {k/t/1e6:.0f} M/s incl. open")

real_ev = Aedat4Source(real).read_all() if real.exists() else ev[:200_000]
for kind in ("background_activity", "fast_decay", "k_noise"):
    def filt():
        f = NoiseFilter(kind, 346, 260)
        for i in range(0, len(ev), 10_000): f(ev[i:i + 10_000])
    t = best(filt, reps=2)
    f = NoiseFilter(kind, 346, 260); out = f(real_ev)
    print(f"NoiseFilter {kind:<20}: {n/t/1e6:.1f} M/s (10k batches, incl. conversions); keeps {len(out)/len(real_ev):.0%} of the real DAVIS346 file")
st = to_event_store(ev)
def alone():
    f = dv.noise.BackgroundActivityNoiseFilter((346, 260)); f.accept(st); return f.generateEvents().numpy()
t = best(alone, reps=2)
print(f"  dv BackgroundActivity alone (no conversion): {n/t/1e6:.0f} M/s")
