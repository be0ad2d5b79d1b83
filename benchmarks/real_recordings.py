"""Real labelled recordings under what a live user brings, and named how soon: issues 23 and 24 on real data.

Takes the test split of a real DVS128 Gesture copy (IBM's folder, or tonic's or spikingjelly's)
or of a folder of a user's labelled recordings (``--dataset recordings``), ``--per-class`` labelled
gestures of each named class (from different recordings where it can), and measures:

- **Robustness**: each gesture changed after the fact, one way at a time, by the rows of
  ``benchmarks.robustness`` (placement, size and roll by ``Setup.apply_events``, tempo by
  stretching time, the sensor faults, a larger sensor), played through the app's pipeline as it
  runs. A gesture is recognised when more than half of its whole windows name it. The two
  shared judges (trained on real DVS128 Gesture recordings) classify the same changed gestures.
- **Decision latency**: the unchanged gestures played back to back, each after ``--gap-s`` of
  an empty scene (background activity at ``--empty-hz`` a pixel), scored as
  ``benchmarks.decision_latency`` scores its simulated sessions.

    python -m benchmarks.real_recordings DATA [--dataset dvs128|recordings] [--per-class 1] [--model small64]
                                         [--framing auto|off] [--only TEXT] [--json OUT]
    python -m benchmarks.real_recordings STANDIN --make-standin --per-class 6   # simulated, where DATA is lacking
    python -m benchmarks.real_recordings --card-from OUT.json --card model/weights/small64.md
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eventcore.decision import DecisionSettings
from eventcore.errors import SourceError
from eventcore.events import as_events
from eventcore.framing import DEFAULT_MODE, MODES, framing_mode
from eventcore.labels import CLASS_NAMES, LabelTimeline

STANDIN_MARK = "STANDIN.txt"  # written beside a simulated stand-in, so its figures are never taken for real ones
NAMED = tuple(range(10))  # the ten named gestures; `other_gestures` with --other
DVS128 = (128, 128)
APP_RULE = "the app's rule"


@dataclass
class Gestures:
    """The chosen labelled gestures: events (time from the label's start), labels, source recordings, sensor."""

    events: list[np.ndarray]
    labels: np.ndarray
    groups: list[str]
    sensor: tuple[int, int]


def choose(labels: np.ndarray, groups: list[str], per_class: int, classes: tuple[int, ...], seed: int = 0) -> list[int]:
    """``per_class`` indices of each class, at random, from recordings not used yet where there are any."""
    rng = np.random.default_rng(seed)
    used: set[str] = set()
    out = []
    for c in classes:
        pool = [int(i) for i in rng.permutation(np.flatnonzero(labels == c))]
        for _ in range(min(per_class, len(pool))):
            fresh = [i for i in pool if groups[i] not in used]
            i = (fresh or pool)[0]
            pool.remove(i)
            used.add(groups[i])
            out.append(i)
    return out


def load(data: Path, dataset: str, per_class: int, classes: tuple[int, ...], seed: int = 0) -> Gestures:
    """The test split's chosen gestures (SourceError naming the folder when it holds none)."""
    from model.datasets import dvs128_gesture, recordings
    from model.datasets.shards import load_sample

    if dataset == "dvs128":
        cache = dvs128_gesture.prepare(data, workers=2)
        paths, labels, groups = dvs128_gesture.samples(data, cache, "test")
    else:
        test = recordings.load(data, seed).test
        paths, labels, groups = test.events, test.labels, test.groups
    picked = choose(labels, groups, per_class, classes, seed)
    if not picked:
        raise SourceError(f"{data}: its test split holds none of the classes "
                          f"{', '.join(CLASS_NAMES[c] for c in classes)}")
    events, sensors = [], set()
    for i in picked:
        ev, _, size = load_sample(paths[i])
        events.append(ev)
        sensors.add(size)
    if len(sensors) > 1:
        raise SourceError(f"{data}: recordings of several sensor sizes ({sorted(sensors)}); pass one camera's")
    return Gestures(events, labels[picked], [groups[i] for i in picked], sensors.pop())


def robustness(g: Gestures, model: str, changes, rule: DecisionSettings | None = None) -> list[dict]:
    """Per change (``benchmarks.robustness.Change``, done after the fact): gestures recognised, windows right,
    and the judges' verdict (128x128 gestures only); ``rule``: another decision rule than the app's."""
    from benchmarks.robustness import judged, model_windows

    rows = []
    for ch in changes:
        rng = np.random.default_rng(1234)
        changed = [ch.apply(ev, g.sensor, rng) for ev in g.events]
        recs, sensor = [ev for ev, _ in changed], (changed[0][1] if changed else g.sensor)
        right, total = model_windows(model, recs, g.labels, sensor, rule)
        verdict = judged(recs, g.labels, sensor) if g.sensor == DVS128 else None
        row = {"change": ch.name, "gestures": len(recs),
               "recognised": int(np.sum(2 * right > total)), "windows": int(total.sum()),
               "windows_right": float(right.sum() / max(total.sum(), 1)),
               "judges": None if verdict is None else {k: verdict[k] for k in ("teacher", "speck", "both")}}
        rows.append(row)
        print(robust_line(row), flush=True)
    return rows


def robust_line(row: dict) -> str:
    j = row["judges"]
    judges = "-" if j is None else f"{100 * j['teacher']:.0f} % / {100 * j['speck']:.0f} %"
    return (f"| {row['change']} | {row['recognised']} of {row['gestures']} | {100 * row['windows_right']:.1f} % "
            f"| {judges} |")


ROBUST_HEAD = ("| change | gestures recognised (more than half of the windows right) | windows right "
               "| judges: teacher / Speck |\n| --- | --- | --- | --- |")


def back_to_back(g: Gestures, gap_s: float, empty_hz: float, seed: int = 0):
    """A ``decision_latency.Session``: each gesture after ``gap_s`` of background activity at ``empty_hz``
    a pixel, as recorded (its events from its label's start)."""
    from benchmarks.decision_latency import Session
    from eventcore.functional import background_noise

    rng = np.random.default_rng(seed)
    gap = int(round(gap_s * 1e6))
    parts, starts, ends, scenes = [], [], [], []
    t = 0
    for ev in g.events:
        parts.append(background_noise(*g.sensor, empty_hz, t, t + gap, rng, ev.dtype))
        scenes.append((t, t + gap, "empty"))
        t += gap
        shifted = ev.copy()
        shifted["timestamp"] = ev["timestamp"] - ev["timestamp"][0] + t
        parts.append(shifted)
        starts.append(t)
        t = int(shifted["timestamp"][-1]) + 1
        ends.append(t)
    timeline = LabelTimeline(np.array(starts, np.int64), np.array(ends, np.int64), g.labels.astype(np.int64))
    return Session(seed, as_events(np.concatenate(parts)), timeline, scenes)


def latency(g: Gestures, model: str, framing, gap_s: float, empty_hz: float,
            rule: DecisionSettings | None = None) -> dict:
    """``decision_latency``'s figures for the gestures played back to back through the app's pipeline
    (``rule``: another decision rule than the app's)."""
    from app.inference import InferenceEngine
    from benchmarks.decision_latency import live_decisions, score_session, summarise

    s = back_to_back(g, gap_s, empty_hz)
    engine = InferenceEngine.from_checkpoint(model, device="cpu")
    gestures, idle, pairs = score_session(s, *live_decisions(engine, s, framing, g.sensor, rule))
    return summarise(gestures, idle, pairs)


def write_standin(folder: Path, per_class: int, duration_s: float, workers: int = 2) -> Path:
    """A DVS128 Gesture copy in spikingjelly's layout made of held-out SIMULATED gestures as recorded (in
    motion from the first event, as a labelled interval is cut; seeds ``realism.split_seed("robust", c,
    100 + i)``, never trained or tuned on): the measures' stand-in where the real archive is not at hand."""
    from concurrent.futures import ProcessPoolExecutor

    jobs = [("test", c, i) for c in range(len(CLASS_NAMES)) for i in range(per_class)] + [("train", 0, per_class)]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_standin_sample, [(folder, duration_s, *j) for j in jobs]))
    (folder / STANDIN_MARK).write_text("A SIMULATED stand-in for DVS128 Gesture written by benchmarks.real_recordings "
                                       "--make-standin: not real recordings.\n")
    return folder


