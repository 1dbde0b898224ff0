"""The built-in demo calls: six typical calls made from real recordings shipped in the package.

Each call is built on the fly from the clips in ``deskline/data/demo/`` (see the CREDITS file
there) with a fixed random seed, so ``deskline demo`` gives the same result every time:

- ``normal``: two rings, a caller at an ordinary level over cafe noise, the agent answering on
  the transmit tap, "anything else?", goodbye, the agent hangs up;
- ``silent``: the line is open but nobody speaks (a fridge hum far away);
- ``quiet``: the caller speaks, but about 22 dB below an ordinary level;
- ``noisy``: a caller at an ordinary level beside heavy traffic (speech-to-noise about 3 dB);
- ``hold``: the agent puts the caller on hold for 2 min 10 s, then resumes;
- ``hands_free``: a caller on a hands-free phone across a room, a little low: the agent's
  voice comes back from the room (-15 dB, RT60 0.5 s), and the device asks, once, in a pause,
  to pick up the handset.
"""
from __future__ import annotations

from importlib import resources

import numpy as np

from deskline.call.events import Hook, Key, Ring
from deskline.recordings.callmix import RATE_HZ, CallBuilder, at_active_level, load_clip, room_echo

#: Demo call names, in the order ``deskline demo`` plays them.
NAMES = ("normal", "silent", "quiet", "noisy", "hold", "hands_free")

DESCRIPTIONS = {
    "normal": "a normal call: caller at -24 dBov over cafe noise, agent on the transmit tap",
    "silent": "a silent call: the line is open, nobody speaks",
    "quiet": "a quiet caller: speech at -47 dBov",
    "noisy": "a noisy line: speech at -26 dBov beside traffic at about 3 dB SNR",
    "hold": "a hold: the caller waits 2 min 10 s",
    "hands_free": "a caller on a hands-free phone, a little low (-30 dBov), the agent's voice "
                  "returned from the room",
}


def clip(name: str) -> np.ndarray:
    """A demo clip (file name in ``deskline/data/demo``) as 8 kHz float samples."""
    ref = resources.files("deskline") / "data" / "demo" / name
    with resources.as_file(ref) as path:
        return load_clip(path, rate_hz=RATE_HZ)


def _caller_turns(b: CallBuilder, start_s: float, clips: list[np.ndarray], gap_s: float) -> float:
    t = start_s
    for x in clips:
        t = b.caller(x, t) + gap_s
    return t


def normal() -> CallBuilder:
    rng = np.random.default_rng(1)
    zh = at_active_level(clip("aishell1_BAC009S0724W0121.flac"), -24.0)
    en = at_active_level(clip("silero_test_0-12s.flac"), -24.0)
    agent_a = at_active_level(clip("cmu_arctic_us_aew_a0001.flac"), -22.0)
    agent_b = at_active_level(clip("cmu_arctic_us_axb_a0004.flac"), -22.0)
    b = CallBuilder(66.0)
    b.background(clip("freesound_cafe_0-6s.flac"), -56.0, rng=rng)
    b.event(Ring(0.0))
    b.event(Ring(4.0))
    b.event(Hook(6.5, True))
    # the caller starts while the greeting may still be playing and keeps talking in turns
    t = _caller_turns(b, 10.0, [zh[: int(2.2 * RATE_HZ)], zh[int(2.2 * RATE_HZ):]], 1.0)
    t = b.agent(agent_a, t + 0.3) + 0.6
    t = b.caller(en[: 6 * RATE_HZ], t) + 0.6
    t = b.agent(agent_b, t) + 2.0
    b.event(Key(t, "anything_else"))
    t = b.caller(en[6 * RATE_HZ:], t + 4.0) + 1.0
    b.event(Key(t, "goodbye"))
    b.event(Hook(t + 7.0, False))        # the agent puts the handset down after it
    return b


def silent() -> CallBuilder:
    b = CallBuilder(45.0)
    b.background(clip("freesound_fridge_0-6s.flac"), -62.0, rng=np.random.default_rng(2))
    b.event(Ring(0.0))
    b.event(Hook(1.5, True))
    b.event(Hook(44.0, False))
    return b


