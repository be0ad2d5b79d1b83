"""The simulator's physical parameters: the centres of the ranges each sample is drawn from.

Every parameter is physical, with a unit and hard bounds (``BOUNDS``) that keep it inside
what a real subject, room and DVS128 sensor can be, so a search over them
(``model.simulator.calibrate``) cannot win by producing something unreal. Each sample draws
its own value around the centre (a spread of about +-15 %, see the users of each field).
``CALIBRATED`` holds the values found by calibration (the shipped simulator uses them).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path


@dataclass(frozen=True)
class SimParams:
    body_scale: float = 1.0  # x the base body: shoulder half-width 22 px, upper arm 25 px, forearm 23 px (128 px sensor)
    shoulder_y_px: float = 48.0  # image row of the shoulders (0 = top)
    limb_width: float = 1.0  # x the base forearm radius of 5.5 px
    hand_size: float = 1.0  # x the base hand length of 11 px
    speed: float = 1.0  # x each class's typical repetition rate (Hz), e.g. 1 Hz arm circles
    amplitude: float = 1.0  # x each class's typical motion amplitude (px)
    sway_px: float = 1.0  # amplitude of the still body's sway (px)
    threshold: float = 0.1  # DVS contrast threshold (log-intensity units)
    refractory_ms: float = 0.5  # DVS pixel refractory period (ms)
    lowpass_ms: float = 1.0  # photoreceptor low-pass time constant (ms): the soft trailing edge
    noise_hz: float = 0.3  # background activity per pixel (Hz)
    edge_px: float = 1.2  # width of the soft edge of body parts (px)
    texture_contrast: float = 0.2  # clothing / skin detail, relative intensity modulation
    body_contrast: float = 0.7  # |log| intensity difference subject vs background, typical
    skin_dark_share: float = 0.5  # share of subjects whose skin is darker than the background
    shirt_dark_share: float = 0.6  # share of subjects whose shirt is darker than the background
    bare_forearm_share: float = 0.0  # share of subjects in short sleeves: skin from elbow to hand
    circle_reach: float = 1.0  # x the arm's length as the image sees it in arm circles (cos of the circle plane's tilt)

    def to_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=1) + "\n")

    @classmethod
    def from_json(cls, path: str | Path) -> "SimParams":
        return cls.from_dict(json.loads(Path(path).read_text()))

    @classmethod
    def from_dict(cls, d: dict) -> "SimParams":
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown simulator parameters: {sorted(unknown)}")
        p = replace(cls(), **{k: float(v) for k, v in d.items()})
        p.check()
        return p

    def check(self) -> None:
        for name, (lo, hi, _) in BOUNDS.items():
            v = getattr(self, name)
            if not lo <= v <= hi:
                raise ValueError(f"{name} = {v} outside its physical bounds [{lo}, {hi}]")


# name: (low, high, unit). Bounds a real scene can have, not what a network might like.
BOUNDS: dict[str, tuple[float, float, str]] = {
    "body_scale": (0.8, 1.5, "x base body (a subject 1.2-2.5 m from a 128 px, 64 deg camera)"),
    "shoulder_y_px": (36.0, 80.0, "px from the top (real preview: heads at rows 35-65)"),
    "limb_width": (0.75, 1.4, "x 5.5 px forearm radius"),
    "hand_size": (0.8, 1.3, "x 11 px hand length"),
    "speed": (0.7, 1.5, "x typical repetition rate"),
    "amplitude": (0.75, 1.3, "x typical amplitude"),
    "sway_px": (0.2, 3.0, "px"),
    "threshold": (0.05, 0.4, "log intensity (DVS128 bias settings: about 0.05-0.4)"),
    "refractory_ms": (0.05, 3.0, "ms"),
    "lowpass_ms": (0.1, 8.0, "ms"),
    "noise_hz": (0.01, 0.3, "Hz per pixel (real DVS128 Gesture preview: about 0.06, model.simulator.likeness)"),
    "edge_px": (0.5, 3.0, "px"),
    "texture_contrast": (0.0, 0.35, "relative"),
    "body_contrast": (0.2, 1.2, "log intensity"),
    "skin_dark_share": (0.0, 1.0, "share of subjects (set from the realism judges; real arm circles lead with OFF, measure.leading_polarity)"),
    "shirt_dark_share": (0.0, 1.0, "share of subjects"),
    "bare_forearm_share": (0.0, 1.0, "share of subjects (set from the realism judges: both recognise arm circles more often with bare forearms)"),
    "circle_reach": (0.6, 1.0, "x arm length: the circle's plane turned up to 53 deg from the image plane (set from the real arm circles' "
                               "extent, measure.arm_extent)"),
}

DEFAULT = SimParams()
_CALIBRATED_FILE = Path(__file__).with_name("calibrated.json")
CALIBRATED = SimParams.from_json(_CALIBRATED_FILE) if _CALIBRATED_FILE.is_file() else DEFAULT
