"""Call-progress tone detection (ITU-T E.180 plans) by frequency and cadence, streaming at 8 kHz.

How the desk knows the caller hung up (busy or congestion tone on the receive path) and that a
ringback or dial tone is not a caller talking.

Two stages:

1. **Per hop (10 ms), vectorised across hops.** Each 80-sample hop is correlated with complex
   exponentials at every component frequency of the enabled plans and at 1 and 2 times
   +-``freq_step_rel`` either side of it (five "sub-detectors" a component). Hops are combined
   coherently into a ``window_s`` (50 ms) Goertzel/DFT window ending at the hop, which resolves
   the 25 Hz between 400, 425 and 450 Hz. A log-parabola through the largest sub-detector and
   its neighbours gives each component's frequency and its scallop-free power; a peak on an
   outer sub-detector lies beyond the grid and is rejected. A tone *signature* (one or two
   frequencies) is present in the hop when every component lies within the frequency tolerance,
   each component is above ``min_tone_dbov`` (about -42 dBm0, spandsp's floor), a dual tone's
   twist is within ``twist_db``, and the signature holds at least ``tone_ratio_min`` of the
   window's total power. The best such signature labels the hop. A hop where the signature
   holds only ``tone_ratio_hold`` or more is "weak": it cannot start a burst but keeps one
   going (hysteresis), so a burst masked for a moment by a loud noise is not cut in two.

2. **Cadence, a scalar state machine per signature.** Runs of labelled hops become bursts
   (drop-outs up to ``gap_s`` are bridged, bursts shorter than ``min_burst_s`` are ignored).
   Burst and pause lengths are matched against each tone's cadence (nominal +-``cadence_rel_tol``
   +-``cadence_abs_tol_s``), at any phase of a multi-element cadence::

       busy 0.35/0.35     ___####____####____####____
                             on1 off1 on2  -> confirmed when on2 ends (1.5 cycles)
       ringback 1/4       ___##########________________________________##########
                             on        off (4 s)                       ^ confirmed once the
                                                                         next burst is established
       dial               ___##########################...  confirmed after dial_confirm_s

   Busy/congestion with a two-element cadence are confirmed after ``min_cadence_elements``
   matched elements (on, off, on); a four-element one (UK congestion) after a full cycle and the
   next burst; ringback after one full cycle; a continuous tone after ``dial_confirm_s``. A
   confirmed tone is held while its cadence goes on and dropped as soon as an element runs over
   its longest accepted length or ends too early.

The event's ``t_s`` is the onset of the first burst of the matched cadence, estimated from the
window geometry: the first labelled hop is the one whose window holds ``tone_ratio_min`` of tone.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from deskline.dsp.state import ToneEvent
from deskline.dsp.tone_plans import ToneSpec, tone_specs
from deskline.exc import ConfigError
from deskline.dsp.grid import HOP_S, HOP_SAMPLES, RATE_HZ


@dataclass(frozen=True, slots=True)
class ToneParams:
    """Settings of :class:`ToneDetector` (defaults suit real lines at 8 kHz).

    - ``window_s``: length of the Goertzel window ending at each hop (a multiple of 10 ms).
      50 ms gives 20 Hz bins: 425 and 450 Hz are told apart, and a 0.2 s pause still has hops
      whose window holds no tone.
    - ``freq_step_rel``: spacing of the five sub-detectors around each nominal frequency
      (fraction). A peak is only measured between the outer ones, so each tolerance must stay
      under 1.5 steps.
    - ``single_freq_tol_rel`` / ``dual_freq_tol_rel``: how far (fraction of nominal) a measured
      component may be from nominal for single- and dual-frequency tones. 2 % keeps 425 and
      450 Hz (5.9 % apart) and a 440 Hz tone out of each other's acceptance.
    - ``min_tone_dbov``: floor for each component's level (-48 dBov is about -42 dBm0).
    - ``tone_ratio_min``: share of the window's total power the tone must hold to start a burst
      (0.6 = -2.2 dB); ``tone_ratio_hold``: the share that keeps a burst going (0.15 = -8.2 dB).
    - ``twist_db``: largest level difference between the two parts of a dual tone.
    - ``cadence_rel_tol`` / ``cadence_abs_tol_s``: accepted deviation of each cadence element.
    - ``gap_s``: drop-outs inside a burst up to this long are bridged.
    - ``min_burst_s``: shorter bursts are ignored (they count as pause).
    - ``min_cadence_elements``: matched elements that confirm busy/congestion (3 = on, off, on).
    - ``dial_confirm_s``: a continuous tone is dial tone after this long; it must exceed the
      longest ringback burst of the same frequency (1.0 s + tolerance).
    """

    window_s: float = 0.05
    freq_step_rel: float = 0.017
    single_freq_tol_rel: float = 0.02
    dual_freq_tol_rel: float = 0.025
    min_tone_dbov: float = -48.0
    tone_ratio_min: float = 0.6
    tone_ratio_hold: float = 0.15
    twist_db: float = 8.0
    cadence_rel_tol: float = 0.10
    cadence_abs_tol_s: float = 0.03
    gap_s: float = 0.05
    min_burst_s: float = 0.10
    min_cadence_elements: int = 3
    dial_confirm_s: float = 2.0

    def check(self) -> None:
        """Raise :class:`~deskline.exc.ConfigError` naming the first impossible setting."""
        hops = self.window_s / HOP_S
        if not (1 <= round(hops) <= 50 and abs(hops - round(hops)) < 1e-9):
            raise ConfigError(f"tone params: window_s={self.window_s} must be a multiple of 0.01 s "
                              "up to 0.5 s")
        for name in ("freq_step_rel", "single_freq_tol_rel", "dual_freq_tol_rel", "cadence_rel_tol"):
            if not 0.0 < getattr(self, name) < 0.2:
                raise ConfigError(f"tone params: {name}={getattr(self, name)} must be in (0, 0.2)")
        if max(self.single_freq_tol_rel, self.dual_freq_tol_rel) >= 1.5 * self.freq_step_rel:
            raise ConfigError("tone params: frequency tolerances must stay under 1.5 x "
                              f"freq_step_rel={self.freq_step_rel}")
        if not 0.0 < self.tone_ratio_min < 1.0:
            raise ConfigError(f"tone params: tone_ratio_min={self.tone_ratio_min} must be in (0, 1)")
        if not 0.0 < self.tone_ratio_hold <= self.tone_ratio_min:
            raise ConfigError(f"tone params: tone_ratio_hold={self.tone_ratio_hold} must be in "
                              "(0, tone_ratio_min]")
        if self.twist_db <= 0.0:
            raise ConfigError(f"tone params: twist_db={self.twist_db} must be positive")
        if self.gap_s < 0.0 or self.min_burst_s < 0.0 or self.cadence_abs_tol_s < 0.0:
            raise ConfigError("tone params: gap_s, min_burst_s and cadence_abs_tol_s must not be negative")
        if self.min_cadence_elements < 2:
            raise ConfigError(f"tone params: min_cadence_elements={self.min_cadence_elements} "
                              "must be at least 2")
        if self.dial_confirm_s <= self.min_burst_s:
            raise ConfigError(f"tone params: dial_confirm_s={self.dial_confirm_s} must exceed min_burst_s")


def _hops(seconds: float) -> int:
    return int(round(seconds / HOP_S))


#: Sub-detector offsets around each nominal frequency, in steps of ``freq_step_rel``.
_GRID = np.arange(-2, 3)
_MID = 2


def _peak(y: np.ndarray):
    """Where and how high the spectral peak is, from log-powers ``y[..., 5]`` on the sub-detector grid.

    The largest sub-detector and its two neighbours get a parabola (log-power, so a mainlobe is
    nearly exact). Returns the signed offset of the vertex from nominal in grid steps (``inf``
    when the largest is an outer sub-detector: the tone lies beyond the grid) and the vertex's
    log-power, which undoes the scalloping loss between sub-detectors.
    """
    width = y.shape[-1]
    flat = y.reshape(-1)
    j = np.argmax(y, axis=-1)
    jc = np.clip(j, 1, width - 2)
    at = np.arange(0, flat.size, width).reshape(j.shape) + jc
    ym, y0, yp = flat[at - 1], flat[at], flat[at + 1]
    den = ym - 2.0 * y0 + yp
    num = ym - yp
    curved = den < 0.0
    p = np.where(curved, 0.5 * num / np.where(curved, den, -1.0), 0.0)
    p = np.clip(p, -0.5, 0.5)  # a bracketed peak lies within half a step of the middle point
    off = np.where(j == jc, jc - _MID + p, np.inf)
    return off, y0 - 0.25 * num * p


def _offset_limit(freq_hz: float, step_rel: float, tol_rel: float, n_win: int) -> float:
    """The vertex offset (grid steps) that a clean tone ``tol_rel`` away from ``freq_hz`` gives
    (the smaller of the two sides): the acceptance limit for that tolerance, calibrated on the
    window's own response rather than assumed linear."""
    dets = freq_hz * (1.0 + _GRID * step_rel)
    out = []
    for sign in (-1.0, 1.0):
        d = np.pi * (freq_hz * (1.0 + sign * tol_rel) - dets) / RATE_HZ
        tiny = np.abs(d) < 1e-12
        power = np.where(tiny, float(n_win) ** 2, (np.sin(n_win * d) / np.where(tiny, 1.0, np.sin(d))) ** 2)
        off, _ = _peak(np.log(power))
        out.append(abs(float(off)))
    return min(out)


