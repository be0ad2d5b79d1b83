"""Decision latency: how soon after a gesture starts the app names it, and whether it stays quiet between.

Simulated held-out sessions (``model.simulator.sequence``; seeds 24,000,000 and up, never
used in training: training and test samples use seeds derived by ``SeedSequence`` from 0 and
1,000,003, the realism splits from 7,000,001 and 9,000,011, the held-gesture benchmark
4,242-6,252, the onset training clips of ``model.simulator.onsets`` 31,000,000 and up): one subject a session walks into an empty room and performs gestures of 1-6 s
with idle gaps of 0.5-4 s (standing still, or walking out of view and back), played through
the app's pipeline. Printed per class and overall: the median and 90th percentile of the
time from a gesture's start to its first correct decision (event time of the deciding
window's end), the share of gestures whose first named decision is wrong, the share of
windows wholly inside an idle gap that name a gesture (per kind of gap: a still subject, a
walking one, an empty room), and the share of decisions inside gestures that are right.

    python -m benchmarks.decision_latency [--model small64] [--gestures 66] [--candidates] [--framing auto|off]

The sessions and every window's class rates are cached (``$XDG_CACHE_HOME/tcja-gesture/
decision_latency``): the pipeline runs once per model with all candidate window lengths at a
50 ms hop, and ``--candidates`` replays the candidate decision rules on those rates.
With automatic framing (``--framing auto``, the app's default) the rule's own figures come from
each session played through the pipeline at the app's hop, its decisions scored as they come
(framing is stateful); ``--framing off`` replays the cached rates.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eventcore.decision import DECISION, DecisionSettings, DecisionSmoother
from eventcore.framing import DEFAULT_MODE, MODES, framing_mode
from eventcore.labels import CLASS_NAMES, LabelTimeline
from model.simulator import SIM_VERSION
from model.simulator.realism import wilson

SEED0 = 24_000_000
SPLITS = {"test": SEED0, "val": 25_000_000}  # val: the sessions the rule is picked on; test: the ones reported
PROBE_FRACTIONS = (0.25, 0.5, 1.0)  # window lengths the cached rates cover (fractions of the model's window)
PROBE_HOP_US = 50_000
SPAN_US = 1_000_000  # a window "wholly inside" a gap or a gesture: its last second is
PER_SESSION = 3
CACHE_VERSION = 3


@dataclass
class Session:
    """One simulated session: events, gesture timeline, idle scene intervals (start_us, end_us, state)."""

    seed: int
    events: np.ndarray
    timeline: LabelTimeline
    scenes: list[tuple[int, int, str]]


@dataclass
class Rates:
    """Every probe window's rates of a session: t_end [H], rates [H, L, K], n_events [H, L]."""

    t_end: np.ndarray
    rates: np.ndarray
    n_events: np.ndarray
    hop_us: int = PROBE_HOP_US


def cache_root() -> Path:
    from model.export import cache_dir

    return cache_dir() / "decision_latency"


def plan(n_gestures: int, per_session: int = PER_SESSION, seed0: int = SEED0) -> list[tuple[int, list[int]]]:
    """(seed, classes) of each session: every class equally often, in a shuffled order."""
    from model.simulator.sequence import plan_sessions

    return plan_sessions(n_gestures, per_session, seed0)


def session(seed: int, classes: list[int], cache: Path | None) -> Session:
    """A simulated session (from the cache when there)."""
    from model.simulator.sequence import generate_session

    path = None if cache is None else cache / f"session_v{CACHE_VERSION}_sim{SIM_VERSION}_{seed}_{'-'.join(map(str, classes))}.npz"
    if path is not None and path.is_file():
        z = np.load(path, allow_pickle=False)
        tl = LabelTimeline(z["start_us"], z["end_us"], z["label"])
        scenes = [(int(a), int(b), str(s)) for a, b, s in zip(z["scene_start"], z["scene_end"], z["scene_state"])]
        return Session(seed, z["events"], tl, scenes)
    events, tl, scenes = generate_session(classes, seed=seed)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez(tmp, events=events, start_us=tl.start_us, end_us=tl.end_us, label=tl.label,
                 scene_start=np.array([a for a, _, _ in scenes], np.int64),
                 scene_end=np.array([b for _, b, _ in scenes], np.int64),
                 scene_state=np.array([s for _, _, s in scenes]))
        tmp.replace(path)
    return Session(seed, events, tl, scenes)