def quiet() -> CallBuilder:
    a = at_active_level(clip("aishell1_BAC009S0764W0121.flac"), -47.0)
    c = at_active_level(clip("aishell1_BAC009S0764W0143.flac"), -47.0)
    b = CallBuilder(60.0)
    b.background(clip("freesound_fridge_0-6s.flac"), -75.0, rng=np.random.default_rng(3))
    b.event(Ring(0.0))
    b.event(Hook(2.0, True))
    t = 8.0
    for x in (a, c, a, c, a, c):
        t = b.caller(x, t) + 1.5
    b.event(Hook(59.0, False))
    return b


def noisy() -> CallBuilder:
    en = at_active_level(clip("silero_test_0-12s.flac"), -26.0)
    zh = at_active_level(clip("aishell1_BAC009S0724W0121.flac"), -26.0)
    b = CallBuilder(45.0)
    b.background(clip("freesound_traffic_0-6s.flac"), -29.0, rng=np.random.default_rng(4))
    b.event(Ring(0.0))
    b.event(Hook(2.0, True))
    t = 8.0
    for x in (en, zh, en):
        t = b.caller(x, t) + 1.2
    b.event(Hook(44.0, False))
    return b


def hold() -> CallBuilder:
    zh = at_active_level(clip("aishell1_BAC009S0724W0121.flac"), -25.0)
    en = at_active_level(clip("silero_test_0-12s.flac"), -25.0)
    agent = at_active_level(clip("cmu_arctic_us_aew_a0001.flac"), -22.0)
    b = CallBuilder(185.0)
    b.background(clip("freesound_cafe_0-6s.flac"), -58.0, rng=np.random.default_rng(5))
    b.event(Ring(0.0))
    b.event(Hook(3.0, True))
    t = b.caller(zh, 8.0) + 0.8
    t = b.caller(en[: 5 * RATE_HZ], t) + 0.8
    t = b.agent(agent, t) + 0.5
    b.event(Key(t, "hold"))
    resume = t + 130.0 + 4.0
    b.event(Key(resume, "hold"))
    t = b.caller(en[5 * RATE_HZ:], resume + 5.0) + 1.0
    b.event(Key(t, "goodbye"))
    b.event(Hook(t + 7.0, False))        # the agent puts the handset down after it
    return b


def hands_free() -> CallBuilder:
    rng = np.random.default_rng(6)
    room = room_echo(rng, rt60_s=0.5, delay_s=0.0, gain_db=0.0)      # the caller's own voice
    back = room_echo(rng, rt60_s=0.5, delay_s=0.12, gain_db=-15.0)   # the agent's, returned
    callers = [np.convolve(at_active_level(clip(n), -30.0), room)
               for n in ("aishell1_BAC009S0724W0121.flac", "aishell1_BAC009S0764W0121.flac")]
    en = at_active_level(clip("silero_test_0-12s.flac"), -22.0)
    agents = [at_active_level(clip("cmu_arctic_us_aew_a0001.flac"), -22.0),
              at_active_level(clip("cmu_arctic_us_axb_a0004.flac"), -22.0),
              en[: 6 * RATE_HZ], en[6 * RATE_HZ:]]
    b = CallBuilder(75.0)
    b.background(clip("freesound_fridge_0-6s.flac"), -66.0, rng=rng)
    b.event(Ring(0.0))
    b.event(Hook(2.0, True))
    t = 12.0
    for i in range(6):
        t = b.caller(callers[i % 2], t) + 0.6
        t = b.agent(agents[i % 4], t, sidetone_db=-18.0, echo_ir=back) + 1.5
    b.event(Hook(74.0, False))
    return b


BUILDERS = {"normal": normal, "silent": silent, "quiet": quiet, "noisy": noisy, "hold": hold,
            "hands_free": hands_free}


def build(name: str) -> CallBuilder:
    """The demo call ``name`` (one of :data:`NAMES`)."""
    return BUILDERS[name]()