class _Cadence:
    """Cadence state machine for one tone signature (one frequency set) and its tones."""

    def __init__(self, specs: list[ToneSpec], params: ToneParams):
        self.dial = next((s for s in specs if s.continuous), None)
        self.kinds = []  # (spec, lo_hops, hi_hops, elements needed)
        for spec in specs:
            if spec.continuous:
                continue
            ranges = spec.element_ranges_s(rel_tol=params.cadence_rel_tol, abs_tol_s=params.cadence_abs_tol_s)
            lo = [math.ceil(a / HOP_S - 1e-9) for a, _ in ranges]
            hi = [math.floor(b / HOP_S + 1e-9) for _, b in ranges]
            n = len(spec.cadence_s)
            # Busy/congestion: a two-element cadence after on, off, on; a four-element one after a
            # full cycle and the next burst (a drop-out can make UK busy look like one cycle of
            # UK congestion, never like one and a quarter). Ringback: one full cycle.
            need = max(params.min_cadence_elements, n + 1 if n > 2 else n) \
                if spec.kind in ("busy", "congestion") else n
            self.kinds.append((spec, lo, hi, need))
        self.gap_h = _hops(params.gap_s)
        self.min_burst_h = max(1, _hops(params.min_burst_s))
        self.dial_h = _hops(params.dial_confirm_s)
        self.onset_shift_s = params.tone_ratio_min * params.window_s
        self.reset()

    def reset(self) -> None:
        self.cur_s = -1      # first hop of the burst in progress (-1: none)
        self.cur_e = -1      # one past its last strongly labelled hop
        self.alive_e = -1    # one past its last labelled hop, strong or weak
        self.est = False     # the burst in progress has lasted min_burst
        self.prev_e = -1     # end of the last established burst (-1: none)
        self.chains = [[] for _ in self.kinds]  # per tone: [next element, first hop, matched]
        self.held = None     # (tone index, chain) of the confirmed cadenced tone, or "dial"
        self.event = None

    @property
    def idle(self) -> bool:
        return self.cur_s < 0 and self.held is None

    def _onset(self, hop: int) -> float:
        # The first labelled hop's window (ending at (hop+1)*HOP_S) holds at least
        # tone_ratio_min of tone; the one before did not: take the middle of that span.
        return max(0.0, (hop + 0.5) * HOP_S - self.onset_shift_s)

    def _confirm(self, h, out, held, spec, first_hop):
        self.held = held
        self.event = ToneEvent(spec.plan, spec.kind, round(self._onset(first_hop), 3))
        out.append((h, self, self.event))

    def _drop(self, h, out):
        self.held = None
        self.event = None
        out.append((h, self, None))

    def _element(self, is_on: bool, dur: int, first_hop: int, h: int, out) -> None:
        """Feed one finished cadence element (a burst if ``is_on``, else a pause) of ``dur`` hops."""
        parity = 0 if is_on else 1
        held_chain = self.held[1] if isinstance(self.held, tuple) else None
        held_alive = False
        for k, (spec, lo, hi, need) in enumerate(self.kinds):
            n_el = len(lo)
            kept = []
            for ch in self.chains[k]:
                i = ch[0]
                if i % 2 == parity and lo[i] <= dur <= hi[i]:
                    ch[0] = (i + 1) % n_el
                    ch[2] += 1
                    kept.append(ch)
                    if ch is held_chain:
                        held_alive = True
            if is_on:
                for i in range(0, n_el, 2):
                    nxt = (i + 1) % n_el
                    if lo[i] <= dur <= hi[i] and not any(c[0] == nxt for c in kept):
                        kept.append([nxt, first_hop, 1])
            self.chains[k] = kept
        if held_chain is not None and not held_alive:
            self._drop(h, out)
        if self.held is None:
            for k, (spec, lo, hi, need) in enumerate(self.kinds):
                ready = [c for c in self.chains[k] if c[2] >= need]
                if ready:
                    ch = min(ready, key=lambda c: c[1])
                    self._confirm(h, out, (k, ch), spec, ch[1])
                    break

    def _hold_limit(self) -> int:
        """Longest accepted length (hops) of the element the held cadenced tone expects next,
        or -1 when no cadenced tone is held."""
        if not isinstance(self.held, tuple):
            return -1
        k, ch = self.held
        return self.kinds[k][2][ch[0]]

    def run(self, marks: list, h0: int, out: list) -> None:
        """Advance over one block's hops: ``marks[r]`` is 2 if hop ``h0 + r`` carries this
        signature, 1 if it carries it weakly (only keeps a burst going), else 0."""
        gap_h, min_b, dial_h, has_dial = self.gap_h, self.min_burst_h, self.dial_h, self.dial is not None
        cur_s, cur_e, alive_e, est, prev_e = self.cur_s, self.cur_e, self.alive_e, self.est, self.prev_e
        limit = self._hold_limit()
        for r, mark in enumerate(marks):
            if cur_s < 0 and mark < 2 and self.held is None:
                continue
            h = h0 + r
            if mark == 2 or (mark == 1 and cur_s >= 0):
                if cur_s < 0:
                    cur_s = h
                    est = False
                # Weak hops keep the burst alive but do not lengthen it: its end is measured
                # at the same tone share as its start, so hysteresis adds no bias.
                alive_e = h + 1
                if mark == 2:
                    cur_e = h + 1
                dur = cur_e - cur_s
                if not est and dur >= min_b:
                    est = True
                    if prev_e >= 0:
                        self._element(False, cur_s - prev_e, prev_e, h, out)
                        limit = self._hold_limit()
                if est and limit >= 0 and dur > limit:
                    self._drop(h, out)
                    limit = -1
                if has_dial and self.held is None and dur >= dial_h:
                    self._confirm(h, out, "dial", self.dial, cur_s)
            elif cur_s >= 0 and h - alive_e >= gap_h:
                if est:
                    prev_e = cur_e
                    self._element(True, cur_e - cur_s, cur_s, h, out)
                    limit = self._hold_limit()
                if self.held == "dial":
                    self._drop(h, out)
                cur_s = -1
                est = False
            if limit >= 0 and not est and prev_e >= 0 and h + 1 - prev_e > limit:
                self._drop(h, out)
                limit = -1
        self.cur_s, self.cur_e, self.alive_e, self.est, self.prev_e = cur_s, cur_e, alive_e, est, prev_e