def probe_rates(engine, s: Session, hop_us: int = PROBE_HOP_US) -> Rates:
    """Every probe window's rates, through the app's pipeline (a fast replay: no window skipped)."""
    from app.pipeline import Pipeline
    from app.sources.base import ArraySource
    from model.simulator.render import SIZE

    preds = []
    src = ArraySource(s.events, SIZE, SIZE, name=f"session {s.seed}")
    # no hold stage: every hop classifies every probe window, whatever is named
    probe = DecisionSmoother(engine.class_names, settings=DecisionSettings(fractions=PROBE_FRACTIONS, hold_from=None))
    pipe = Pipeline(src, engine, windowing=engine.windowing.changed(hop_us=hop_us), smoother=probe,
                    on_result=preds.append)
    pipe.start()
    pipe.wait()
    pipe.stop()
    if pipe.error is not None:
        raise pipe.error
    t_end = np.array([p.t_end_us for p in preds], np.int64)
    lengths = np.array(pipe.smoother.lengths_us(pipe.window_us), np.int64)
    ts = s.events["timestamp"]  # a 128x128 session maps whole onto the model's input: counts are the same
    n_events = np.searchsorted(ts, t_end[:, None]) - np.searchsorted(ts, t_end[:, None] - lengths[None])
    return Rates(t_end, np.stack([p.window_rates for p in preds]).astype(np.float32), n_events, hop_us)


def rates_path(model: str, seed: int, cache: Path | None, hop_us: int) -> Path | None:
    """Where a session's probe rates for ``model`` (keyed by the checkpoint's bytes) are cached."""
    from model.export import file_hash
    from model.zoo import resolve_model

    key = file_hash(resolve_model(model))[:16]
    hop = "" if hop_us == PROBE_HOP_US else f"_hop{hop_us // 1000}"
    return None if cache is None else cache / f"rates_v{CACHE_VERSION}_sim{SIM_VERSION}_{key}_{seed}{hop}.npz"


def cached_rates(model: str, engine, s: Session, cache: Path | None, hop_us: int = PROBE_HOP_US) -> Rates:
    """A session's probe rates, from the cache or through the pipeline (``engine`` None: cached only)."""
    path = rates_path(model, s.seed, cache, hop_us)
    if path is not None and path.is_file():
        z = np.load(path)
        return Rates(z["t_end"], z["rates"], z["n_events"], hop_us)
    r = probe_rates(engine, s, hop_us)
    if path is not None:
        np.savez(path, t_end=r.t_end, rates=r.rates, n_events=r.n_events)
    return r


@dataclass
class Gesture:
    """One performed gesture and what the rule made of it (times in us; None: never)."""

    cls: int
    start: int
    end: int
    first_correct: int | None  # event time of the first correct decision
    first_named: int | None  # class of the first decision naming a gesture (None: none)
    release: int | None  # gesture end to the first "no gesture"


def score_session(s: Session, t_end: np.ndarray, decided: np.ndarray, span_us: int = SPAN_US
                  ) -> tuple[list[Gesture], dict[str, list[int]], list[tuple[int, int]]]:
    """Gestures, idle windows per scene state ([names a gesture?]) and windows inside gestures ([truth, decided]).

    A gesture's decisions are those of windows ending after its start, until ``span_us`` after
    its end (the window still holds it) or the next gesture's start, whichever is first.
    """
    tl = s.timeline
    gestures = []
    for i, (c, a, b) in enumerate(zip(tl.label.tolist(), tl.start_us.tolist(), tl.end_us.tolist())):
        stop = min(b + span_us, int(tl.start_us[i + 1]) if i + 1 < len(tl) else b + span_us)
        sel = (t_end > a) & (t_end <= stop)
        t, d = t_end[sel], decided[sel]
        right = np.flatnonzero(d == c)
        named = np.flatnonzero(d >= 0)
        after = np.flatnonzero((t > b) & (d < 0))
        gestures.append(Gesture(c, a, b, int(t[right[0]]) if len(right) else None,
                                int(d[named[0]]) if len(named) else None,
                                int(t[after[0]] - b) if len(after) else None))
    idle: dict[str, list[int]] = {st: [] for st in ("still", "walking", "empty")}
    t0 = t_end - span_us
    gap_start = np.concatenate([[0], tl.end_us])
    gap_end = np.concatenate([tl.start_us, [np.iinfo(np.int64).max]])
    g = np.searchsorted(gap_start, t0, side="right") - 1
    inside_gap = (g >= 0) & (t0 >= gap_start[np.maximum(g, 0)]) & (t_end <= gap_end[np.maximum(g, 0)])
    for h in np.flatnonzero(inside_gap):
        overlap = {st: 0 for st in idle}
        for a, b, st in s.scenes:
            overlap[st] += max(0, min(b, t_end[h]) - max(a, t0[h]))
        idle[max(overlap, key=overlap.get)].append(int(decided[h] >= 0))
    truth = tl.truth_at(t0)
    inside = (truth >= 0) & (truth == tl.truth_at(t_end - 1))
    inside &= np.searchsorted(tl.start_us, t0, side="right") == np.searchsorted(tl.start_us, t_end - 1, side="right")
    pairs = list(zip(truth[inside].tolist(), decided[inside].tolist()))
    return gestures, idle, pairs


