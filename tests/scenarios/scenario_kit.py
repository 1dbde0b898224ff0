"""Calls built from the real recordings in tests/fixtures, replayed through meter + controller.

A scenario builds a call (:class:`deskline.recordings.callmix.CallBuilder`), replays it with the full
``simulate`` path (line meter, controller, phrase playback, call recorder) and looks at what the
device did. Expected times are stated against what the call is made of (when speech ends, when
a key is pressed) and against when the device's own phrases ended, which the playback decides.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deskline.call.events import Led, Mute, Note, PhraseDone, Play, Release
from deskline.recordings.callmix import RATE_HZ, CallBuilder, at_active_level, load_clip
from deskline.config import loads_config
from deskline.replay.simulate import simulate_samples

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

#: Seconds of tolerance on every action time.
TOL_S = 0.3

QUALITY_PROMPTS = ("speak_louder", "switch_phone_quiet", "too_noisy_goodbye", "pick_up_handset")


@functools.lru_cache(maxsize=None)
def _clip(name: str) -> np.ndarray:
    return load_clip(FIXTURES / name, rate_hz=RATE_HZ)


def speech(name: str, level_dbov: float) -> np.ndarray:
    """A fixture's speech at 8 kHz, scaled to a P.56 active level."""
    return at_active_level(_clip(name), level_dbov)


def noise(name: str) -> np.ndarray:
    """A fixture's noise at 8 kHz, as recorded."""
    return _clip(name)


@functools.lru_cache(maxsize=None)
def config(profile: str = "standard", release_relay: bool = True):
    """A config for ``profile``; without a release relay the device asks the agent (LED)."""
    text = (f'[desk]\nhotline_name = "12345"\nhotline_name_en = "12345"\nagent_no = "1024"\n'
            f'profile = "{profile}"\n')
    if not release_relay:
        text += '[hw]\nline_release_pin = "none"\n'
    return loads_config(text, f"<scenario {profile}>")


@functools.lru_cache(maxsize=None)
def greeting_s() -> float:
    """How long the greeting plays for the scenario desk, measured on its recordings."""
    from deskline.phrases.book import PhraseBook
    return PhraseBook.from_config(config()).duration_s("greeting")


@dataclass
class Outcome:
    """What the device did on one replayed call."""

    actions: list
    events: list
    record: dict

    def plays(self) -> list[tuple[str, float]]:
        return [(a.phrase, a.t_s) for a in self.actions if isinstance(a, Play)]

    def phrases(self) -> list[str]:
        return [a.phrase for a in self.actions if isinstance(a, Play)]

    def play_t(self, phrase: str, n: int = 0) -> float:
        ts = [a.t_s for a in self.actions if isinstance(a, Play) and a.phrase == phrase]
        assert len(ts) > n, f"{phrase} played {len(ts)} times; plays: {self.plays()}"
        return ts[n]

    def done_t(self, phrase: str, n: int = 0) -> float:
        ts = [e.t_s for e in self.events if isinstance(e, PhraseDone) and e.phrase == phrase]
        assert len(ts) > n, f"{phrase} ended {len(ts)} times"
        return ts[n]

    def leds(self) -> list[tuple[str, float]]:
        return [(a.pattern, a.t_s) for a in self.actions if isinstance(a, Led)]

    def mutes(self) -> list[tuple[bool, float]]:
        return [(a.on, a.t_s) for a in self.actions if isinstance(a, Mute)]

    def releases(self) -> list[float]:
        return [a.t_s for a in self.actions if isinstance(a, Release)]

    def notes(self, kind: str) -> list[Note]:
        return [a for a in self.actions if isinstance(a, Note) and a.kind == kind]

    def quality_prompts(self) -> list[tuple[str, float]]:
        return [(p, t) for p, t in self.plays() if p in QUALITY_PROMPTS]


def replay(call: CallBuilder, *, profile: str = "standard", release_relay: bool = True) -> Outcome:
    """Replay a built call through the whole simulate path."""
    x = call.samples()
    rx, tx = (x, None) if x.ndim == 1 else (x[:, 0], x[:, 1])
    result, records = simulate_samples(rx, rate_hz=call.rate_hz, tx=tx, events=call.events,
                                       config=config(profile, release_relay))
    assert len(records) == 1, records
    return Outcome(result.actions, result.events, records[0])


def near(actual: float, expected: float, tol: float = TOL_S) -> bool:
    """``actual`` within ``tol`` seconds of ``expected`` (for readable asserts)."""
    return abs(actual - expected) <= tol
