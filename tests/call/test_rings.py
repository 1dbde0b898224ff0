"""Ring counting from the optocoupler's edges: cadences of several countries, chatter, spikes."""
import pytest

from deskline.call.events import Ring
from deskline.call.rings import RingCounter


def ringer(cadence, periods, t0=0.0, pulse_s=None):
    """Edges of a ringer with ``cadence`` = (on, off, on, off …) seconds, repeated ``periods``
    times; ``pulse_s`` makes the optocoupler chatter (half-cycles of the ringing voltage)."""
    edges, t = [], t0
    for _ in range(periods):
        for i, dur in enumerate(cadence):
            if i % 2 == 0:
                if pulse_s:
                    k = 0
                    while k * pulse_s < dur - 1e-9:
                        edges.append((round(t + k * pulse_s, 6), k % 2 == 0))
                        k += 1
                    edges.append((round(t + dur, 6), False))
                else:
                    edges += [(round(t, 6), True), (round(t + dur, 6), False)]
            t += dur
    return edges


def count(edges, until_s, step_s=0.01, **kw):
    rc = RingCounter(**kw)
    edges = sorted(edges)
    out, t = [], 0.0
    while t <= until_s + 1e-9:
        while edges and edges[0][0] <= t + 1e-9:
            out += rc.edge(*edges.pop(0))
        out += rc.tick(t)
        t = round(t + step_s, 6)
    return out, rc


@pytest.mark.parametrize("name, cadence, pulse_s", [
    ("china 1 on 4 off", (1.0, 4.0), None),
    ("europe 1 on 4 off, chattering at 50 Hz", (1.0, 4.0), 0.01),
    ("north america 2 on 4 off, chattering at 20 Hz ringing", (2.0, 4.0), 0.025),
    ("uk double ring", (0.4, 0.2, 0.4, 2.0), None),
    ("uk double ring, chattering", (0.4, 0.2, 0.4, 2.0), 0.01),
])
def test_one_ring_per_burst(name, cadence, pulse_s):
    edges = ringer(cadence, 4, t0=1.0, pulse_s=pulse_s)
    period = sum(cadence)
    got, rc = count(edges, 1.0 + 4 * period + 1.0)
    assert [r.t_s for r in got] == pytest.approx([1.0 + i * period for i in range(4)])
    assert rc.count == 4


def test_a_spike_on_the_ring_input_is_not_a_ring():
    got, rc = count([(1.0, True), (1.02, False), (3.0, True), (3.05, False)], 5.0)
    assert got == [] and rc.count == 0


def test_reset_counts_the_next_call_from_zero():
    got, rc = count(ringer((1.0, 4.0), 2), 12.0)
    assert rc.count == 2
    rc.reset()
    assert rc.count == 0


def test_ring_is_announced_after_ring_min_s_stamped_with_its_start():
    rc = RingCounter(ring_min_s=0.2, ring_off_s=0.5)
    assert rc.edge(1.0, True) == []
    assert rc.tick(1.1) == []
    assert rc.tick(1.2) == [Ring(1.0)]
    assert rc.tick(1.5) == []


@pytest.mark.parametrize("spikes", [
    [(1.0, True), (1.001, False), (1.15, True), (1.151, False)],          # two 1 ms, 150 ms apart
    [(1.0 + 0.09 * k + d, d == 0) for k in range(8) for d in (0, 0.001)],  # 8 spikes, 90 ms apart
], ids=["two-spikes", "slow-spikes"])
def test_line_noise_spikes_further_apart_than_ringing_are_not_a_ring(spikes):
    got, rc = count(spikes, 3.0)
    assert got == [] and rc.count == 0


def test_ringing_at_the_slowest_ringing_frequency_is_a_ring():
    # a half-wave optocoupler at 16 2/3 Hz: one 20 ms pulse every 60 ms, for 1 s
    edges = [(round(1.0 + 0.06 * k + d, 6), d == 0) for k in range(17) for d in (0, 0.02)]
    got, rc = count(edges, 3.0)
    assert [r.t_s for r in got] == pytest.approx([1.0]) and rc.count == 1


def test_a_cadence_gap_adds_no_ringing():
    # two 60 ms stretches of ringing 0.2 s apart (a double ring's gap): 120 ms rung, not 320
    edges = [(1.0, True), (1.06, False), (1.26, True), (1.32, False)]
    got, _ = count(edges, 3.0, ring_min_s=0.15)
    assert got == []
    got, _ = count(edges, 3.0, ring_min_s=0.11)
    assert [r.t_s for r in got] == pytest.approx([1.0])
