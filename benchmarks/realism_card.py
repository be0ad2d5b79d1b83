"""Add the realism and real-scene sections to a model card from measured JSON figures.

    python -m benchmarks.realism --split test --n 16 --json after.json
    python -m benchmarks.false_gestures --model small64 --json false.json
    python -m benchmarks.realism_card model/weights/small64.md --before before.json \\
        --after after.json --false false.json [--false-before false_before.json] [--image docs/...png]

Rebuilds the card from its "## Realism: ..." section up to "## Demo recordings": a table of
the judges (NeuroBench teacher and pixel likeness, tuned on through calibration, and the
held-out Speck network) before and after, "## Real scenes without a gesture", the held
gesture, and an extra section. Every figure comes from the JSON files.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from benchmarks.realism import accuracy_cell


def judges_section(before: dict | None, after: dict, image: str | None, calib: str | None,
                   before_label: str = "the simulator of 2026-11-27") -> str:
    names = list(after["teacher"]["per_class"])
    cols = []
    if before:
        cols += [("teacher, before", before["teacher"]), ("Speck, before", before["speck"])]
        if "likeness" in before:
            cols.append(("pixel likeness, before", before["likeness"]))
    cols += [("teacher, now", after["teacher"]), ("Speck, now", after["speck"])]
    if "likeness" in after:
        cols.append(("pixel likeness, now", after["likeness"]))
    head = "| class | " + " | ".join(c for c, _ in cols) + " |\n| --- |" + " --- |" * len(cols)
    spread = lambda c: c.startswith("teacher, now")  # noqa: E731
    rows = [f"| {n} | " + " | ".join(accuracy_cell(r, n, spread(c)) for c, r in cols) + " |" for n in names]
    rows.append("| **all** | " + " | ".join(f"**{accuracy_cell(r, None, spread(c))}**" for c, r in cols) + " |")
    text = f"""## Realism: judges built from real recordings
Two networks trained only on REAL DVS128 Gesture recordings classify simulated gestures; a
simulated gesture they recognise looks like the real thing. The **NeuroBench teacher** (CSNN,
reported 86.4 % on the real test set) is the one the simulator's parameters were calibrated
on (`python -m model.simulator.calibrate`, validation seeds only{', ' + calib if calib else ''}); the
**Speck network** (sinabs, run quantised as on the chip) was never used for tuning: it is the
held-out check that the realism is real. Both judge {after['teacher']['n'] // 11} simulated {after.get('duration_s', 2.0):g} s recordings per
class from TEST seeds never used in calibration (`python -m benchmarks.realism --split test
--n {after['teacher']['n'] // 11}`). "before" is {before_label} (same seeds). The teacher's figures
now carry 95 % Wilson intervals (16 recordings a class leave a class figure uncertain by about
+-20 points). The **pixel likeness** (0-100 %, classes 0-9; `model.simulator.likeness`) needs
no network: it compares where each class's events fall, how much of the view they cover and
how dense the background noise is with the real preview image (one real recording a class);
calibration tuned on it too.

{head}
{chr(10).join(rows)}
"""
    if image:
        text += f"""
Real recordings (left, `dvsgesture_real_preview.png`) beside this simulator (right), same
slicing (`python -m benchmarks.realism_image docs/{Path(image).name}`):

![real vs simulated]({image})
"""
    return text


def false_section(false: dict, before: dict | None, before_label: str = "The previous model") -> str:
    def line(r):
        return "; ".join(f"`{n}` {v['gesture_0_9']} of {v['windows']}" for n, v in r["recordings"].items())
    b = f"\n{before_label}: {before['gesture_0_9']} of {before['windows']} ({before['rate_0_9']:.0%}): {line(before)}.\n" if before else ""
    return f"""## Real scenes without a gesture
Real DAVIS recordings in `../shared/data/real` with no person in them (cars in a street,
a camera moving over boxes, a rotating disk), played through the app's pipeline (1 s window
every 100 ms; `python -m benchmarks.false_gestures`): **{false['gesture_0_9']} of {false['windows']} windows
({false['rate_0_9']:.0%}) name a gesture 0-9** ({false['rate_0_10']:.0%} counting `other_gestures`): {line(false)}.
{b}The negative scenes the model was trained on (people walking, moving objects, street
traffic seen from afar or at an angle, spinning objects, camera motion, flicker) were chosen knowing what these recordings show, so this
is a check of those scene types, not a blind test.
"""


def held_section(held: dict) -> str:
    rows = "\n".join(f"| {n} | {v['correct']:.0%} of {v['windows']} | {', '.join(v['per_subject'])} |"
                     for n, v in held.items())
    allw = sum(v["windows"] for v in held.values())
    good = sum(round(v["correct"] * v["windows"]) for v in held.values())
    subjects = len(next(iter(held.values()))["per_subject"])
    return f"""## A gesture held for seconds
Each class held for 6 s by {subjects} simulated subject{'s' if subjects > 1 else ''} (seeds never used in training), through the
app's pipeline (`python -m benchmarks.held_gesture`): {good} of {allw} live windows that lie wholly
inside the gesture are decided correctly.

| class | full windows correct | per subject |
| --- | --- | --- |
{rows}
"""


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("card", type=Path)
    ap.add_argument("--after", type=Path, required=True)
    ap.add_argument("--before", type=Path)
    ap.add_argument("--false", type=Path, required=True)
    ap.add_argument("--false-before", type=Path)
    ap.add_argument("--false-before-label", default="The previous model", help="what --false-before measured")
    ap.add_argument("--before-label", default="the simulator of 2026-11-27", help="what --before measured")
    ap.add_argument("--image")
    ap.add_argument("--calib", help="a note on the calibration run (trials, time)")
    ap.add_argument("--held", type=Path, help="JSON of benchmarks.held_gesture")
    ap.add_argument("--data-section", type=Path, help="a markdown file that replaces the card's '## Data' section")
    ap.add_argument("--extra", type=Path, help="a markdown file to add after these sections")
    args = ap.parse_args(argv)
    load = lambda p: json.loads(p.read_text()) if p else None  # noqa: E731
    card = args.card.read_text()
    new = judges_section(load(args.before), load(args.after), args.image, args.calib, args.before_label)
    new += "\n" + false_section(load(args.false), load(args.false_before), args.false_before_label)
    if args.held:
        new += "\n" + held_section(load(args.held))
    if args.extra:
        new += "\n" + args.extra.read_text().strip() + "\n"
    # everything from the realism section up to the demo recordings is rebuilt from the figures
    card, n = re.subn(r"## Realism:[^\n]*\n.*?(?=\n## Demo recordings)", lambda m: new.rstrip() + "\n", card, flags=re.S)
    if args.data_section:
        text = args.data_section.read_text().strip() + "\n"
        card, m = re.subn(r"## Data\n.*?(?=\n## )", lambda _: text, card, flags=re.S)
        if m != 1:
            raise SystemExit("no '## Data' section in the card")
    if n != 1:
        raise SystemExit("no '## Realism: ...' section before '## Demo recordings' in the card")
    args.card.write_text(card)
    print(f"updated {args.card}")


if __name__ == "__main__":
    main()
