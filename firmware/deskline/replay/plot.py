"""Draw a replayed call as a PNG: receive level, noise floor, speech, prompts on one time axis.

matplotlib is optional (``pip install deskline[plot]``) and imported only here, when a plot is
asked for, with the non-interactive Agg backend so it works on a headless Pi.
"""
from __future__ import annotations

import os

import numpy as np

from deskline.dsp.state import FLOOR_DBOV
from deskline.exc import DesklineError

#: Lowest level drawn; the meter's floor value (-100 dBov) would squash the picture.
BOTTOM_DBOV = -80.0


def _spans(t_s: np.ndarray, flags: np.ndarray, hop_s: float = 0.01) -> list[tuple[float, float]]:
    """(start, end) times of the runs where ``flags`` is true (each hop ends at its ``t_s``)."""
    if t_s.size == 0:
        return []
    f = np.concatenate([[False], flags.astype(bool), [False]])
    edges = np.flatnonzero(np.diff(f.astype(np.int8)))
    return [(float(t_s[a] - hop_s), float(t_s[b - 1])) for a, b in zip(edges[::2], edges[1::2])]


def _label_marks(ax, marks, y: float, color: str, *, span_s: float) -> None:
    """Tick marks with labels on one lane; labels at one instant are joined, and labels close
    in time alternate between two rows so they do not print over each other."""
    merged: list[tuple[float, list[str]]] = []
    for t, label in sorted(marks, key=lambda m: m[0]):
        if merged and t - merged[-1][0] < 0.05:
            if label not in merged[-1][1]:
                merged[-1][1].append(label)
        else:
            merged.append((t, [label]))
    last_t, row = -1e9, 0
    for t, labels in merged:
        row = 1 - row if t - last_t < 0.08 * span_s else 0
        last_t = t
        ax.plot([t], [y], marker="|", ms=14, color=color)
        ax.text(t, y - 0.3 - 0.28 * row, ", ".join(labels), fontsize=7, va="center")


def _holds(actions, end_s: float) -> list[tuple[float, float]]:
    out, start = [], None
    for a in actions:
        if type(a).__name__ == "Mute":
            if a.on and start is None:
                start = a.t_s
            elif not a.on and start is not None:
                out.append((start, a.t_s))
                start = None
    if start is not None:
        out.append((start, end_s))
    return out


def plot_call(path: str | os.PathLike, trace: dict, actions, *, events=(), title: str = "",
              phrase_spans: list[tuple[str, float, float]] | None = None) -> None:
    """Write the call picture to ``path`` (PNG).

    ``trace``: per-hop arrays ``t_s``, ``level_dbov``, ``noise_dbov``, ``active_level_dbov``,
    ``speech`` (see :class:`deskline.replay.Trace`); ``actions``: the controller's actions;
    ``events``: the hardware events (ring, hook, keys) to mark; ``phrase_spans``: (phrase,
    start, end) of what played.
    """
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise DesklineError("plotting needs matplotlib: pip install 'deskline[plot]'") from None

    t = np.asarray(trace["t_s"], dtype=float)
    end_s = float(t[-1]) if t.size else 1.0
    level = np.maximum(np.asarray(trace["level_dbov"], dtype=float), BOTTOM_DBOV)
    noise = np.asarray(trace["noise_dbov"], dtype=float)
    active = np.asarray(trace["active_level_dbov"], dtype=float)
    noise = np.where(noise <= FLOOR_DBOV, np.nan, noise)
    active = np.where(active <= FLOOR_DBOV, np.nan, active)

    fig, (ax, lane) = plt.subplots(2, 1, figsize=(12, 5.5), sharex=True,
                                   gridspec_kw={"height_ratios": [3, 1.4]})
    for a, b in _spans(t, np.asarray(trace["speech"])):
        ax.axvspan(a, b, color="#c6e2c0", lw=0)
    for a, b in _holds(actions, end_s):
        ax.axvspan(a, b, color="#d9d2ec", alpha=0.6, lw=0)
    ax.plot(t, level, color="#4a6fa5", lw=0.6, label="receive level (10 ms)")
    ax.plot(t, noise, color="#c0504d", lw=1.4, label="noise floor")
    ax.plot(t, active, color="#222222", lw=1.2, ls="--", label="caller active level (P.56)")
    ax.set_ylim(BOTTOM_DBOV, 0)
    ax.set_ylabel("dBov")
    from matplotlib.patches import Patch
    handles, _ = ax.get_legend_handles_labels()
    handles += [Patch(color="#c6e2c0", label="speech"), Patch(color="#d9d2ec", label="on hold")]
    ax.legend(handles=handles, loc="upper right", fontsize=8, ncol=5, framealpha=0.9)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title, fontsize=11)

    # Lane below: what the device played (bars), hardware events and other actions (ticks).
    lane.set_ylim(0, 3)
    lane.set_yticks([0.5, 1.5, 2.5], ["desk", "device", "played"])
    for phrase, a, b in phrase_spans or []:
        lane.barh(2.5, b - a, left=a, height=0.6, color="#f2c14e", edgecolor="#8a6d1d")
        lane.text(a, 2.95, phrase, fontsize=7, va="top", rotation=0, clip_on=True)
    device, desk = [], []
    for a in actions:
        kind = type(a).__name__
        if kind == "Play" and not phrase_spans:
            lane.plot([a.t_s], [2.5], marker="v", color="#8a6d1d")
            lane.text(a.t_s, 2.95, a.phrase, fontsize=7, va="top")
        elif kind in ("Release", "Led", "Mute", "Alert"):
            device.append((a.t_s, {"Release": "release", "Led": f"LED {getattr(a, 'pattern', '')}",
                                   "Mute": "mute " + ("on" if getattr(a, "on", False) else "off"),
                                   "Alert": "alert"}[kind]))
    for e in events:
        kind = type(e).__name__
        label = {"Ring": "ring", "Flash": "flash"}.get(kind)
        if kind == "Hook":
            label = "off-hook" if e.off_hook else "on-hook"
        elif kind == "Key":
            label = f"key {e.name}"
        if label:
            desk.append((e.t_s, label))
    for marks, y, color in ((device, 1.5, "#c0504d"), (desk, 0.5, "#4a6fa5")):
        _label_marks(lane, marks, y, color, span_s=end_s)
    lane.set_xlabel("time on the call (s)")
    lane.set_xlim(0, end_s)
    lane.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    try:
        fig.savefig(os.fspath(path), dpi=110)
    except OSError as exc:
        raise DesklineError(f"{os.fspath(path)}: cannot write the plot ({exc.strerror})") from None
    finally:
        plt.close(fig)
