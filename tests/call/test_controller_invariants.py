"""Invariants of the controller under random calls: one phrase at a time, a safe desk after
on-hook, time never runs backwards, and no quality prompt for a caller who is fine."""
from hypothesis import given, settings, strategies as st

from callsim import Sim, key, talk
from deskline.call.events import Flash, Hook, Led, Mute, Play, PhraseDone, StopPlayback
from deskline.call.profile import DeskIdentity, Profile

KEYS = ["hold", "greet", "anything_else", "goodbye", "supervisor", "louder", "phrase:thanks",
        "phrase:wrong_number", "bogus"]

events = st.lists(
    st.tuples(st.floats(0.5, 59.0), st.sampled_from(KEYS + ["flash", "on", "off"])),
    max_size=12)
talk_spans = st.lists(st.tuples(st.floats(0.0, 59.0), st.floats(0.2, 6.0)), max_size=10)


def build(evs):
    out = []
    for t, what in evs:
        t = round(t, 2)
        if what == "flash":
            out.append(Flash(t))
        elif what in ("on", "off"):
            out.append(Hook(t, what == "off"))
        else:
            out.append(key(t, what))
    return out


def rx_for(spans, level=-26.0, noise=-65.0):
    """Talk in ``(start_s, length_s)`` spans; like real speech it dips between syllables (50 ms
    in every 250 ms, bridged by the speech detector's hangover). A level that never dips
    cannot be told from a steady noise, and the judge rightly takes it for one."""
    def rx(t):
        if not any(a <= t < a + d for a, d in spans):
            return None
        return level if round(t * 100) % 25 >= 5 else talk(t, noise, noise)
    return rx


class Checked(Sim):
    """A Sim that checks the one-phrase-at-a-time rule as actions come out."""

    def _take(self, acts, t):
        for i, a in enumerate(acts):
            if isinstance(a, Play) and self._playing is not None:
                assert i > 0 and isinstance(acts[i - 1], StopPlayback), \
                    f"{a.phrase} started over {self._playing[0]} at {t}"
        super()._take(acts, t)


@settings(max_examples=40, deadline=None)
@given(evs=events, spans=talk_spans, gov=st.booleans(), relay=st.booleans(),
       tx_spans=talk_spans)
def test_random_calls_keep_the_invariants(evs, spans, gov, relay, tx_spans):
    profile = Profile.gov() if gov else Profile.standard()
    sim = Checked(profile=profile, desk=DeskIdentity(line_release=relay))
    tx = rx_for(tx_spans) if tx_spans else None
    sim.run(60.0, rx=rx_for(spans), tx=(lambda t: tx(t) is not None) if tx else None,
            events=build(evs))
    times = [a.t_s for a in sim.actions]
    assert times == sorted(times)
    # no quality prompt for a caller at an ordinary level on a clean line
    assert not [a for a in sim.actions if isinstance(a, Play) and a.reason in ("quiet", "noisy")]
    # after every on-hook the desk is safe: microphone open, LED dark, nothing playing
    for i, a in enumerate(sim.actions):
        if type(a).__name__ == "State" and a.name == "idle":
            before = sim.actions[:i]
            mutes = [m for m in before if isinstance(m, Mute)]
            leds = [m for m in before if isinstance(m, Led)]
            assert not mutes or mutes[-1].on is False
            assert not leds or leds[-1].pattern == "off"
    if sim.ctl.state == "idle":
        assert sim.ctl.playing is None