def median_interval(values: np.ndarray, z: float = 1.96) -> tuple[float, float]:
    """Distribution-free 95 % interval of a median from order statistics: how far a median of a few
    dozen gestures can be trusted."""
    v = np.sort(values)
    n = len(v)
    if n == 0:
        return float("nan"), float("nan")
    lo = max(int(np.floor(n / 2 - z * np.sqrt(n) / 2)), 1)  # 1-based rank; the upper one mirrors it
    return float(v[lo - 1]), float(v[n - lo])


def summarise(gestures: list[Gesture], idle: dict[str, list[int]], pairs: list[tuple[int, int]]) -> dict:
    """Per class and overall: latency median / p90 (ms), first named wrong, missed, inside right; idle false names;
    with the 95 % intervals of the median and of the two shares the targets bound."""

    def row(gs: list[Gesture], ps: list[tuple[int, int]]) -> dict:
        lat = np.array([np.inf if g.first_correct is None else (g.first_correct - g.start) / 1e3 for g in gs])
        rel = [g.release / 1e3 for g in gs if g.release is not None]
        wrong = sum(g.first_named is not None and g.first_named != g.cls for g in gs)
        return {
            "gestures": len(gs),
            "median_ms": float(np.median(lat)) if len(gs) else float("nan"),
            "median_ci_ms": median_interval(lat),
            "first_wrong_ci": wilson(int(wrong), len(gs)),
            "p90_ms": float(np.percentile(lat, 90, method="higher")) if len(gs) else float("nan"),
            "first_wrong": wrong / len(gs) if gs else float("nan"),
            "missed": float(np.mean([g.first_correct is None for g in gs])),
            "inside_right": float(np.mean([t == d for t, d in ps])) if ps else float("nan"),
            "inside_windows": len(ps),
            "release_ms": float(np.median(rel)) if rel else float("nan"),
        }

    out = {"per_class": {}}
    for c, name in enumerate(CLASS_NAMES):
        gs = [g for g in gestures if g.cls == c]
        if gs:
            out["per_class"][name] = row(gs, [p for p in pairs if p[0] == c])
    out["overall"] = row(gestures, pairs)
    all_idle = sum(idle.values(), [])
    out["idle_named_ci"] = wilson(int(sum(all_idle)), len(all_idle))
    out["idle_named"] = float(np.mean(all_idle)) if all_idle else float("nan")
    out["idle_windows"] = len(all_idle)
    out["idle_named_by_state"] = {k: (float(np.mean(v)) if v else float("nan"), len(v)) for k, v in idle.items()}
    return out


def _prepare(job: tuple[str, int, list[int], str | None, int]) -> tuple[int, int, int]:
    """Simulate one session and cache its rates (a worker process): (seed, events, hops)."""
    import torch

    from app.inference import InferenceEngine

    model, seed, classes, cache, hop_us = job
    torch.set_num_threads(1)
    cache_path = None if cache is None else Path(cache)
    s = session(seed, classes, cache_path)
    path = rates_path(model, seed, cache_path, hop_us)
    engine = None if path is not None and path.is_file() else InferenceEngine.from_checkpoint(model, device="cpu")
    r = cached_rates(model, engine, s, cache_path, hop_us)
    return seed, len(s.events), len(r.t_end)