def _standin_sample(job: tuple[Path, float, str, int, int]) -> None:
    from model.simulator.generate import generate_sample
    from model.simulator.realism import split_seed

    folder, duration_s, split, c, i = job
    ev = generate_sample(c, duration_s, split_seed("robust", c, 100 + i))[0]
    out = folder / "events_np" / split / str(c)
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / f"sim{i:02d}_standin_{c}.npz", t=ev["timestamp"], x=ev["x"], y=ev["y"], p=ev["polarity"])


ROBUST_CARD = "Robustness on labelled recordings (`benchmarks.real_recordings`)"
LATENCY_CARD = "Decision latency on labelled recordings (`benchmarks.real_recordings`)"


def data_line(report: dict) -> str:
    """What the figures were measured on, saying plainly when it is the simulated stand-in."""
    kind = ("a SIMULATED stand-in (`--make-standin`: held-out simulated gestures cut as a label cuts them, seeds "
            "`realism.split_seed(\"robust\", class, 100 + i)`, never trained or tuned on), not real recordings"
            if report.get("simulated") else "real recordings")
    rule = f"the earlier rule \"{report['rule']}\" (not {APP_RULE})" if report.get("rule") else APP_RULE
    return (f"Data: `{Path(report['data']).name}` ({report['dataset']} layout, test split), {kind}; "
            f"{len(report['gestures'])} gestures from {len({g['recording'] for g in report['gestures']})} recordings. "
            f"Model `{report['model']}`, framing {report['framing']}, {rule}, CPU, {report.get('platform', '')}, "
            f"{report.get('date', '')}.")


