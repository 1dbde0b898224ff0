"""Call-progress tone plans (ITU-T E.180): the frequencies and cadences the tone detector knows.

Each plan lists its tones as :class:`ToneSpec` records. Frequencies are nominal (Hz); a cadence
is the repeating list of element durations in seconds, starting with a burst (on, off, on, off,
...); an empty cadence is a continuous tone. Where a plan's administrations use slightly
different timings for the same tone, ``variants`` holds the alternatives (each the same length as
``cadence_s``) and the detector accepts the span of all of them.

Sources: ITU-T E.180 (03/1998) and its annex to ITU Operational Bulletin 781, as tabulated in
Asterisk's ``indications.conf`` sample ([cn], [de], [uk], [us]) and FreeSWITCH's spandsp tone
descriptors.

=====  ==========  =====================  ===========================  ===================
plan   dial        ringback               busy                         congestion
=====  ==========  =====================  ===========================  ===================
cn     450 cont.   450 1.0/4.0            450 0.35/0.35                450 0.7/0.7
eu     425 cont.   425 1.0/4.0            425 0.5/0.5 (de 0.48/0.48)   425 0.25/0.25 (de 0.24)
uk     350+440     400+450 .4/.2/.4/2.0   400 0.375/0.375              400 .4/.35/.225/.525
na     350+440     440+480 2.0/4.0        480+620 0.5/0.5              480+620 0.25/0.25
=====  ==========  =====================  ===========================  ===================

The UK and North American dial tones are the same signal (350+440 Hz, continuous); when both
plans are enabled the detector reports the one listed first in its ``plans``.
"""
from __future__ import annotations

from dataclasses import dataclass

from deskline.exc import ConfigError

#: Kinds of call-progress tone, in the order used for reporting.
KINDS = ("busy", "congestion", "ringback", "dial")


@dataclass(frozen=True, slots=True)
class ToneSpec:
    """One call-progress tone of one plan: frequencies (Hz) and cadence (s; empty = continuous)."""

    plan: str
    kind: str
    freqs_hz: tuple[float, ...]
    cadence_s: tuple[float, ...] = ()
    variants: tuple[tuple[float, ...], ...] = ()

    @property
    def continuous(self) -> bool:
        """True for a steady tone (dial tone) that has no cadence."""
        return not self.cadence_s

    def element_ranges_s(self, *, rel_tol: float, abs_tol_s: float) -> tuple[tuple[float, float], ...]:
        """Accepted (min_s, max_s) for each cadence element: the span of the nominal timing and
        its variants, widened by ``rel_tol`` (fraction) and then by ``abs_tol_s`` seconds."""
        out = []
        for i, nominal in enumerate(self.cadence_s):
            vals = [nominal] + [v[i] for v in self.variants]
            out.append((min(vals) * (1.0 - rel_tol) - abs_tol_s, max(vals) * (1.0 + rel_tol) + abs_tol_s))
        return tuple(out)


PLANS: dict[str, tuple[ToneSpec, ...]] = {
    "cn": (
        ToneSpec("cn", "busy", (450.0,), (0.35, 0.35)),
        ToneSpec("cn", "congestion", (450.0,), (0.7, 0.7)),
        ToneSpec("cn", "ringback", (450.0,), (1.0, 4.0)),
        ToneSpec("cn", "dial", (450.0,)),
    ),
    "eu": (
        ToneSpec("eu", "busy", (425.0,), (0.5, 0.5), variants=((0.48, 0.48),)),
        ToneSpec("eu", "congestion", (425.0,), (0.25, 0.25), variants=((0.24, 0.24),)),
        ToneSpec("eu", "ringback", (425.0,), (1.0, 4.0)),
        ToneSpec("eu", "dial", (425.0,)),
    ),
    "uk": (
        ToneSpec("uk", "busy", (400.0,), (0.375, 0.375)),
        ToneSpec("uk", "congestion", (400.0,), (0.4, 0.35, 0.225, 0.525)),
        ToneSpec("uk", "ringback", (400.0, 450.0), (0.4, 0.2, 0.4, 2.0)),
        ToneSpec("uk", "dial", (350.0, 440.0)),
    ),
    "na": (
        ToneSpec("na", "busy", (480.0, 620.0), (0.5, 0.5)),
        ToneSpec("na", "congestion", (480.0, 620.0), (0.25, 0.25)),
        ToneSpec("na", "ringback", (440.0, 480.0), (2.0, 4.0)),
        ToneSpec("na", "dial", (350.0, 440.0)),
    ),
}


def tone_specs(plans) -> tuple[ToneSpec, ...]:
    """The tones of the named plans, in the given plan order; an unknown or repeated plan name
    raises :class:`~deskline.exc.ConfigError` naming it."""
    if isinstance(plans, str):
        plans = (plans,)
    plans = tuple(plans)
    if not plans:
        raise ConfigError("tone plans: at least one plan is needed (known: cn, eu, uk, na)")
    out: list[ToneSpec] = []
    for name in plans:
        if name not in PLANS:
            raise ConfigError(f"tone plans: unknown plan {name!r} (known: {', '.join(PLANS)})")
        if plans.count(name) > 1:
            raise ConfigError(f"tone plans: plan {name!r} is listed twice")
        out.extend(PLANS[name])
    return tuple(out)