def prepare(model: str, n_gestures: int, cache: Path | None, workers: int, hop_us: int = PROBE_HOP_US,
            seed0: int = SEED0) -> None:
    """Simulate the sessions and compute their rates, ``workers`` sessions at a time (cached)."""
    from concurrent.futures import ProcessPoolExecutor

    jobs = [(model, seed, classes, None if cache is None else str(cache), hop_us)
            for seed, classes in plan(n_gestures, seed0=seed0)]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        for seed, n, hops in pool.map(_prepare, jobs):
            print(f"session {seed}: {n:,} events, {hops} hops ({time.perf_counter() - t0:.0f} s)", flush=True)


def hop_cost(model: str, s: Session, fractions: tuple[float, ...], hops: int = 60, probe: bool = False) -> dict:
    """Median wall time per hop of the model on the rule's windows against one whole window (ms), same run.

    The default CPU backend with two threads; the two alternate hop by hop, so a load on the
    machine falls on both alike. ``probe``: automatic framing's extra whole window comes with the rule's.
    """
    from app.inference import InferenceEngine
    from model.simulator.render import SIZE

    engine = InferenceEngine.from_checkpoint(model, device="cpu")
    geo = engine.input_chain(SIZE, SIZE).geometry
    ev = geo(s.events)
    ts = ev["timestamp"]
    ends = np.linspace(ts[0] + engine.window_us, ts[-1], hops).astype(np.int64)
    one, many = [], []
    for t in np.concatenate([ends[:3], ends]):  # the first three warm up
        cuts = np.searchsorted(ts, t - np.array([round(f * engine.window_us) for f in fractions]))
        stop = int(np.searchsorted(ts, t))
        wins = [ev[c:stop] for c in cuts.tolist()] + ([ev[cuts[-1]:stop]] if probe else [])
        for out, batch in ((one, wins[-1:]), (many, wins)):
            t0 = time.perf_counter()
            engine.infer(batch)
            out.append((time.perf_counter() - t0) * 1e3)
    a, b = float(np.median(one[3:])), float(np.median(many[3:]))
    return {"backend": engine.backend_state, "one_window_ms": a, "rule_ms": b, "ratio": b / a}


def _rule(fractions: tuple[float, ...], history: int, min_confidence: float, other_hops: int,
          combine: str = "mean", other_confidence: float | None = None, **more) -> dict:
    """A candidate rule's settings, spelled out whole (not as changes from ``DECISION``, which moves)."""
    return {"fractions": fractions, "combine": combine, "history": history, "min_confidence": min_confidence,
            "other_hops": other_hops, "other_confidence": min_confidence if other_confidence is None else other_confidence,
            "min_margin": 0.05, "hold_from": None, "agree_confidence": None, "long_confidence": None, **more}