def card_sections(report: dict) -> dict[str, str]:
    """The model card's sections for what ``report`` measured (heading: body)."""
    from benchmarks.decision_latency import table

    out = {}
    if "robustness" in report:
        rows = "\n".join(robust_line(r) for r in report["robustness"])
        out[ROBUST_CARD] = (f"{data_line(report)} Each gesture changed after the fact by one row of "
                            f"`benchmarks.robustness` at a time and played through the app's pipeline; recognised: more "
                            f"than half of its whole windows name it. The judges (trained on real DVS128 Gesture "
                            f"recordings) classify the same changed gestures.\n\n{ROBUST_HEAD}\n{rows}\n")
    if "latency" in report:
        out[LATENCY_CARD] = (f"{data_line(report)} The gestures played back to back, each after "
                             f"{report.get('gap_s', 1.5):g} s of an empty scene (background activity at "
                             f"{report.get('empty_hz', 0.2):g} Hz a pixel), scored as `benchmarks.decision_latency` "
                             f"scores its sessions.\n\n{table(report['latency'])}\n")
    return out


def main(argv: list[str] | None = None) -> None:
    from benchmarks.common import put_card_section
    from benchmarks.decision_latency import table
    from benchmarks.robustness import CHANGES

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path, nargs="?",
                    help="a DVS128 Gesture folder, or a folder of labelled recordings (not with --card-from)")
    ap.add_argument("--dataset", choices=("dvs128", "recordings"), default="dvs128",
                    help="dvs128: IBM's archive folder or tonic's / spikingjelly's copy (its test split); "
                         "recordings: recordings with NAME_labels.csv beside them (their test split)")
    ap.add_argument("--model", default="small64", help="shipped model name or checkpoint path")
    ap.add_argument("--framing", choices=MODES, default=DEFAULT_MODE, help=f"(default: {DEFAULT_MODE}, as the app runs)")
    ap.add_argument("--per-class", type=int, default=1, help="gestures of each class (1: ten gestures)")
    ap.add_argument("--other", action="store_true", help="also `other_gestures`")
    ap.add_argument("--only", action="append", help="only the robustness rows whose change contains this text "
                    "(and unchanged)")
    ap.add_argument("--no-robustness", action="store_true", help="only the decision latency")
    ap.add_argument("--gap-s", type=float, default=1.5, help="empty scene before each gesture (s)")
    ap.add_argument("--empty-hz", type=float, default=0.2, help="background activity of the empty scene (Hz a pixel)")
    ap.add_argument("--seed", type=int, default=0, help="which gestures are chosen")
    ap.add_argument("--rule", metavar="NAME",
                    help="decide by an earlier rule of benchmarks.decision_latency's candidates (the start of its "
                         "name, e.g. '1 s window': the app's rule until 2026-12-06) instead of the app's")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--card", type=Path, help="write what was measured into this model card (its own sections)")
    ap.add_argument("--card-from", type=Path, metavar="JSON",
                    help="measure nothing: write the card's sections from an earlier run's --json")
    ap.add_argument("--make-standin", action="store_true",
                    help="write a SIMULATED stand-in (spikingjelly's layout, --per-class gestures of all 11 classes, "
                         "6 s each) into DATA and exit")
    args = ap.parse_args(argv)
    if args.data is None and not args.card_from:
        ap.error("give DATA: a DVS128 Gesture folder or a folder of labelled recordings")
    if args.make_standin:
        write_standin(args.data, args.per_class, 6.0)
        print(f"{args.data}: {args.per_class * len(CLASS_NAMES)} simulated gestures (a stand-in, not real recordings)")
        return
    if args.card_from:
        if not args.card:
            sys.exit("real_recordings: --card-from needs --card")
        try:
            earlier = json.loads(args.card_from.read_text())
        except (OSError, ValueError) as err:
            sys.exit(f"real_recordings: {args.card_from}: not a report of this benchmark ({err})")
        for heading, body in card_sections(earlier).items():
            put_card_section(args.card, heading, body)
        return
    import torch

    torch.set_num_threads(2)
    rule_name, rule = None, None
    if args.rule:
        from benchmarks.decision_latency import candidate_rule

        try:
            rule_name, rule = candidate_rule(args.rule)
        except ValueError as err:
            sys.exit(f"real_recordings: {err}")
    t0 = time.perf_counter()
    try:
        g = load(args.data, args.dataset, args.per_class, NAMED + ((10,) if args.other else ()), args.seed)
    except SourceError as err:
        sys.exit(f"real_recordings: {err}")
    framing = framing_mode(args.framing)
    model = args.model
    simulated = (args.data / STANDIN_MARK).is_file()
    print(f"{len(g.labels)} labelled gestures ({'a SIMULATED stand-in' if simulated else 'real'}) from "
          f"{len(set(g.groups))} recordings of {args.data} ({g.sensor[0]}x{g.sensor[1]}), model {model}, framing "
          f"{args.framing}, rule: {rule_name or APP_RULE}, {platform.platform()}\n", flush=True)
    report: dict = {"data": str(args.data), "dataset": args.dataset, "sensor": list(g.sensor), "simulated": simulated,
                    "model": model, "framing": args.framing, "rule": rule_name, "platform": platform.platform(),
                    "date": time.strftime("%Y-%m-%d"), "gap_s": args.gap_s, "empty_hz": args.empty_hz,
                    "gestures": [{"class": CLASS_NAMES[c], "recording": r} for c, r in zip(g.labels.tolist(), g.groups)]}
    if not args.no_robustness:
        from benchmarks.robustness import FRAMED

        changes = [ch for ch in CHANGES if not args.only or ch is CHANGES[0] or any(o in ch.name for o in args.only)]
        if g.sensor != DVS128:
            changes = [ch for ch in changes if ch.sensor is None]  # a larger sensor stands in for the DVS128 only
        print(ROBUST_HEAD, flush=True)
        report["robustness"] = robustness(g, model + (FRAMED if framing is not None else ""), changes, rule)
    m = latency(g, model, framing, args.gap_s, args.empty_hz, rule)
    report["latency"] = m
    print(f"\nDecision latency: the {len(g.labels)} gestures back to back, each after {args.gap_s:g} s of an empty "
          f"scene ({args.empty_hz:g} Hz a pixel)\n\n{table(m)}\n", flush=True)
    report["time_s"] = round(time.perf_counter() - t0, 1)
    print(f"{report['time_s']:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=float) + "\n")
    if args.card:
        for heading, body in card_sections(report).items():
            put_card_section(args.card, heading, body)


if __name__ == "__main__":
    main()
