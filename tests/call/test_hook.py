"""Hook debouncing and hook-flash from timestamped edges: tables of chatter, known answers."""
import pytest

from deskline.call.events import Flash, Hook
from deskline.call.hook import HookDebouncer

OFF, ON = True, False  # off-hook (handset lifted), on-hook


def run(edges, until_s=None, step_s=0.005, **kw):
    """Feed ``(t_s, off_hook)`` edges, ticking every ``step_s``; all events out."""
    deb = HookDebouncer(**{"debounce_s": 0.05, "flash_min_s": 0.1, "flash_max_s": 0.9, **kw})
    edges = sorted(edges)
    until_s = until_s if until_s is not None else (edges[-1][0] + 2.0 if edges else 1.0)
    out, t = [], 0.0
    while t <= until_s + 1e-9:
        while edges and edges[0][0] <= t + 1e-9:
            out += deb.edge(*edges.pop(0))
        out += deb.tick(t)
        t = round(t + step_s, 6)
    return out


def chatter(t0, n, gap_s, final):
    """``n`` alternating edges ``gap_s`` apart that end on ``final``."""
    return [(round(t0 + i * gap_s, 6), final if (n - 1 - i) % 2 == 0 else not final)
            for i in range(n)]


CASES = [
    ("clean lift", [(1.0, OFF)], [Hook(1.0, True)]),
    ("lift with 5 ms chatter", chatter(1.0, 9, 0.005, OFF), [Hook(1.04, True)]),
    ("lift with 20 ms chatter", chatter(1.0, 5, 0.02, OFF), [Hook(1.08, True)]),
    ("spike shorter than debounce", [(1.0, OFF), (1.03, ON)], []),
    ("lift held just past debounce, then down", [(1.0, OFF), (1.06, ON)],
     [Hook(1.0, True), Hook(1.06, False)]),
    ("hang-up", [(1.0, OFF), (5.0, ON)], [Hook(1.0, True), Hook(5.0, False)]),
    ("hang-up with chatter", [(1.0, OFF)] + chatter(5.0, 7, 0.004, ON),
     [Hook(1.0, True), Hook(5.024, False)]),
    ("flash 0.3 s", [(1.0, OFF), (5.0, ON), (5.3, OFF)], [Hook(1.0, True), Flash(5.0)]),
    ("flash 0.15 s with chatter",
     [(1.0, OFF)] + chatter(5.0, 3, 0.004, ON) + chatter(5.158, 3, 0.004, OFF),
     [Hook(1.0, True), Flash(5.008)]),
    ("jolt of the cradle (under flash_min_s)", [(1.0, OFF), (5.0, ON), (5.07, OFF)],
     [Hook(1.0, True)]),
    ("on-hook at the flash limit is a hang-up", [(1.0, OFF), (5.0, ON), (5.95, OFF)],
     [Hook(1.0, True), Hook(5.0, False), Hook(5.95, True)]),
    ("flash then hang-up", [(1.0, OFF), (5.0, ON), (5.4, OFF), (9.0, ON)],
     [Hook(1.0, True), Flash(5.0), Hook(9.0, False)]),
]


@pytest.mark.parametrize("edges, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_debounce_and_flash_table(edges, expected):
    got = run(edges)
    assert [type(e) for e in got] == [type(e) for e in expected]
    for g, e in zip(got, expected):
        assert g.t_s == pytest.approx(e.t_s, abs=1e-6)
        if isinstance(e, Hook):
            assert g.off_hook == e.off_hook


def test_hang_up_is_reported_flash_max_s_after_it_began():
    deb = HookDebouncer(debounce_s=0.05, flash_min_s=0.1, flash_max_s=0.9)
    assert deb.edge(0.0, OFF) == [] and deb.tick(0.05) == [Hook(0.0, True)]
    deb.edge(2.0, ON)
    assert deb.tick(2.5) == [] and deb.off_hook
    assert deb.tick(2.9) == [Hook(2.0, False)] and not deb.off_hook


def test_off_hook_edge_still_settling_at_the_window_end_decides_a_flash():
    # back off-hook at 0.88 s into the on-hook: the window ends before it is stable
    got = run([(1.0, OFF), (3.0, ON), (3.88, OFF)], step_s=0.01)
    assert got == [Hook(1.0, True), Flash(3.0)]


def test_flash_detection_off():
    got = run([(1.0, OFF), (5.0, ON), (5.3, OFF)], flash_max_s=0.0)
    assert got == [Hook(1.0, True), Hook(5.0, False), Hook(5.3, True)]


def test_a_coarse_tick_gives_the_same_events():
    edges = [(1.0, OFF), (5.0, ON), (5.3, OFF), (9.0, ON)]
    assert run(edges, step_s=0.1) == run(edges, step_s=0.001)


@pytest.mark.parametrize("kw", [dict(debounce_s=-1), dict(flash_min_s=0.5, flash_max_s=0.4),
                                dict(debounce_s=0.2, flash_min_s=0.1)])
def test_impossible_windows_are_refused(kw):
    with pytest.raises(ValueError):
        HookDebouncer(**kw)