W3 = (0.25, 0.5, 1.0)
CANDIDATES: dict[str, tuple[dict, int]] = {
    # name: (settings, hop in us)
    "1 s window (until 2026-12-06)": (_rule((1.0,), 3, 0.5, 1), 100_000),
    "0.5 + 1 s, history 2, min 0.5, other 7 hops (until 2026-12-07)": (_rule((0.5, 1.0), 2, 0.5, 7), 100_000),
    "the same, 50 ms hop": (_rule((0.5, 1.0), 2, 0.5, 7), 50_000),
    "0.25 + 0.5 + 1 s, history 2, min 0.5, other 7 hops": (_rule(W3, 2, 0.5, 7), 100_000),
    "0.5 + 1 s, history 1, min 0.4, other 4 hops": (_rule((0.5, 1.0), 1, 0.4, 4), 100_000),
    "0.25 + 1 s, history 1, min 0.4, other 4 hops": (_rule((0.25, 1.0), 1, 0.4, 4), 100_000),
    "0.25 + 0.5 + 1 s, history 2, min 0.4, other 4 hops": (_rule(W3, 2, 0.4, 4), 100_000),
    "0.25 + 0.5 + 1 s, history 1, min 0.5, other 4 hops": (_rule(W3, 1, 0.5, 4), 100_000),
    "0.25 + 0.5 + 1 s, max, history 1, min 0.6, other 4 hops": (_rule(W3, 1, 0.6, 4, "max"), 100_000),
    "0.25 + 0.5 + 1 s, history 1, min 0.4, other 7 hops": (_rule(W3, 1, 0.4, 7), 100_000),
    "0.25 + 0.5 + 1 s, history 1, min 0.4, other 4 hops, every class leads 2 hops":
        (_rule(W3, 1, 0.4, 4, confirm_hops=2), 100_000),
    "0.25 + 0.5 + 1 s, history 1, min 0.4, other 7 hops, 50 ms hop": (_rule(W3, 1, 0.4, 7), 50_000),
    "0.25 + 0.5 + 1 s, history 1, min 0.4, other 4 hops": (_rule(W3, 1, 0.4, 4), 100_000),
    "0.25 + 0.5 + 1 s, history 1, min 0.4, other 4 hops at 0.5": (_rule(W3, 1, 0.4, 4, other_confidence=0.5), 100_000),
    "0.25 + 0.5 + 1 s, history 1, min 0.4, other 4 hops at 0.6": (_rule(W3, 1, 0.4, 4, other_confidence=0.6), 100_000),
    "0.25 + 0.5 + 1 s, history 1, min 0.4, other 3 hops at 0.6, margin 0.15":
        (_rule(W3, 1, 0.4, 3, other_confidence=0.6, min_margin=0.15), 100_000),
    "0.25 + 0.5 + 1 s, history 1, min 0.4, other 3 hops at 0.6, margin 0.2":
        (_rule(W3, 1, 0.4, 3, other_confidence=0.6, min_margin=0.2), 100_000),
    "the same, a named gesture held on the 0.5 + 1 s windows at 0.25 (other_gestures 0.35)":
        (_rule(W3, 1, 0.4, 3, other_confidence=0.6, min_margin=0.2, hold_from=0.5, hold_confidence=0.25,
               other_hold_confidence=0.35), 100_000),
    "the same, held at 0.25 (other_gestures 0.5)":
        (_rule(W3, 1, 0.4, 3, other_confidence=0.6, min_margin=0.2, hold_from=0.5, hold_confidence=0.25,
               other_hold_confidence=0.5), 100_000),
    "the same, other_gestures after 2 hops":
        (_rule(W3, 1, 0.4, 2, other_confidence=0.6, min_margin=0.2, hold_from=0.5, hold_confidence=0.25,
               other_hold_confidence=0.5), 100_000),
    "the same, a class on top of all three windows named at 0.35 without the margin":
        (_rule(W3, 1, 0.4, 2, other_confidence=0.6, min_margin=0.2, hold_from=0.5, hold_confidence=0.25,
               other_hold_confidence=0.5, agree_confidence=0.35), 100_000),
    "the same at 0.4 (only the margin waived where the windows agree; the rule until the fourth session of 2026-12-07)":
        (_rule(W3, 1, 0.4, 2, other_confidence=0.6, min_margin=0.2, hold_from=0.5, hold_confidence=0.25,
               other_hold_confidence=0.5, agree_confidence=0.4), 100_000),
    "**the rule**: the same, and the whole window alone names its class at 0.6 where the scene was busy all along":
        (_rule(W3, 1, 0.4, 2, other_confidence=0.6, min_margin=0.2, hold_from=0.5, hold_confidence=0.25,
               other_hold_confidence=0.5, agree_confidence=0.4, long_confidence=0.6, steady_slack=0.15), 100_000),
    "the same, the whole window alone at 0.5":
        (_rule(W3, 1, 0.4, 2, other_confidence=0.6, min_margin=0.2, hold_from=0.5, hold_confidence=0.25,
               other_hold_confidence=0.5, agree_confidence=0.4, long_confidence=0.5, steady_slack=0.15), 100_000),
    "the same, the whole window alone at 0.5, busy or not":
        (_rule(W3, 1, 0.4, 2, other_confidence=0.6, min_margin=0.2, hold_from=0.5, hold_confidence=0.25,
               other_hold_confidence=0.5, agree_confidence=0.4, long_confidence=0.5, steady_slack=1.0), 100_000),
    "the rule at a 50 ms hop": (_rule(W3, 1, 0.4, 2, other_confidence=0.6, min_margin=0.2, hold_from=0.5,
                                      hold_confidence=0.25, other_hold_confidence=0.5, agree_confidence=0.4), 50_000),
    "the rule at a 50 ms hop, other_gestures after 4 hops (0.2 s, as at 100 ms)":
        (_rule(W3, 1, 0.4, 4, other_confidence=0.6, min_margin=0.2, hold_from=0.5, hold_confidence=0.25,
               other_hold_confidence=0.5, agree_confidence=0.4), 50_000),
}


