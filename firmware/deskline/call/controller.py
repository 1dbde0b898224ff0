"""The call controller: the service standard (DESIGN §4) as a pure state machine.

Events in (:mod:`deskline.call.events`), actions out, time given: :meth:`Controller.handle`
takes one event and :meth:`Controller.tick` tells it that time has passed; both return the
actions due. It never sleeps, never reads a clock and never touches hardware, so the same
object runs live and in replay.

What the driver must do: send every ``Line`` block (10 ms) of the call, send ``PhraseDone``
when a phrase it was told to play ends or is stopped (ladder timers start at the phrase's end),
and call ``tick`` now and then when no line blocks flow. Actions are stamped with the time of the
event or tick that produced them.

States (``State`` actions): ``idle``, ``ringing``, ``greeting``, ``awaiting_caller`` (silent-call
ladder armed), ``talking``, ``hold_ask``, ``hold``, ``closing`` (after the agent's goodbye),
``releasing`` (a release is due), ``released`` / ``hang_up_requested`` (the device is done and
waits for the on-hook), ``far_end_hangup``.

Behaviour (standard profile; see :mod:`deskline.call.ladder` for the ladders' diagrams)::

    ring ring ring ring  off-hook ▕greeting_late▏   (more than late_after_rings rings)
    off-hook ▕greeting (hotline_name, agent_no)▏ ─▶ silent-call ladder armed
    (the late greeting names the desk too: seed 000 item 1 asks it of every first sentence)
    HOLD ▕hold_ask▏ caller answers, pauses 0.8 s (or 2 s of no answer): mute on, LED on
         ──20 s── LED blink_slow ──120 s── LED blink_fast + note
    HOLD (again)  mute off, LED off ▕hold_resume▏ (past 120 s: ▕hold_resume_long▏)
    SUPERVISOR  alert; LED ``supervisor`` while it stands (to the end of the call)
    busy/congestion tone on the receive tap → note far_end_hangup, LED hang_up
    release → Release (LINE_RELEASE relay fitted) or LED hang_up (ask the agent)

Rules that guard the caller:

- The device never talks over anyone: a device prompt waits until neither side has spoken for
  ``min_pause_s``. Receive "speech" within ``pause_margin_db`` of the line's noise floor does
  not count (on a noisy line the speech detector takes the noise for endless talk, and the
  "too noisy" prompt would never find its pause), nor does talk more than ``caller_margin_db``
  under the caller's own level so far (distant voices behind the caller). The agent's own key phrases play at once
  (the agent chose the moment).
- A playing phrase is never cut by one of lower or equal priority (ladder prompts < the
  greeting < key phrases); a key phrase asked for while another plays waits its turn.
- An agent who speaks for ``speech_confirm_s`` (transmit tap) or presses a key cancels the
  pending ladder step and stops that ladder.
- The caller is judged only on receive speech with no tone on the line, no phrase of ours
  playing (nor ``echo_tail_s`` after it) and, where the transmit tap is wired, the agent quiet
  (the receive tap carries the agent's sidetone), and not on "speech" more than
  ``judge_margin_db`` under the caller's own level so far (voices behind the caller, which the
  speech detector takes for talk in the caller's pauses). Quality verdicts come from
  :class:`deskline.call.judge.CallerJudge` (hysteresis, minimum speech time); a pending quality
  prompt is dropped if the verdict stops holding before the pause comes.
- A caller on a hands-free phone (the transmit tap wired): when the agent's voice comes back
  on the receive tap with a room's echo (:mod:`deskline.dsp.echo`: dispersive echo at least
  ``speakerphone_echo_db``, z-score ``speakerphone_z``, over ``speakerphone_agent_s`` of the
  agent talking, holding for ``speakerphone_confirm_s``) and the caller's talk so far under
  ``speakerphone_level_dbov`` (the phrase says the caller's voice is low), ``pick_up_handset``
  plays once a call, while talking, with no ladder running, in a pause of ``min_pause_s`` of
  both sides and of our own phrases. A cue that stops holding before the pause asks nothing.
- Each device prompt is preceded by a ``Note("prompt", …)`` with the reason and the figures.
- No ladder releases the line while the caller speaks or within ``release_quiet_s`` of the
  caller's last words; a caller who answers the silent ladder's or the closing ladder's
  prompts ends that ladder (``caller_spoke``) and the call goes back to talk.
- Hold asks first: the microphone is muted only after the caller's answer and a pause
  (``hold_answer_pause_s``), or ``hold_consent_s`` with no answer; never while anyone speaks.

Notes for the call record (``Note.kind``: data): ``answered`` (rings, answer_delay_s),
``prompt`` (phrase, reason silent|quiet|noisy|closing|speakerphone, step, and the figures:
silence_s, or caller_level_dbov, snr_db, noise_dbov, judged/quiet/noisy_speech_s and the
thresholds, or caller_silence_s, or agent_s, echo_db, echo_z, echo_delay_s, echo_noise_db and
caller_level_dbov), ``caller_spoke`` (the silent ladder stopped), ``ladder_cancelled`` (ladder,
step, by agent|key), ``prompt_dropped`` (the verdict stopped holding before the pause),
``hold_start``, ``hold_long`` / ``hold_over_limit`` (hold_s), ``hold_end`` (hold_s),
``hold_cancelled``, ``far_end_hangup`` (plan, tone, tone_t_s), ``release`` (ladder, relay),
``flash``, ``unknown_key`` (name), ``ringing_stopped`` (rings), ``call_end`` (duration_s,
device_done), ``release_waits`` (the caller spoke when the release was due: it waits for their
silence), ``hold_start`` carries consent (answer|silence) and wait_s.
"""
from __future__ import annotations

