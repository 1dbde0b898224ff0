"""What the line meter says about one analysis block: the records the controller reads."""
from __future__ import annotations

from dataclasses import dataclass

#: The level reported for digital silence or "no speech yet" (as ITU-T P.56's sv56 does).
FLOOR_DBOV = -100.0


@dataclass(frozen=True, slots=True)
class ToneEvent:
    """A call-progress tone recognised by frequency and cadence (ITU-T E.180 plans).

    ``plan`` is one of ``"cn"`` (China, 450 Hz), ``"eu"`` (CEPT, 425 Hz), ``"uk"`` (400 Hz),
    ``"na"`` (North America, 480+620 / 350+440 Hz); ``kind`` is ``"busy"``, ``"congestion"``,
    ``"ringback"`` or ``"dial"``; ``t_s`` is the onset of the tone's first burst on the audio
    clock, not the moment it was confirmed.
    """

    plan: str
    kind: str
    t_s: float

    def to_dict(self) -> dict:
        return {"plan": self.plan, "kind": self.kind, "t_s": round(self.t_s, 3)}


@dataclass(frozen=True, slots=True)
class LineState:
    """The line as heard over one analysis block (10 ms), ending at ``t_s``.

    Levels are dBov (0 dBov = full-scale square wave; a full-scale sine is -3.01 dBov) and
    read :data:`FLOOR_DBOV` when there is nothing to measure.

    - ``speech``: the block is speech (VAD decision, with hangover).
    - ``level_dbov``: RMS level of the block.
    - ``active_level_dbov``: running ITU-T P.56 (method B) active speech level since the meter
      was reset (the call's start).
    - ``noise_dbov``: tracked noise floor (from non-speech), ``snr_db`` = speech over noise;
      ``snr_db`` is NaN while it cannot be told (no speech or no noise estimate yet), which
      compares false against any threshold.
    - ``peak_dbov``: block peak, as the level of a square wave with that peak.
    - ``clipped``: the block has samples at or near full scale.
    - ``tone``: the call-progress tone on the line now (held while its cadence lasts), or None.
    """

    t_s: float
    speech: bool
    level_dbov: float
    active_level_dbov: float
    noise_dbov: float
    snr_db: float
    peak_dbov: float
    clipped: bool
    tone: ToneEvent | None = None

    def at(self, t_s: float) -> "LineState":
        """The same state stamped ``t_s`` (a call's clock rather than the meter's): tone too."""
        tone = self.tone
        if tone is not None:
            tone = ToneEvent(tone.plan, tone.kind, tone.t_s + (t_s - self.t_s))
        return LineState(t_s, self.speech, self.level_dbov, self.active_level_dbov,
                         self.noise_dbov, self.snr_db, self.peak_dbov, self.clipped, tone)

    def to_dict(self) -> dict:
        return {
            "t_s": round(self.t_s, 3),
            "speech": self.speech,
            "level_dbov": round(self.level_dbov, 2),
            "active_level_dbov": round(self.active_level_dbov, 2),
            "noise_dbov": round(self.noise_dbov, 2),
            "snr_db": None if self.snr_db != self.snr_db else round(self.snr_db, 2),
            "peak_dbov": round(self.peak_dbov, 2),
            "clipped": self.clipped,
            "tone": self.tone.to_dict() if self.tone else None,
        }
