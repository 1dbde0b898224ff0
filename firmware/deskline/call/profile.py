"""The controller's timings and thresholds (a profile) and the desk it serves.

Every field is a config key under ``[profiles.<name>]`` (see :mod:`deskline.config`), named with
its unit. Two profiles are built in, with the service standard's numbers as defaults:

``standard`` — the 12385 hotline script (seed 000) and the call-centre norms (seed 003):
    5 s pauses in the silent-call ladder (000 item 2), 5 s before hanging up after
    "switch phone" / "too noisy" / "I'm hanging up" (000 items 4, 5, 34), "speak louder" once
    before "switch phone" (000 item 4), the noisy line goes straight to "too noisy, goodbye"
    (000 item 5), late greeting after the third ring (000 item 16), hold limits 20 s and 2 min
    (seed 001 "等待时间不能超过20秒" and item 16 "如客户等候超出2分钟").

``gov`` — the government hotline variant (seed 001), in seed 001's words (the ``*_gov``
    phrases of the catalog): about 3 s between silent-call prompts
    (001 item 5 "等待3秒左右"), 2 s before hanging up and after "anything else?" (001 items 2,
    6, 7, 8 "稍停2秒"), "speak louder" twice before "switch phone" for a quiet caller (001 item 8)
    and twice before "too noisy" on a noisy line (001 item 6).

Measurement thresholds are the product's own (they are not in the seeds): normal telephone
speech has an active level of about -20 to -30 dBov, a quiet caller is under about -40 dBov,
a noisy line has a speech-to-noise ratio under about 10 dB. The defaults (quiet under -40,
fine again over -37 dBov; noisy under 11 dB of the judge's SNR, fine again over 14 dB) were
chosen on real recordings through the real meter: ``bench/judge_thresholds.py``.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True, slots=True)
class Profile:
    """Controller timings (seconds) and thresholds (dBov, dB) for one way of running a desk."""

    name: str = "standard"
    #: greet on every off-hook, even without rings before it (an agent's outgoing call would
    #: then be greeted too; turn off where agents also dial out).
    greet_without_ring: bool = True
    #: rings heard before the answer above which the late greeting plays (seed 000 item 16).
    late_after_rings: int = 3
    #: a gap between rings longer than this starts a new call's ring count.
    ring_reset_s: float = 8.0
    #: silent-call ladder: quiet after the greeting (and after its repeat) before the next step.
    silence_timeout_s: float = 5.0
    #: after a "goodbye" the device says itself, this long before it releases the line.
    release_after_s: float = 5.0
    #: after the agent's goodbye, caller silence before "anything else?" and "hanging up".
    closing_silence_s: float = 5.0
    #: a device prompt waits until nobody has spoken for this long.
    min_pause_s: float = 0.8
    #: receive "speech" less than this above the line's noise floor does not hold a prompt
    #: back (on a noisy line the speech detector hears the noise as talk without end).
    pause_margin_db: float = 6.0
    #: receive talk this far under the caller's own level (power mean of their talk so far)
    #: is someone behind the caller: it neither holds a prompt back nor restarts a silence.
    caller_margin_db: float = 20.0
    #: receive "speech" this far under the caller's own level is not judged as the caller's
    #: (background talk in the caller's pauses would read as a quiet caller or a noisy line).
    judge_margin_db: float = 15.0
    #: speech shorter than this does not count as someone speaking (clicks, a cough).
    speech_confirm_s: float = 0.3
    #: after our own phrase ends, the line is not judged for this long (echo, hybrid tail).
    echo_tail_s: float = 0.3
    #: judge the caller's level and noise when no transmit tap is wired. The receive tap also
    #: carries the agent's sidetone, which without the transmit tap cannot be told from a
    #: quiet caller: on such a desk set this false (a recording's receive channel alone, as
    #: ``simulate`` takes it, has no sidetone).
    judge_without_tx: bool = True
    #: caller speech over which the short-term level and speech-to-noise ratio are measured.
    judge_window_s: float = 2.0
    #: the line's noise floor is this percentile of the levels of the 10 ms blocks heard over
    #: the last ``noise_window_s``, pauses and speech alike (our phrases and tones left out).
    noise_window_s: float = 8.0
    noise_percentile: float = 10.0
    #: the floor follows a quieter line at once but a louder one at most this fast.
    noise_rise_db_per_s: float = 0.5
    #: a caller below ``quiet_threshold_dbov - quiet_hysteresis_db`` is quiet, and counts as
    #: fine again only above ``quiet_threshold_dbov``.
    quiet_threshold_dbov: float = -37.0
    quiet_hysteresis_db: float = 3.0
    #: seconds of quiet caller speech (after the window is full) before a prompt.
    quiet_min_speech_s: float = 3.0
    #: "speak louder" prompts before "switch phone" for a quiet caller.
    quiet_louder_count: int = 1
    #: a line whose speech-to-noise ratio is below ``noisy_snr_db - noisy_hysteresis_db`` is
    #: noisy, and counts as fine again only above ``noisy_snr_db``.
    noisy_snr_db: float = 14.0
    noisy_hysteresis_db: float = 3.0
    #: seconds of noisy caller speech (after the window is full) before a prompt.
    noisy_min_speech_s: float = 4.0
    #: "speak louder" prompts before "too noisy, goodbye" on a noisy line.
    noisy_louder_count: int = 0
    #: ask a caller whose line returns the agent's voice with a room's echo (a hands-free
    #: phone) to pick up the handset, once a call. Needs the transmit tap: the cue is the
    #: agent's own voice coming back (see :mod:`deskline.dsp.echo`).
    speakerphone_prompt: bool = True
    #: the dispersive echo must be at least this loud relative to the agent's voice …
    speakerphone_echo_db: float = -30.0
    #: … stand this far out of the estimate's noise (z-score) …
    speakerphone_z: float = 25.0
    #: … rest on at least this much of the agent talking …
    speakerphone_agent_s: float = 5.0
    #: … and hold this long before the prompt waits for its pause …
    speakerphone_confirm_s: float = 4.0
    #: … if the caller's talk so far is under this level: the phrase says "your voice is a
    #: little low" (seed 000 item 3: hands-free *and* hard to hear); a hands-free caller who
    #: comes through loud is not asked (0 asks every hands-free caller).
    speakerphone_level_dbov: float = -26.0
    #: the device never releases the line while the caller speaks, nor until the caller has
    #: been quiet this long (seed 000 items 2, 4, 5, 34: "稍停5秒 … 挂机"), whatever the ladder's
    #: own wait before the release.
    release_quiet_s: float = 5.0
    #: hold with consent (seed 000 item 21: "在得到来访者的同意后按静音键"): after "稍等片刻，好吗？"
    #: the microphone is muted once the caller has answered and paused for
    #: ``hold_answer_pause_s``, or after ``hold_consent_s`` with no answer at all.
    hold_consent_s: float = 2.0
    hold_answer_pause_s: float = 0.8
    #: hold: LED blinks slowly past this, fast (and the agent is told) past the limit; a hold
    #: past the limit ends with the longer apology (seed 001 item 16, "如客户等候超出2分钟").
    hold_warn_s: float = 20.0
    hold_limit_s: float = 120.0
    #: whose wording the ladders speak: "standard" (seed 000) or "gov" (seed 001's
    #: government-hotline variants, :data:`deskline.call.ladder.WORDINGS`).
    wording: str = "standard"
    #: LED pattern while a supervisor call stands (until the call ends; hold and hang-up
    #: patterns show over it); "" shows nothing.
    supervisor_led: str = "supervisor"
    #: the call record counts a dead air when neither side has spoken this long mid-call (not
    #: on hold, not while a phrase of ours plays).
    dead_air_s: float = 10.0
    #: a gentle LED cue (``pace``, ``pace_cue_s`` long) when the agent's own pace, estimated
    #: from the transmit tap over the last ``pace_window_s`` of their speech, runs above this
    #: many syllables (characters) a minute; the standard asks about 120 and the estimate is
    #: good to a quarter (``bench/agent_pace.py``), hence well above it. 0: no cue.
    pace_cue_per_min: float = 0.0
    pace_window_s: float = 30.0
    pace_cue_s: float = 3.0

    @classmethod
    def standard(cls) -> "Profile":
        """The ``standard`` profile: seeds 000 and 003 (5 s pauses)."""
        return cls()

    @classmethod
    def gov(cls) -> "Profile":
        """The ``gov`` profile: seed 001 (3 s / 2 s pauses, "speak louder" twice first)."""
        return replace(
            cls(), name="gov", silence_timeout_s=3.0, release_after_s=2.0,
            closing_silence_s=2.0, quiet_louder_count=2, noisy_louder_count=2, wording="gov",
        )

    def with_values(self, **values) -> "Profile":
        """A copy with some fields changed (unknown names raise ``TypeError``)."""
        return replace(self, **values)


#: Profile field names a config file may set (``name`` comes from the table's name).
PROFILE_KEYS = tuple(f.name for f in fields(Profile) if f.name != "name")

#: The built-in profiles by name.
BUILTIN_PROFILES = {"standard": Profile.standard(), "gov": Profile.gov()}


@dataclass(frozen=True, slots=True)
class DeskIdentity:
    """What the controller needs to know about the desk: names for templates, the relay."""

    hotline_name: str = ""
    hotline_name_en: str = ""
    agent_no: str = ""
    language: str = "zh"
    #: a LINE_RELEASE relay is fitted (the default pin map has one on BCM 24): the device hangs
    #: up itself; otherwise it asks the agent to with the LED.
    line_release: bool = True

    def template_values(self) -> dict[str, str]:
        """Values for templated phrases (greeting, wrong number, job number …)."""
        name = self.hotline_name
        if self.language == "en" and self.hotline_name_en:
            name = self.hotline_name_en
        return {"hotline_name": name, "agent_no": self.agent_no}