import logging
import math

from deskline.call.events import (
    Action, Alert, Event, Flash, Hook, Key, Led, Line, Mute, Note, PhraseDone, Release, Ring,
    State,
)
from deskline.call.judge import CallerJudge
from deskline.call.ladder import (
    PRIORITY_GREETING, PRIORITY_KEY, PRIORITY_LADDER, RELEASE, Step, closing_steps, noisy_steps,
    quiet_steps, silent_steps, worded,
)
from deskline.call.profile import DeskIdentity, Profile
from deskline.call.speaker import Playing, Speaker
from deskline.dsp.pace import HOP_S as PACE_HOP_S, count_syllables
from deskline.dsp.state import FLOOR_DBOV

log = logging.getLogger(__name__)

#: Tones that mean the far end has hung up.
HANGUP_TONES = ("busy", "congestion")

#: Phrases with hotline-name / agent-number template fields.
_TEMPLATED = ("greeting", "greeting_late")

#: The longer apology after a hold past the profile's limit (seed 001 item 16).
HOLD_RESUME_LONG = "hold_resume_long"

_NEVER = -math.inf


class Controller:
    """Runs one desk's calls: ``handle(event)`` and ``tick(t_s)`` return the actions due."""

    def __init__(self, profile: Profile | None = None, desk: DeskIdentity | None = None):
        self.profile = profile if profile is not None else Profile.standard()
        self.desk = desk if desk is not None else DeskIdentity()
        self._judge = CallerJudge(self.profile)
        self._speaker = Speaker(queue_from=PRIORITY_KEY)
        self._state = "idle"
        self._now = 0.0
        self._rings = 0
        self._first_ring_t = _NEVER
        self._last_ring_t = _NEVER
        self._last_line_t: float | None = None
        self._reset_call()

    # --- public ------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """The controller's state name (as in the ``State`` actions)."""
        return self._state

    @property
    def playing(self) -> str | None:
        """The phrase the controller believes is playing."""
        playing = self._speaker.playing
        return playing.phrase if playing else None

    def handle(self, event: Event) -> list[Action]:
        """Take one event; return the actions it (and the time passed) calls for."""
        t = max(self._now, event.t_s)
        out = self._advance(t)
        if isinstance(event, Line):
            out += self._on_line(event, t)
        elif isinstance(event, PhraseDone):
            out += self._on_phrase_done(event.phrase, t, event.cut)
        elif isinstance(event, Key):
            out += self._on_key(event.name, t)
        elif isinstance(event, Hook):
            out += self._on_hook(event.off_hook, t, event.t_s, event.resumed)
        elif isinstance(event, Ring):
            out += self._on_ring(t)
        elif isinstance(event, Flash):
            if self._off_hook:
                out.append(Note(t, "flash"))
        else:
            raise TypeError(f"not a controller event: {event!r}")
        out += self._advance(t)
        return out

    def tick(self, t_s: float) -> list[Action]:
        """Time has reached ``t_s``: return the actions that became due."""
        return self._advance(max(self._now, t_s))

    def next_due_s(self) -> float | None:
        """When a :meth:`tick` may next act if no event comes first (None: only after an event).

        A driver that sleeps between events wakes then, so a timer (a ladder step, the hold
        warnings, the end of ringing) fires on time. The time may have passed already: a step
        that waits for a pause in the talk, or for a phrase to end, is moved by those events.
        """
        p = self.profile
        if not self._off_hook:
            return self._last_ring_t + p.ring_reset_s if self._state == "ringing" else None
        if self._ended:
            return None
        due = []
        if self._hold_asked_t is not None:
            due.append(self._consent_due())
        if self._pace_cue_until is not None:
            due.append(self._pace_cue_until)
        if self._hands_free_figures is not None:
            due.append(self._now)       # the hands-free prompt waits for a pause in the talk
        if self._state == "hold":
            if self._led == "on":
                due.append(self._hold_t + p.hold_warn_s)
            if self._led != "blink_fast":
                due.append(self._hold_t + p.hold_limit_s)
        st = self._step
        if st is not None:
            base = max(st.base_t_s, self._caller_last_t) if st.silence_restarts else st.base_t_s
            at = base + st.wait_s
            if st.action == RELEASE:
                at = max(at, self._caller_last_t + p.release_quiet_s)
            due.append(at)
        return min(due) if due else None

    # --- call lifecycle ----------------------------------------------------------------------

    def _reset_call(self) -> None:
        self._off_hook = False
        self._answer_t = 0.0
        self._ended = False
        self._speaker.reset()
        self._step: Step | None = None
        self._stage = {"quiet": 0, "noisy": 0}
        self._quality_ladder: str | None = None
        self._verdict_figures: dict = {}
        self._caller_run_s = 0.0
        self._caller_audible_run_s = 0.0
        self._caller_last_t = _NEVER
        self._caller_power_s = 0.0   # sum of power x seconds of the caller's audible talk
        self._caller_talk_s = 0.0
        self._agent_run_s = 0.0
        self._agent_last_t = _NEVER
        self._speech_last_t = _NEVER
        self._tx_wired = False
        self._muted = False
        self._led = "off"
        self._hold_t = 0.0
        self._supervisor_presses = 0
        self._supervisor_standing = False
        self._hold_asked_t: float | None = None   # hold_ask ended: waiting for the consent
        self._pace_run: list[float] = []          # the agent's current stretch: hop levels
        self._pace_stretches: list[tuple[int, float]] = []   # (syllables, seconds), newest last
        self._pace_cue_until: float | None = None
        self._pace_cued_t = _NEVER
        self._release_waited = False
        self._hands_free_since: float | None = None
        self._hands_free_figures: dict | None = None   # set: the prompt waits for its pause
        self._hands_free_asked = False
        self._phrase_end_t = _NEVER
        self._judge.reset(line=True)

    def _set_state(self, name: str, t: float, out: list) -> None:
        if name != self._state:
            self._state = name
            out.append(State(t, name))

    def _on_ring(self, t: float) -> list[Action]:
        out: list[Action] = []
        if self._off_hook:
            return out
        if t - self._last_ring_t > self.profile.ring_reset_s:
            self._rings = 0
            self._first_ring_t = t
        self._rings += 1
        self._last_ring_t = t
        self._set_state("ringing", t, out)
        return out

    def _on_hook(self, off_hook: bool, t: float, edge_t: float,
                 resumed: bool = False) -> list[Action]:
        """The handset changed at ``edge_t``; the desk acts on it at ``t`` (once settled)."""
        out: list[Action] = []
        if off_hook == self._off_hook:
            return out
        if off_hook and resumed:
            # the desk (re)started with the handset lifted: a call already under way, whose
            # greeting (if any) was said before; follow it from here, as talking
            self._reset_call()
            self._off_hook = True
            self._answer_t = t
            self._rings = 0
            out.append(Note(t, "answered", {"rings": 0, "resumed": True}))
            self._set_state("talking", t, out)
            return out
        if off_hook:
            rings = self._rings if t - self._last_ring_t <= self.profile.ring_reset_s else 0
            self._reset_call()
            self._off_hook = True
            self._answer_t = t
            self._rings = 0
            data = {"rings": rings}
            if rings:
                data["answer_delay_s"] = round(edge_t - self._first_ring_t, 2)
            out.append(Note(t, "answered", data))
            if rings or self.profile.greet_without_ring:
                late = rings > self.profile.late_after_rings
                phrase = "greeting_late" if late else "greeting"
                self._set_state("greeting", t, out)
                reason = f"answered after {rings} rings" if late else "answered"
                out += self._play(t, phrase, PRIORITY_GREETING, ("greeting",), reason)
            else:
                self._set_state("talking", t, out)
            return out
        # on-hook: the call is over whatever was going on
        out += self._speaker.stop(t)
        if self._muted:
            out.append(Mute(t, False))
        if self._led != "off":
            out.append(Led(t, "off"))
        out.append(Note(t, "call_end", {"duration_s": round(t - self._answer_t, 2),
                                        "device_done": self._ended}))
        self._reset_call()
        self._set_state("idle", t, out)
        return out

    # --- playback ----------------------------------------------------------------------------

    def _values(self, phrase: str, tag: tuple) -> dict:
        if phrase in _TEMPLATED or tag[:1] == ("pad",):
            return self.desk.template_values()
        return {}

    def _play(self, t: float, phrase: str, priority: int, tag: tuple, reason: str) -> list[Action]:
        return self._speaker.request(t, phrase, priority, tag, reason, self._values(phrase, tag))

    def _on_phrase_done(self, phrase: str, t: float, cut: bool) -> list[Action]:
        out: list[Action] = []
        done = self._speaker.done(phrase, t, cut)
        if done is None or self._ended:
            return out
        self._phrase_end_t = t   # a prompt of ours does not follow another without a pause
        out += self._after_phrase(done, t)
        req, acts = self._speaker.start_next(t)
        if req is not None and req.tag[:1] == ("hold_ask",):
            self._set_state("hold_ask", t, out)
        return out + acts

    def _after_phrase(self, done: Playing, t: float) -> list[Action]:
        out: list[Action] = []
        kind = done.tag[0]
        p = self.profile
        if kind == "greeting":
            self._step = Step("silent", 0, silent_steps(p)[0], t, p.silence_timeout_s,
                              cancel_on_caller=True)
            self._set_state("awaiting_caller", t, out)
        elif kind == "ladder":
            ladder, stage = done.tag[1], done.tag[2]
            out += self._next_ladder_step(ladder, stage, t)
        elif kind == "goodbye":
            self._step = Step("closing", 0, closing_steps(p)[0], t, p.closing_silence_s,
                              silence_restarts=True)
            self._set_state("closing", t, out)
        elif kind == "hold_ask":
            self._hold_asked_t = t   # the question is out: mute once the caller has answered
        return out

    def _next_ladder_step(self, ladder: str, stage: int, t: float) -> list[Action]:
        out: list[Action] = []
        p = self.profile
        steps = {"silent": silent_steps, "quiet": quiet_steps, "noisy": noisy_steps,
                 "closing": closing_steps}[ladder](p)
        nxt = stage + 1
        if nxt >= len(steps):
            # a caller who answers the silent or closing ladder's last words is not released
            self._step = Step(ladder, nxt, RELEASE, t, p.release_after_s, needs_pause=False,
                              cancel_on_caller=ladder in ("silent", "closing"))
            self._release_waited = False
            self._set_state("releasing", t, out)
        elif ladder == "silent":
            self._step = Step(ladder, nxt, steps[nxt], t, p.silence_timeout_s,
                              cancel_on_caller=True)
        elif ladder == "closing":
            # the caller was asked "anything else?": an answer ends the ladder
            self._step = Step(ladder, nxt, steps[nxt], t, p.closing_silence_s,
                              silence_restarts=True, cancel_on_caller=True)
        else:
            # quality ladders: the caller gets a fresh hearing before the next step
            self._stage[ladder] = nxt
            self._judge.reset()
        return out

    def _led_to(self, pattern: str, t: float) -> Led:
        self._led = pattern
        return Led(t, pattern)

    def _resting_led(self) -> str:
        """The LED when nothing else is shown: the supervisor call while it stands, else off."""
        if self._supervisor_standing and self.profile.supervisor_led:
            return self.profile.supervisor_led
        return "off"

    # --- keys --------------------------------------------------------------------------------

    def _on_key(self, name: str, t: float) -> list[Action]:
        out: list[Action] = []
        if name == "supervisor":
            self._supervisor_presses += 1
            if self._supervisor_presses == 1 or not self._off_hook or self._ended:
                out.append(Alert(t, "supervisor"))
                if self._off_hook and not self._supervisor_standing:
                    self._supervisor_standing = True
                    if self._led == "off" and self._resting_led() != "off":
                        out.append(self._led_to(self._resting_led(), t))
                return out
            out += self._play(t, "not_in_scope", PRIORITY_KEY, ("key",), "key:supervisor")
            return out
        if not self._off_hook or self._ended:
            return out
        out += self._cancel_step(t, "key")
        if self._hold_asked_t is not None and name != "hold":
            self._hold_asked_t = None   # another key before the mute: the agent went on
            out.append(Note(t, "hold_cancelled", {"by": "key", "name": name}))
            self._set_state("talking", t, out)
        if self._state == "hold" and name != "hold":
            out += self._end_hold(t)  # any other key brings the caller back first
            self._set_state("talking", t, out)
        if name == "hold":
            out += self._hold_key(t)
        elif name == "greet":
            out += self._play(t, "greeting", PRIORITY_KEY, ("key",), "key:greet")
        elif name == "louder":
            out += self._play(t, "can_you_hear_me", PRIORITY_KEY, ("key",), "key:louder")
        elif name == "anything_else":
            out += self._play(t, worded(self.profile, "anything_else"), PRIORITY_KEY, ("key",),
                              "key:anything_else")
        elif name == "goodbye":
            out += self._play(t, worded(self.profile, "goodbye"), PRIORITY_KEY, ("goodbye",),
                              "key:goodbye")
        elif name.startswith("phrase:") and name[len("phrase:"):]:
            phrase, values = parse_pad_key(name)
            out += self._speaker.request(t, phrase, PRIORITY_KEY, ("pad",), "key:phrase",
                                         {**self.desk.template_values(), **values})
        else:
            out.append(Note(t, "unknown_key", {"name": name}))
        if self._state in ("greeting", "awaiting_caller", "closing", "releasing"):
            self._set_state("talking", t, out)
        return out

    def _hold_key(self, t: float) -> list[Action]:
        out: list[Action] = []
        if self._state == "hold":
            long_hold = t - self._hold_t >= self.profile.hold_limit_s - 1e-9
            out += self._end_hold(t)
            self._set_state("talking", t, out)
            phrase = HOLD_RESUME_LONG if long_hold else worded(self.profile, "hold_resume")
            out += self._play(t, phrase, PRIORITY_KEY, ("key",), "key:hold")
            return out
        if self._hold_asked_t is not None:
            # a second press before the mute takes the request back
            self._hold_asked_t = None
            out.append(Note(t, "hold_cancelled"))
            self._set_state("talking", t, out)
            return out
        sp = self._speaker
        asking = sp.drop(lambda r: r.tag[:1] == ("hold_ask",))
        if asking or (sp.playing and sp.playing.tag[:1] == ("hold_ask",)):
            # a second press before the caller was put on hold takes the request back
            if sp.playing and sp.playing.tag[:1] == ("hold_ask",):
                out += sp.stop(t)
            out.append(Note(t, "hold_cancelled"))
            self._set_state("talking", t, out)
            return out
        if sp.playing is None or PRIORITY_KEY > sp.playing.priority:
            self._set_state("hold_ask", t, out)
        out += self._play(t, "hold_ask", PRIORITY_KEY, ("hold_ask",), "key:hold")
        return out

    def _end_hold(self, t: float) -> list[Action]:
        self._muted = False
        return [Mute(t, False), self._led_to(self._resting_led(), t),
                Note(t, "hold_end", {"hold_s": round(t - self._hold_t, 2)})]

    def _agent_pace(self, speaking: bool, level_dbov: float, t: float) -> list[Action]:
        """The agent's pace over their last ``pace_window_s`` of speech; the ``pace`` cue when it
        runs above ``pace_cue_per_min`` (at most once a window, and only over a resting LED)."""
        p = self.profile
        if speaking:
            self._pace_run.append(level_dbov)
            return []
        if not self._pace_run:
            return []
        run, self._pace_run = self._pace_run, []
        self._pace_stretches.append((count_syllables(run), len(run) * PACE_HOP_S))
        talk = sum(s for _, s in self._pace_stretches)
        while self._pace_stretches and talk - self._pace_stretches[0][1] >= p.pace_window_s:
            talk -= self._pace_stretches.pop(0)[1]
        if talk < p.pace_window_s - 1e-9:
            return []
        rate = 60.0 * sum(n for n, _ in self._pace_stretches) / talk
        if rate <= p.pace_cue_per_min or t - self._pace_cued_t < p.pace_window_s:
            return []
        out: list[Action] = [Note(t, "agent_pace_high", {"per_min": round(rate, 1),
                                                          "over_s": round(talk, 1)})]
        self._pace_cued_t = t
        if self._led == self._resting_led():
            out.append(self._led_to("pace", t))
            self._pace_cue_until = t + p.pace_cue_s
        return out

    def _consent_due(self) -> float:
        """When the caller, asked to hold, has consented: an answer and a pause, or silence."""
        p = self.profile
        asked = self._hold_asked_t
        answered = self._caller_last_t > asked
        return max(asked if answered else asked + p.hold_consent_s,
                   self._speech_last_t + p.hold_answer_pause_s)

    def _hold_consented(self, t: float) -> list[Action]:
        out: list[Action] = []
        asked = self._hold_asked_t
        if asked is None or t < self._consent_due() - 1e-9 or self._speaker.playing is not None:
            return out
        answered = self._caller_last_t > asked
        self._hold_asked_t = None
        self._muted = True
        self._hold_t = t
        out += [Mute(t, True), self._led_to("on", t),
                Note(t, "hold_start", {"consent": "answer" if answered else "silence",
                                       "wait_s": round(t - asked, 2)})]
        self._set_state("hold", t, out)
        return out

    def _cancel_step(self, t: float, by: str) -> list[Action]:
        out: list[Action] = []
        st = self._step
        if st is None:
            return out
        self._step = None
        out.append(Note(t, "ladder_cancelled", {"ladder": st.ladder, "step": st.action,
                                                "by": by}))
        if st.ladder in ("quiet", "noisy"):
            self._judge.reset()
        return out

    # --- the line ----------------------------------------------------------------------------

    def _on_line(self, ev: Line, t: float) -> list[Action]:
        out: list[Action] = []
        prev = self._last_line_t
        self._last_line_t = ev.t_s
        if not self._off_hook or self._ended:
            return out
        dt = 0.01 if prev is None else min(max(ev.t_s - prev, 0.0), 0.05)
        p = self.profile
        rx, tx = ev.rx, ev.tx
        self._tx_wired = tx is not None

        if rx.tone is not None and rx.tone.kind in HANGUP_TONES:
            return self._far_end_hangup(rx, t)

        ours = self._speaker.ours(t, p.echo_tail_s)
        agent_now = tx is not None and tx.speech and tx.tone is None and not ours
        if agent_now:
            self._agent_last_t = t
            self._speech_last_t = t
            self._agent_run_s += dt
            if self._agent_run_s >= p.speech_confirm_s - 1e-9 and self._step is not None:
                out += self._cancel_step(t, "agent")
                if self._state in ("awaiting_caller", "closing", "releasing"):
                    self._set_state("talking", t, out)
        else:
            self._agent_run_s = 0.0
        agent_recent = tx is not None and (agent_now or t - self._agent_last_t < p.echo_tail_s)

        rx_speech = rx.speech and rx.tone is None and not ours
        audible = False
        if rx_speech:
            floor = self._judge.noise_dbov
            audible = floor <= FLOOR_DBOV + 1.0 or rx.level_dbov >= floor + p.pause_margin_db
            # far under the caller's own level it is someone in the background, not the caller
            audible = audible and rx.level_dbov >= self._caller_level() - p.caller_margin_db
            if audible:
                self._speech_last_t = t  # talk that stands out of the line's noise
        caller_now = rx_speech and not agent_recent
        if caller_now:
            if audible:
                self._caller_last_t = t  # restarts the closing ladder's silence
                self._caller_power_s += dt * 10.0 ** (rx.level_dbov / 10.0)
                self._caller_talk_s += dt
                self._caller_audible_run_s += dt
            else:
                self._caller_audible_run_s = 0.0
            self._caller_run_s += dt
            if self._caller_run_s >= p.speech_confirm_s - 1e-9:
                out += self._caller_spoke(
                    t, self._caller_audible_run_s >= p.speech_confirm_s - 1e-9)
        else:
            self._caller_run_s = 0.0
            self._caller_audible_run_s = 0.0

        if tx is not None and p.pace_cue_per_min > 0:
            # on hold the agent speaks to the room, not to the caller
            out += self._agent_pace(agent_now and self._state != "hold", tx.level_dbov, t)
        self._hands_free_cue(ev.echo, t)
        if rx.tone is None and not ours:
            self._judge.observe(rx)
        if rx.tone is not None and self._state == "talking":
            self._judge.reset()  # a tone is never caller speech; start the hearing over
        elif caller_now and self._state == "talking" and self._quality_open() \
                and (tx is not None or p.judge_without_tx) \
                and rx.level_dbov >= self._caller_level() - p.judge_margin_db:
            verdict = self._judge.feed(dt, rx)
            if verdict is not None:
                out += self._quality_verdict(verdict.kind, verdict.figures, t)
        return out

    def _hands_free_cue(self, echo, t: float) -> None:
        """Follow the hands-free cue; once it has held long enough the prompt is due."""
        p = self.profile
        if not p.speakerphone_prompt or self._hands_free_asked:
            return
        if echo is None or not (echo.agent_s >= p.speakerphone_agent_s - 1e-9
                                and echo.z >= p.speakerphone_z
                                and echo.echo_db >= p.speakerphone_echo_db):
            self._hands_free_since = None
            self._hands_free_figures = None  # a cue that stopped holding asks for nothing
            return
        if self._hands_free_since is None:
            self._hands_free_since = t
        if t - self._hands_free_since >= p.speakerphone_confirm_s - 1e-9:
            self._hands_free_figures = echo.to_json()

    def _hands_free_prompt(self, t: float) -> list[Action]:
        """``pick_up_handset`` in a pause of the conversation, once a call."""
        p = self.profile
        level = self._caller_level()
        if (self._hands_free_figures is None or self._state != "talking" or self._step is not None
                or self._quality_ladder is not None or self._speaker.playing is not None
                or not self._paused(t) or t - self._phrase_end_t < p.min_pause_s - 1e-9
                or level <= FLOOR_DBOV or level >= p.speakerphone_level_dbov):
            return []
        data = {"phrase": "pick_up_handset", "reason": "speakerphone", "step": 1,
                **self._hands_free_figures, "caller_level_dbov": round(level, 1)}
        self._hands_free_figures = None
        self._hands_free_asked = True
        return [Note(t, "prompt", data)] + self._play(
            t, "pick_up_handset", PRIORITY_LADDER, ("speakerphone",), "speakerphone")

    def _caller_level(self) -> float:
        """Power mean of the caller's audible talk so far (FLOOR_DBOV before 1 s of it)."""
        if self._caller_talk_s < 1.0 or self._caller_power_s <= 0.0:
            return FLOOR_DBOV
        return 10.0 * math.log10(self._caller_power_s / self._caller_talk_s)

    def _quality_open(self) -> bool:
        st = self._step
        return st is None or st.ladder in ("quiet", "noisy")

    def _caller_spoke(self, t: float, audible: bool) -> list[Action]:
        """The caller has spoken ``speech_confirm_s`` (``audible``: out of the line's noise and
        not far under their own level — the answer that ends the closing ladder or stops a
        release must be the caller's, not noise the speech detector takes for talk)."""
        out: list[Action] = []
        st = self._step
        strict = st is not None and (st.ladder == "closing" or st.action == RELEASE)
        if st is not None and st.cancel_on_caller and (audible or not strict):
            self._step = None
            out.append(Note(t, "caller_spoke", {"ladder": st.ladder, "step": st.action}))
            if self._state in ("closing", "releasing"):
                self._set_state("talking", t, out)
        if self._state == "awaiting_caller":
            self._set_state("talking", t, out)
        return out

    def _quality_verdict(self, kind: str, figures: dict, t: float) -> list[Action]:
        out: list[Action] = []
        if self._quality_ladder not in (None, kind) or self._step is not None:
            return out
        steps = quiet_steps(self.profile) if kind == "quiet" else noisy_steps(self.profile)
        stage = self._stage[kind]
        if stage >= len(steps):
            return out
        self._verdict_figures = figures
        self._step = Step(kind, stage, steps[stage], t, 0.0)
        return out

    def _far_end_hangup(self, rx, t: float) -> list[Action]:
        out: list[Action] = []
        out += self._speaker.stop(t)
        self._speaker.queue.clear()
        if self._muted:
            self._muted = False
            out.append(Mute(t, False))
        self._step = None
        self._ended = True
        out.append(Note(t, "far_end_hangup", {"plan": rx.tone.plan, "tone": rx.tone.kind,
                                              "tone_t_s": round(rx.tone.t_s, 2)}))
        out.append(self._led_to("hang_up", t))
        self._set_state("far_end_hangup", t, out)
        return out

    # --- time --------------------------------------------------------------------------------

    def _paused(self, t: float) -> bool:
        return t - self._speech_last_t >= self.profile.min_pause_s - 1e-9

    def _advance(self, t: float) -> list[Action]:
        self._now = t
        out: list[Action] = []
        p = self.profile
        if not self._off_hook:
            if self._state == "ringing" and t - self._last_ring_t > p.ring_reset_s:
                out.append(Note(t, "ringing_stopped", {"rings": self._rings}))
                self._rings = 0
                self._set_state("idle", t, out)
            return out
        if self._ended:
            return out
        if self._state == "hold":
            held = t - self._hold_t
            if held >= p.hold_limit_s and self._led != "blink_fast":
                out += [self._led_to("blink_fast", t),
                        Note(t, "hold_over_limit", {"hold_s": round(held, 2),
                                                    "limit_s": p.hold_limit_s})]
            elif p.hold_warn_s <= held < p.hold_limit_s and self._led == "on":
                out += [self._led_to("blink_slow", t),
                        Note(t, "hold_long", {"hold_s": round(held, 2),
                                              "warn_s": p.hold_warn_s})]
        out += self._hold_consented(t)
        if self._pace_cue_until is not None and t >= self._pace_cue_until - 1e-9:
            self._pace_cue_until = None
            if self._led == "pace":
                out.append(self._led_to(self._resting_led(), t))
        out += self._hands_free_prompt(t)
        st = self._step
        if st is None:
            return out
        if st.ladder in ("quiet", "noisy") and st.action != RELEASE:
            still = self._judge.quiet if st.ladder == "quiet" else self._judge.noisy
            if not still:
                self._step = None
                out.append(Note(t, "prompt_dropped", {"ladder": st.ladder, "step": st.action,
                                                      "why": "verdict no longer holds"}))
                return out
        base = st.base_t_s
        if st.silence_restarts:
            base = max(base, self._caller_last_t)
        if t < base + st.wait_s - 1e-9:
            return out
        if st.action == RELEASE:
            quiet_s = t - self._caller_last_t
            if quiet_s < p.release_quiet_s - 1e-9:
                if not self._release_waited:
                    self._release_waited = True
                    out.append(Note(t, "release_waits", {
                        "ladder": st.ladder, "caller_quiet_s": round(quiet_s, 2),
                        "release_quiet_s": p.release_quiet_s}))
                return out
            return out + self._release(st, t)
        if self._speaker.playing is not None or (st.needs_pause and not self._paused(t)):
            return out
        self._step = None
        data = {"phrase": st.action, "reason": st.ladder, "step": st.stage + 1}
        if st.ladder in ("quiet", "noisy"):
            data.update(self._judge.figures())
            self._quality_ladder = st.ladder
        elif st.ladder == "silent":
            data["silence_s"] = round(t - st.base_t_s, 2)
        else:
            data["caller_silence_s"] = round(t - base, 2)
        out.append(Note(t, "prompt", data))
        out += self._play(t, st.action, PRIORITY_LADDER, ("ladder", st.ladder, st.stage),
                          st.ladder)
        return out

    def _release(self, st: Step, t: float) -> list[Action]:
        """Release the line (the caller has been quiet for ``release_quiet_s``)."""
        out: list[Action] = []
        self._step = None
        self._ended = True
        relay = self.desk.line_release
        out.append(Note(t, "release", {"ladder": st.ladder, "relay": relay}))
        if relay:
            out.append(Release(t))
            self._set_state("released", t, out)
        else:
            out.append(self._led_to("hang_up", t))
            self._set_state("hang_up_requested", t, out)
        return out


def parse_pad_key(name: str) -> tuple[str, dict[str, str]]:
    """``"phrase:<id>"`` or ``"phrase:<id>?field=value&…"`` -> (phrase id, values).

    The keypad's key map gives a key its phrase and the values of its template fields (the
    title 先生/女士, a complaint's 5 or 15 days, the hotline a wrong number meant); they ride in
    the key's name so every input (GPIO pad, USB keypad, the fake desk) reaches the controller
    the same way.
    """
    body = name[len("phrase:"):]
    phrase, _, query = body.partition("?")
    values: dict[str, str] = {}
    for part in query.split("&") if query else ():
        field, _, value = part.partition("=")
        if field:
            values[field] = value
    return phrase, values
