"""From class rates to a decision: the app's one rule (live windows, ``classify``, benchmarks).

Every hop the model classifies several windows ending now (``DecisionSettings.fractions``
of the live window: e.g. its last 0.25, 0.5 and 1 s), so a gesture that has just begun
fills a short window long before it fills the whole one. Per hop:

1. a window is idle when it holds fewer than ``min_events`` x its share of the window
   (fewer events than an empty room); all windows idle: "no gesture";
2. the non-idle windows' rates are combined (``combine``: their mean, or the window with
   the highest top rate) into ``c_k``;
3. the combination is smoothed over hops, ``s_k = a * c_k + (1 - a) * s_{k-1}``,
   ``a = 2 / (history + 1)``, and the decision is ``argmax s_k`` unless the rule is unsure
   (``max s_k < min_confidence``; ``other_confidence`` for ``other_gestures``) or torn (the
   top two closer than ``min_margin``);
4. ``commit``: a hop whose own combination is clear (top rate at least ``commit``, margin
   kept) names its class at once, without waiting for the smoothing to catch up;
5. ``agree_confidence``: a class that tops every window (all busy; not ``other_gestures``) is
   named at this lower rate, margin or not: three window lengths that agree are evidence a
   mean below ``min_confidence`` does not show;
6. ``long_confidence``: the longest window (the whole live window) names its class by itself
   at this rate, margin kept, where the combination does not: a far or faint subject's short
   windows rate its gesture low and pull the mean under ``min_confidence`` while the whole
   window is clear. Only where the scene has been busy over the whole window (no shorter
   window holds more than its share of its events plus ``steady_slack``): at a gesture's first
   moves the whole window still mixes the scene before and names the wrong class;
7. ``hold_from``: once a gesture is named, only windows at least this share of the live
   window long are classified (:meth:`DecisionSmoother.lengths_us`), and the named class is
   kept while it stays on top at ``hold_confidence`` or more (``other_hold_confidence`` for
   ``other_gestures``) even where it would not be named afresh: the short window names a gesture early, but inside one it only adds noise, and
   a distant or half-seen subject rates its gesture lower than one that starts it.

"No gesture" is index -1. A decision that names a gesture which the previous one did not
is an ``onset`` (the moment a gesture was first named, for the GUI's timeline). One
:class:`DecisionSettings` object, :data:`DECISION`, holds the rule; the benchmark
``benchmarks.decision_latency`` measures it against the candidates it was picked from.

Example::

    smoother = DecisionSmoother(class_names)
    lengths = smoother.lengths_us(1_000_000)          # (250000, 500000, 1000000)
    d = smoother.update(rates_per_window, n_events_per_window)
    print(d.label, d.confidence, d.onset)
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

NO_GESTURE = "no gesture"
OTHER = "other_gestures"


@dataclass(frozen=True)
class DecisionSettings:
    """The decision rule's settings (see the module docstring for what each does)."""

    # picked with benchmarks.decision_latency (README, "Decision latency"), which prints the candidates
    fractions: tuple[float, ...] = (0.25, 0.5, 1.0)
    combine: str = "mean"
    history: int = 1  # the three windows already overlap from hop to hop; smoothing more only delays
    min_confidence: float = 0.4  # 0.3 let real no-gesture scenes through (README, "Training")
    min_margin: float = 0.2  # a gesture's first moves often rate two classes alike: 0.05 named the wrong one first
    min_events: int = 2000  # in a whole window; a shorter one needs its share
    commit: float | None = None
    confirm_hops: int = 1  # hops a class must lead in a row before it is named
    other_hops: int = 2  # the same for "other_gestures", which a gesture's first moves look like
    other_confidence: float = 0.6  # "other_gestures" needs more: real cars and machines reach 0.4-0.6 (README)
    agree_confidence: float | None = 0.4  # the margin waived where every window agrees: faster, no more wrong (README)
    long_confidence: float | None = 0.6  # a far subject's short windows rate low; 0.5 named 2 of 75 real non-gesture windows (README)
    steady_slack: float = 0.15  # the whole window speaks alone only where no shorter one holds more than its share + this of its events
    hold_from: float | None = 0.5  # None: a named gesture is not held, every hop decides afresh on all windows
    hold_confidence: float = 0.25
    other_hold_confidence: float = 0.5  # 0.35 kept real street scenes at "other_gestures" (README)

    def __post_init__(self) -> None:
        fr = tuple(float(f) for f in self.fractions)
        object.__setattr__(self, "fractions", fr)
        if not fr or list(fr) != sorted(set(fr)) or fr[0] <= 0 or fr[-1] != 1.0:
            raise ValueError(f"fractions must rise from above 0 to 1.0 (the whole window), not {fr}")
        if self.combine not in ("mean", "max"):
            raise ValueError(f"combine must be 'mean' or 'max', not {self.combine!r}")
        if self.history < 1:
            raise ValueError(f"history must be >= 1 window, not {self.history}")
        levels = (self.min_confidence, self.other_confidence, self.hold_confidence, self.other_hold_confidence,
                  0.0 if self.agree_confidence is None else self.agree_confidence,
                  0.0 if self.long_confidence is None else self.long_confidence)
        if not all(0.0 <= x <= 1.0 for x in levels):
            raise ValueError(f"min_confidence, other_confidence, hold_confidence, other_hold_confidence, "
                             f"agree_confidence and long_confidence must be in [0, 1], not {levels}")
        if self.hold_from is not None and not 0.0 < self.hold_from <= 1.0:
            raise ValueError(f"hold_from must be in (0, 1] (a share of the live window) or None, not {self.hold_from}")
        if not 0.0 <= self.steady_slack <= 1.0:
            raise ValueError(f"steady_slack must be in [0, 1], not {self.steady_slack}")
        if self.confirm_hops < 1 or self.other_hops < 1:
            raise ValueError(f"confirm_hops and other_hops must be >= 1, not {self.confirm_hops}, {self.other_hops}")

    def changed(self, **kw) -> "DecisionSettings":
        """A copy with some settings changed (validated)."""
        return replace(self, **kw)