class ToneDetector:
    """Streaming call-progress tone detector at 8 kHz: one result per 10 ms hop.

    ``process(x)`` takes a 1-D float array (-1..1) whose length is a multiple of 80 samples and
    returns, for each hop, the :class:`~deskline.dsp.state.ToneEvent` confirmed on the line at
    that hop (the same object while its cadence holds) or None. ``t_s`` counts from the last
    :meth:`reset`. Results do not depend on how the input is split into blocks.

    After each call, ``tone_hops`` (bool per hop of that block) tells which hops carried a
    call-progress tone signature, confirmed by cadence or not yet: a caller's speech detector
    can ignore those hops before the tone is confirmed.
    """

    def __init__(self, plans=("cn", "eu", "uk", "na"), params: ToneParams = ToneParams()):
        params.check()
        self.params = params
        specs = tone_specs(plans)
        self.plans = tuple(dict.fromkeys(s.plan for s in specs))
        sigs: list[tuple[float, ...]] = list(dict.fromkeys(s.freqs_hz for s in specs))
        comps = sorted({f for sig in sigs for f in sig})
        self.signatures = tuple(sigs)
        self._k = _hops(params.window_s)
        n_win = self._k * HOP_SAMPLES
        step = params.freq_step_rel
        freqs = np.array([f * (1.0 + _GRID * step) for f in comps]).ravel()
        n = np.arange(HOP_SAMPLES)
        ang = 2.0 * np.pi * np.outer(n, freqs) / RATE_HZ
        basis = np.empty((HOP_SAMPLES, 2 * freqs.size))
        basis[:, 0::2] = np.cos(ang)
        basis[:, 1::2] = -np.sin(ang)
        self._basis = basis
        # Phase turn of each detector over one hop: combines hops into one coherent window.
        self._rho = [np.exp(-2j * np.pi * freqs * HOP_SAMPLES * k / RATE_HZ) for k in range(self._k)]
        self._n_det = freqs.size
        self._n_comp = len(comps)
        self._power_scale = 2.0 / n_win ** 2
        a = [comps.index(sig[0]) for sig in sigs]
        b = [comps.index(sig[1 if len(sig) > 1 else 0]) for sig in sigs]
        self._ia, self._ib = np.array(a), np.array(b)
        self._single = np.array([len(sig) == 1 for sig in sigs])
        self._dual = (~self._single).astype(np.float64)
        # Frequency tolerance as a limit on the parabola's vertex offset (in sub-detector steps),
        # which is not linear in frequency: calibrated on the window's own response.
        lim_single = np.array([_offset_limit(f, step, params.single_freq_tol_rel, n_win) for f in comps])
        lim_dual = np.array([_offset_limit(f, step, params.dual_freq_tol_rel, n_win) for f in comps])
        self._tol_a = np.where(self._single, lim_single[self._ia], lim_dual[self._ia])
        self._tol_b = np.where(self._single, np.inf, lim_dual[self._ib])
        self._floor = 10.0 ** (params.min_tone_dbov / 10.0)
        self._twist = 10.0 ** (params.twist_db / 10.0)
        self._cadence = [_Cadence([s for s in specs if s.freqs_hz == sig], params) for sig in sigs]
        self.reset()

    def reset(self) -> None:
        """Forget everything heard; the next sample is t = 0."""
        self._hist_c = np.zeros((self._k - 1, self._n_det), dtype=np.complex128)
        self._hist_e = np.zeros(self._k - 1)
        self._hop = 0
        self._current = None
        self._held = {}
        self.tone_hops = np.zeros(0, dtype=bool)
        for c in self._cadence:
            c.reset()

    def _labels(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per hop: index of the tone signature present (see module doc) or -1, once with
        ``tone_ratio_min`` (strong) and once with ``tone_ratio_hold`` (weak)."""
        n = frames.shape[0]
        k = self._k
        c = np.ascontiguousarray(frames @ self._basis).view(np.complex128)
        call = np.concatenate((self._hist_c, c))
        eall = np.concatenate((self._hist_e, np.einsum("ij,ij->i", frames, frames) / HOP_SAMPLES))
        self._hist_c = call[n:]
        self._hist_e = eall[n:]
        w = call[0:n].copy()
        total = eall[0:n].copy()
        for j in range(1, k):
            w += call[j:j + n] * self._rho[j]
            total += eall[j:j + n]
        total /= k
        power = (w.real ** 2 + w.imag ** 2) * self._power_scale
        off, logp = _peak(np.log(power + 1e-30).reshape(n, self._n_comp, _GRID.size))
        comp_p = np.exp(logp)
        comp_off = np.abs(off)
        pa = comp_p[:, self._ia]
        pb = comp_p[:, self._ib] * self._dual   # 0 for single tones
        ratio = (pa + pb) / np.maximum(total, 1e-20)[:, None]
        ok = (ratio >= self.params.tone_ratio_hold) & (pa >= self._floor) \
            & (comp_off[:, self._ia] <= self._tol_a) & (comp_off[:, self._ib] <= self._tol_b)
        # Dual tones: both parts above the floor and within the twist of each other.
        dual_ok = (pb >= self._floor) & (pa <= pb * self._twist) & (pb <= pa * self._twist)
        ok &= self._single | dual_ok
        rows = np.arange(n)
        score = np.where(ok, ratio, -1.0)
        best = np.argmax(score, axis=1)
        strong = np.where(score[rows, best] >= self.params.tone_ratio_min, best, -1)
        weak = np.where(score[rows, best] > 0.0, best, -1)
        return strong, weak

    def process(self, x) -> list:
        """Analyse a block (length a multiple of 80 samples at 8 kHz); one entry per hop."""
        if np.asarray(x).dtype.kind in "iu":
            raise ValueError("tones: expected float samples in -1..1, got integer PCM (divide by 32768)")
        a = np.asarray(x, dtype=np.float64)
        if a.ndim != 1 or a.size % HOP_SAMPLES:
            raise ValueError(f"tones: expected a 1-D block whose length is a multiple of {HOP_SAMPLES}, "
                             f"got shape {a.shape}")
        n = a.size // HOP_SAMPLES
        if n == 0:
            return []
        strong, weak = self._labels(a.reshape(n, HOP_SAMPLES))
        self.tone_hops = strong >= 0
        h0 = self._hop
        changes: list = []
        starts = set(np.unique(strong).tolist())
        holds = set(np.unique(weak).tolist())
        for i, cad in enumerate(self._cadence):
            if i in starts or (i in holds and not cad.idle):
                cad.run(((strong == i).astype(np.int8) + (weak == i)).tolist(), h0, changes)
            elif not cad.idle:
                cad.run([0] * n, h0, changes)
        self._hop = h0 + n
        if not changes:
            return [self._current] * n
        changes.sort(key=lambda c: c[0])
        out = []
        r = 0
        for h, cad, ev in changes:
            out.extend([self._current] * (h - h0 - r))
            r = h - h0
            self._held.pop(cad, None)
            if ev is not None:
                self._held[cad] = ev
            if ev is None and self._held:
                ev = next(reversed(self._held.values()))  # the most recently confirmed still held
            self._current = ev
        out.extend([self._current] * (n - r))
        return out
