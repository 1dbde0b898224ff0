"""Debouncing and hook-flash from timestamped edges (known edge sequences, known answers)."""
import pytest

from deskline.call.events import Flash, Hook, Key, Ring
from deskline.hw.debounce import EdgeInterpreter


def run(edges, until_s, step_s=0.005, **kw):
    ei = EdgeInterpreter(debounce_s=0.03, flash_max_s=0.6, **kw)
    out, edges = [], sorted(edges, key=lambda e: e[2])
    t = 0.0
    while t <= until_s:
        while edges and edges[0][2] <= t:
            ei.feed(*edges.pop(0))
        out += ei.poll(t)
        t = round(t + step_s, 6)
    return out


def test_chatter_gives_one_off_hook_at_the_stable_edge():
    chatter = [("hook", i % 2 == 0, 1.0 + 0.001 * i) for i in range(11)]  # ends active at 1.010
    assert run(chatter, 2.0) == [Hook(1.010, True)]


def test_glitch_shorter_than_debounce_is_ignored():
    assert run([("hook", True, 1.0), ("hook", False, 1.02)], 2.0) == []


def test_short_on_hook_is_a_flash_and_long_one_a_hang_up():
    edges = [("hook", True, 1.0), ("hook", False, 3.0), ("hook", True, 3.3),
             ("hook", False, 6.0)]
    assert run(edges, 8.0) == [Hook(1.0, True), Flash(3.0), Hook(6.0, False)]


def test_hang_up_is_reported_after_the_flash_window():
    ei = EdgeInterpreter(debounce_s=0.03, flash_max_s=0.6)
    ei.feed("hook", True, 0.0)
    assert ei.poll(0.1) == [Hook(0.0, True)]
    ei.feed("hook", False, 1.0)
    assert ei.poll(1.5) == [] and ei.off_hook
    assert ei.poll(1.6) == [Hook(1.0, False)] and not ei.off_hook


def test_ring_bursts_and_keys():
    edges = [("ring", True, 0.0), ("ring", False, 1.0), ("ring", True, 3.0), ("ring", False, 4.0),
             ("key:hold", True, 5.0), ("key:hold", False, 5.1)]
    assert run(edges, 6.0) == [Ring(0.0), Ring(3.0), Key(5.0, "hold")]


def test_bad_windows_refused():
    with pytest.raises(ValueError):
        EdgeInterpreter(debounce_s=0.5, flash_max_s=0.4)