DECISION = DecisionSettings()


@dataclass(frozen=True)
class Decision:
    """The decision for one hop: class index (-1 = no gesture), its name and confidence.

    ``smoothed``: the smoothed rates; ``onset``: this decision names a gesture the previous
    one did not (the moment it was first named).
    """

    index: int
    label: str
    confidence: float
    smoothed: np.ndarray
    reason: str = ""
    onset: bool = False


class DecisionSmoother:
    """Explicit state: the smoothed rates and the last decision (reset on seek)."""

    def __init__(
        self,
        class_names: tuple[str, ...] | list[str],
        history: int = DECISION.history,
        min_confidence: float = DECISION.min_confidence,
        min_margin: float = DECISION.min_margin,
        min_events: int = DECISION.min_events,
        settings: DecisionSettings | None = None,
    ) -> None:
        base = settings or DECISION
        self.settings = base.changed(
            history=history if history != DECISION.history else base.history,
            min_confidence=min_confidence if min_confidence != DECISION.min_confidence else base.min_confidence,
            min_margin=min_margin if min_margin != DECISION.min_margin else base.min_margin,
            min_events=min_events if min_events != DECISION.min_events else base.min_events,
        )
        self.class_names = tuple(class_names)
        self.alpha = 2.0 / (self.settings.history + 1)
        self.state: np.ndarray | None = None
        self.last = -1
        self.lead, self.lead_hops = -1, 0
        names = [n.lower() for n in self.class_names]
        self.other = names.index(OTHER) if OTHER in names else -1

    @property
    def fractions(self) -> tuple[float, ...]:
        return self.settings.fractions

    @property
    def min_confidence(self) -> float:
        return self.settings.min_confidence

    def lengths_us(self, window_us: int) -> tuple[int, ...]:
        """The windows the next hop must classify (shortest first, ``window_us`` last): all of
        ``fractions``, or only those of ``hold_from`` or more while a named gesture is held."""
        st = self.settings
        held = self.last >= 0 and st.hold_from is not None
        return tuple(max(1, round(f * window_us)) for f in st.fractions if not held or f >= st.hold_from)

    def reset(self) -> None:
        self.state = None
        self.last = -1
        self.lead, self.lead_hops = -1, 0

    def update(self, rates: np.ndarray, n_events) -> Decision:
        """Fold one hop's rates into the state and decide.

        ``rates``: ``[windows, classes]`` for the windows of :meth:`lengths_us` (shortest
        first; all of ``fractions`` also does), or ``[classes]`` for one whole window;
        ``n_events``: events in each.
        """
        d = self._decide(np.asarray(rates, dtype=np.float64), np.asarray(n_events, dtype=np.int64), hold=True)
        d = self._confirmed(d)
        onset = d.index >= 0 and d.index != self.last
        self.last = d.index
        return replace(d, onset=onset) if onset else d

    def decide_once(self, rates: np.ndarray, n_events) -> Decision:
        """A one-shot decision on one sample (a whole recording): the rule's thresholds without its
        hop-to-hop parts (smoothing, leading in a row); the state is left as it was."""
        state, self.state = self.state, None
        try:
            return self._decide(np.asarray(rates, dtype=np.float64), np.asarray(n_events, dtype=np.int64))
        finally:
            self.state = state

    def _confirmed(self, d: Decision) -> Decision:
        """``d`` once its class has led for its ``confirm_hops`` (``other_hops``) in a row, else "no gesture"."""
        self.lead_hops = self.lead_hops + 1 if d.index == self.lead else 1
        self.lead = d.index
        need = self.settings.other_hops if d.index == self.other else self.settings.confirm_hops
        if d.index < 0 or d.index == self.last or self.lead_hops >= need:
            return d
        return Decision(-1, NO_GESTURE, d.confidence, d.smoothed, f"{d.label}? ({self.lead_hops} of {need} hops)")

    def _decide(self, rates: np.ndarray, n_events: np.ndarray, hold: bool = False) -> Decision:
        st = self.settings
        if rates.ndim == 1:
            rates, n_events, share = rates[None], n_events.reshape(1), np.ones(1)
        else:
            share = np.asarray(st.fractions[-len(rates):])
        holding = hold and self.last >= 0 and st.hold_from is not None
        if holding:
            keep = share >= st.hold_from
            rates, n_events, share = rates[keep], n_events.reshape(-1)[keep], share[keep]
        busy = n_events.reshape(-1) >= st.min_events * share
        idle = not busy.any()
        live = rates[busy] if busy.any() else rates[-1:]
        if st.combine == "max":
            c = live[int(np.argmax(live.max(1)))]
        else:
            c = live.mean(0)
        self.state = c.copy() if self.state is None else self.alpha * c + (1 - self.alpha) * self.state
        s = self.state
        best, conf, margin = _top(s)
        if idle:
            return Decision(-1, NO_GESTURE, conf, s.copy(), f"idle scene ({int(n_events.reshape(-1)[-1])} events)")
        if holding and best == self.last and conf >= (st.other_hold_confidence if best == self.other
                                                      else st.hold_confidence):
            return Decision(best, self.class_names[best], conf, s.copy(), "held")
        if st.commit is not None and (conf < st.min_confidence or margin < st.min_margin):
            b, cc, cm = _top(c)
            if cc >= st.commit and cm >= st.min_margin:
                return Decision(b, self.class_names[b], cc, s.copy(), "clear at once")
        if (st.agree_confidence is not None and not holding and best != self.other and conf >= st.agree_confidence
                and len(rates) > 1 and busy.all() and (rates.argmax(1) == best).all()):
            if conf < st.min_confidence or margin < st.min_margin:
                return Decision(best, self.class_names[best], conf, s.copy(), "windows agree")
        unsure = conf < (st.other_confidence if best == self.other else st.min_confidence)
        if (st.long_confidence is not None and (unsure or margin < st.min_margin) and len(rates) > 1 and busy[-1]
                and _steady(n_events.reshape(-1), share, st.steady_slack)):
            b, lc, lm = _top(rates[-1])  # the last window is the whole one (fractions end at 1.0)
            if lc >= max(st.long_confidence, st.other_confidence if b == self.other else 0.0) and lm >= st.min_margin:
                return Decision(b, self.class_names[b], lc, s.copy(), "whole window clear")
        if unsure:
            return Decision(-1, NO_GESTURE, conf, s.copy(), f"unsure (best {conf:.2f})")
        if margin < st.min_margin:
            return Decision(-1, NO_GESTURE, conf, s.copy(), f"ambiguous (margin {margin:.2f})")
        return Decision(best, self.class_names[best], conf, s.copy())


def _steady(n_events: np.ndarray, share: np.ndarray, slack: float) -> bool:
    """The scene has been busy over the whole window: each shorter window holds at most its share of the
    longest window's events plus ``slack`` (a gesture's first moves crowd into the last part)."""
    return bool(np.all(n_events[:-1] <= (share[:-1] + slack) * max(n_events[-1], 1)))


def _top(s: np.ndarray) -> tuple[int, float, float]:
    """(best class, its rate, its margin over the second)."""
    order = np.argsort(s)[::-1]
    second = float(s[order[1]]) if len(s) > 1 else 0.0
    return int(order[0]), float(s[order[0]]), float(s[order[0]]) - second