def candidate_rule(name: str, hop_us: int = 100_000) -> tuple[str, DecisionSettings]:
    """(full name, settings) of the candidate rule whose name starts with ``name`` (e.g. "1 s window",
    the app's rule until 2026-12-06), for a pipeline running at ``hop_us``; ValueError naming the choices."""
    hits = [name] if name in CANDIDATES else [k for k in CANDIDATES if k.startswith(name)]
    exact = [k for k in hits if CANDIDATES[k][1] == hop_us]
    if len(exact) != 1:
        names = "; ".join(k for k, (_, h) in CANDIDATES.items() if h == hop_us)
        raise ValueError(f"rule {name!r} names {len(exact)} of the candidate rules at a {hop_us // 1000} ms hop; "
                         f"give the start of one of: {names}")
    return exact[0], DECISION.changed(**CANDIDATES[exact[0]][0])


def replay(r: Rates, settings: DecisionSettings, hop_us: int) -> tuple[np.ndarray, np.ndarray]:
    """(t_end, decided) of the rule on cached probe rates: every ``hop_us / r.hop_us``-th hop, its windows."""
    step = hop_us // r.hop_us
    if step * r.hop_us != hop_us or step < 1:
        raise ValueError(f"hop {hop_us} us is not a multiple of the probe's {r.hop_us} us")
    idx = [PROBE_FRACTIONS.index(f) for f in settings.fractions]
    sm = DecisionSmoother(CLASS_NAMES, settings=settings)
    hops = range(step - 1, len(r.t_end), step)  # the grid t_first + k * hop
    return r.t_end[step - 1::step], np.array([sm.update(r.rates[h, idx], r.n_events[h, idx]).index for h in hops])


def live_decisions(engine, s: Session, framing, sensor: tuple[int, int] | None = None,
                   rule: DecisionSettings | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(t_end, decided) of the app's pipeline on a session as it runs: its hop, its rule (or ``rule``),
    ``framing`` (``sensor``: the session's width and height, the simulator's 128x128 by default)."""
    from app.pipeline import run_to_end
    from app.sources.base import ArraySource
    from model.simulator.render import SIZE

    width, height = sensor or (SIZE, SIZE)
    preds = run_to_end(ArraySource(s.events, width, height, name=f"session {s.seed}"), engine, framing, rule=rule)
    return (np.array([p.t_end_us for p in preds], np.int64),
            np.array([p.decision.index for p in preds], np.int64))


def evaluate(data: list[tuple[Session, Rates]], settings: DecisionSettings, hop_us: int, live=None) -> dict:
    """The benchmark's figures for one rule on all sessions (``live``: ``(engine, framing)`` to score the
    pipeline's own decisions instead of replaying the cached rates)."""
    gestures, idle, pairs = [], {}, []
    for s, r in data:
        g, i, p = score_session(s, *(replay(r, settings, hop_us) if live is None else live_decisions(live[0], s, live[1])))
        gestures += g
        pairs += p
        for k, v in i.items():
            idle.setdefault(k, []).extend(v)
    return summarise(gestures, idle, pairs)


def _pct(x: float) -> str:
    return "-" if x != x else f"{100 * x:.0f} %"


def _interval(lo: float, hi: float) -> str:
    return f"{100 * lo:.1f}-{100 * hi:.1f} %"


def _ms(x: float) -> str:
    return "-" if x != x else ("never" if x == np.inf else f"{x:.0f}")


def table(m: dict) -> str:
    """The per-class table (markdown) of one rule's figures."""
    head = ("| class | gestures | median to first correct (ms) | 90th pct (ms) | first named wrong | never named "
            "| inside gestures right |\n| --- | --- | --- | --- | --- | --- | --- |")
    rows = [f"| {name} | {r['gestures']} | {_ms(r['median_ms'])} | {_ms(r['p90_ms'])} | {_pct(r['first_wrong'])} "
            f"| {_pct(r['missed'])} | {_pct(r['inside_right'])} |" for name, r in m["per_class"].items()]
    o = m["overall"]
    (mlo, mhi), (wlo, whi) = o["median_ci_ms"], o["first_wrong_ci"]
    ilo, ihi = m["idle_named_ci"]
    rows.append(f"| **all** | {o['gestures']} | **{_ms(o['median_ms'])}** ({_ms(mlo)}-{_ms(mhi)}) | **{_ms(o['p90_ms'])}** "
                f"| **{_pct(o['first_wrong'])}** ({_interval(wlo, whi)}) | {_pct(o['missed'])} "
                f"| **{_pct(o['inside_right'])}** |")
    st = ", ".join(f"{k} {_pct(v)} of {n}" for k, (v, n) in m["idle_named_by_state"].items())
    return "\n".join([head, *rows]) + (f"\n\nIdle-gap windows naming a gesture: **{_pct(m['idle_named'])}** "
                                       f"({_interval(ilo, ihi)}) of {m['idle_windows']} ({st}); gesture end "
                                       f"to \"no gesture\": median {_ms(o['release_ms'])} ms. In brackets: 95 % "
                                       f"intervals (the median's from order statistics, the shares' Wilson).")


CARD_HEADING = "Decision latency (simulated, held-out seeds)"


def rule_text(settings: DecisionSettings = DECISION, hop_us: int = 100_000) -> str:
    """The rule in words, from its settings (for the card and the printed heading)."""
    f = " / ".join(f"{x:g}" for x in settings.fractions)
    smooth = "no smoothing" if settings.history == 1 else f"smoothed over {settings.history} hops"
    return (f"windows of {f} of the live window every {hop_us // 1000} ms hop, rates {settings.combine}, {smooth}; "
            f"a class at {settings.min_confidence:g} or more and {settings.min_margin:g} above the next"
            + ("" if settings.agree_confidence is None else
               f" (at {settings.agree_confidence:g} without the margin when it tops every window)") + "; "
            f"`other_gestures` at {settings.other_confidence:g} after leading {settings.other_hops} hops"
            + ("" if settings.hold_from is None else
               f"; a named gesture held on the windows of {settings.hold_from:g} or more while on top at "
               f"{settings.hold_confidence:g} (`other_gestures` {settings.other_hold_confidence:g})"))


def card_body(model: str, m: dict, sessions: int, cost: dict | None, hop_us: int = 100_000, seed0: int = SEED0,
              framing: bool = False) -> str:
    """The model card's section: how it was measured and the rule's table."""
    o = m["overall"]
    text = (f"`python -m benchmarks.decision_latency --model {model} --gestures {o['gestures']} --card CARD`: "
            f"{o['gestures']} gestures (1-6 s) in {sessions} simulated sessions (seeds {seed0:,}-{seed0 + sessions - 1:,}, "
            f"never used in training or for picking the rule), "
            f"with idle gaps of 0.5-4 s (a subject standing still, walking out of view and back, an empty room), "
            f"played through the app's pipeline"
            + (" with automatic framing (`eventcore.framing`, the app's default)" if framing else
               " without automatic framing (the cached window rates replayed)")
            + f" and its decision rule (`eventcore.decision.DECISION`: "
            f"{rule_text(DECISION, hop_us)}). Latency: event time from the gesture's start to the end of its first "
            f"correctly decided window; the model's own compute comes on top. Targets: median 400 ms, 90th "
            f"percentile 700 ms, at most 5 % named wrong first or of idle windows named, 95 % right inside.\n\n"
            + table(m))
    if cost:
        text += (f"\n\nPer hop ({cost['backend']}, 2 threads): the rule's {len(DECISION.fractions)} windows took "
                 f"{cost['rule_ms']:.1f} ms median{' with the framing probe' if framing else ''}, {cost['ratio']:.2f}x one "
                 f"window's {cost['one_window_ms']:.1f} ms "
                 f"in the same run.")
    return text


def load(model: str, n_gestures: int, cache: Path, hop_us: int = PROBE_HOP_US,
         seed0: int = SEED0) -> tuple[list[tuple[Session, Rates]], int]:
    """Every session with its probe rates (from the cache), and the model's own hop (us)."""
    from app.inference import InferenceEngine

    engine = InferenceEngine.from_checkpoint(model, device="cpu")
    data = [(s := session(seed, classes, cache), cached_rates(model, engine, s, cache, hop_us))
            for seed, classes in plan(n_gestures, seed0=seed0)]
    return data, engine.hop_us


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", help="shipped model name or checkpoint path (repeat for several; "
                    "default small64)")
    ap.add_argument("--gestures", type=int, default=66, help="gestures in all (3 a session)")
    ap.add_argument("--workers", type=int, default=2, help="sessions simulated and classified at once")
    ap.add_argument("--candidates", action="store_true", help="also replay the candidate rules")
    ap.add_argument("--split", choices=sorted(SPLITS), default="test",
                    help="sessions: test (reported, seeds 24,000,000 and up) or val (for picking a rule, 25,000,000 and up)")
    ap.add_argument("--probe-hop-ms", type=float, default=PROBE_HOP_US / 1000,
                    help="hop of the cached rates (50: every candidate; 100: the rule's hop, half the time)")
    ap.add_argument("--framing", choices=MODES, default=DEFAULT_MODE,
                    help=f"auto: the app's automatic framing, each session played through the pipeline as it runs; "
                         f"off: the cached rates replayed (default: {DEFAULT_MODE}, as the app runs)")
    ap.add_argument("--no-cost", action="store_true", help="skip the per-hop cost measurement")
    ap.add_argument("--no-cache", action="store_true", help="simulate and classify afresh, keep nothing")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--card", type=Path, help="write the first model's table into this model card (its own section)")
    args = ap.parse_args(argv)
    import tempfile

    import torch

    torch.set_num_threads(2)
    models = args.model or ["small64"]
    framing = framing_mode(args.framing)
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) if args.no_cache else cache_root()
        report = {}
        for model in models:
            probe_hop = round(args.probe_hop_ms * 1000)
            prepare(model, args.gestures, cache, args.workers, probe_hop, SPLITS[args.split])
            data, hop = load(model, args.gestures, cache, probe_hop, SPLITS[args.split])
            live = None
            if framing is not None:
                from app.inference import InferenceEngine

                live = (InferenceEngine.from_checkpoint(model, device="cpu"), framing)
            m = evaluate(data, DECISION, hop, live)
            seeds = [s.seed for s, _ in data]
            print(f"\n## {model}{' with automatic framing' if live else ''}: {m['overall']['gestures']} gestures in "
                  f"{len(data)} sessions (seeds {seeds[0]}-{seeds[-1]}), rule: {rule_text(DECISION, hop)}\n")
            print(table(m), flush=True)
            report[model] = {"rule": m, "sessions": len(data)}
            if args.candidates:
                report[model]["candidates"] = {}
                print("\n| rule | median (ms) | 90th pct (ms) | first named wrong | idle named | inside right "
                      "| release (ms) |\n| --- | --- | --- | --- | --- | --- | --- |")
                for name, (changes, hop_c) in CANDIDATES.items():
                    if hop_c % probe_hop:
                        continue
                    c = evaluate(data, DECISION.changed(**changes), hop_c)
                    o = c["overall"]
                    report[model]["candidates"][name] = c
                    print(f"| {name} | {_ms(o['median_ms'])} | {_ms(o['p90_ms'])} | {_pct(o['first_wrong'])} "
                          f"| {_pct(c['idle_named'])} | {_pct(o['inside_right'])} | {_ms(o['release_ms'])} |",
                          flush=True)
            if not args.no_cost:
                cost = hop_cost(model, data[0][0], DECISION.fractions, probe=live is not None)
                report[model]["cost"] = cost
                print(f"\nper hop ({cost['backend']}, 2 threads, this machine): the rule's "
                      f"{len(DECISION.fractions)} windows{' and the framing probe' if live else ''} "
                      f"{cost['rule_ms']:.1f} ms median, one 1 s window "
                      f"{cost['one_window_ms']:.1f} ms (ratio {cost['ratio']:.2f})", flush=True)
    if args.card:
        from benchmarks.common import put_card_section

        first = report[models[0]]
        put_card_section(args.card, CARD_HEADING, card_body(models[0], first["rule"], first["sessions"],
                                                            first.get("cost"), hop, SPLITS[args.split],
                                                            framing is not None))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
