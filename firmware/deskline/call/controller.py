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
    HOLD ▕hold_ask▏ mute on, LED on ──20 s── LED blink_slow ──120 s── LED blink_fast + note
    HOLD (again)  mute off, LED off ▕hold_resume▏
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

Notes for the call record (``Note.kind``: data): ``answered`` (rings, answer_delay_s),
``prompt`` (phrase, reason silent|quiet|noisy|closing|speakerphone, step, and the figures:
silence_s, or caller_level_dbov, snr_db, noise_dbov, judged/quiet/noisy_speech_s and the
thresholds, or caller_silence_s, or agent_s, echo_db, echo_z, echo_delay_s, echo_noise_db and
caller_level_dbov), ``caller_spoke`` (the silent ladder stopped), ``ladder_cancelled`` (ladder,
step, by agent|key), ``prompt_dropped`` (the verdict stopped holding before the pause),
``hold_start``, ``hold_long`` / ``hold_over_limit`` (hold_s), ``hold_end`` (hold_s),
``hold_cancelled``, ``far_end_hangup`` (plan, tone, tone_t_s), ``release`` (ladder, relay),
``flash``, ``unknown_key`` (name), ``ringing_stopped`` (rings), ``call_end`` (duration_s,
device_done).
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
    quiet_steps, silent_steps,
)
from deskline.call.profile import DeskIdentity, Profile
from deskline.call.speaker import Playing, Speaker
from deskline.dsp.state import FLOOR_DBOV

log = logging.getLogger(__name__)

#: Tones that mean the far end has hung up.
HANGUP_TONES = ("busy", "congestion")

#: Phrases with hotline-name / agent-number template fields.
_TEMPLATED = ("greeting", "greeting_late")

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
            out += self._on_hook(event.off_hook, t, event.resumed)
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
        if self._state == "hold":
            if self._led == "on":
                due.append(self._hold_t + p.hold_warn_s)
            if self._led != "blink_fast":
                due.append(self._hold_t + p.hold_limit_s)
        st = self._step
        if st is not None:
            base = max(st.base_t_s, self._caller_last_t) if st.silence_restarts else st.base_t_s
            due.append(base + st.wait_s)
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

    def _on_hook(self, off_hook: bool, t: float, resumed: bool = False) -> list[Action]:
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
                data["answer_delay_s"] = round(t - self._first_ring_t, 2)
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
            self._muted = True
            self._hold_t = t
            out += [Mute(t, True), self._led_to("on", t), Note(t, "hold_start")]
            self._set_state("hold", t, out)
        return out

    def _next_ladder_step(self, ladder: str, stage: int, t: float) -> list[Action]:
        out: list[Action] = []
        p = self.profile
        steps = {"silent": silent_steps, "quiet": quiet_steps, "noisy": noisy_steps,
                 "closing": closing_steps}[ladder](p)
        nxt = stage + 1
        if nxt >= len(steps):
            self._step = Step(ladder, nxt, RELEASE, t, p.release_after_s, needs_pause=False)
            self._set_state("releasing", t, out)
        elif ladder == "silent":
            self._step = Step(ladder, nxt, steps[nxt], t, p.silence_timeout_s,
                              cancel_on_caller=True)
        elif ladder == "closing":
            self._step = Step(ladder, nxt, steps[nxt], t, p.closing_silence_s,
                              silence_restarts=True)
        else:
            # quality ladders: the caller gets a fresh hearing before the next step
            self._stage[ladder] = nxt
            self._judge.reset()
        return out

    def _led_to(self, pattern: str, t: float) -> Led:
        self._led = pattern
        return Led(t, pattern)

    # --- keys --------------------------------------------------------------------------------

    def _on_key(self, name: str, t: float) -> list[Action]:
        out: list[Action] = []
        if name == "supervisor":
            self._supervisor_presses += 1
            if self._supervisor_presses == 1 or not self._off_hook or self._ended:
                out.append(Alert(t, "supervisor"))
                return out
            out += self._play(t, "not_in_scope", PRIORITY_KEY, ("key",), "key:supervisor")
            return out
        if not self._off_hook or self._ended:
            return out
        out += self._cancel_step(t, "key")
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
            out += self._play(t, "anything_else", PRIORITY_KEY, ("key",), "key:anything_else")
        elif name == "goodbye":
            out += self._play(t, "goodbye", PRIORITY_KEY, ("goodbye",), "key:goodbye")
        elif name.startswith("phrase:") and name[len("phrase:"):]:
            phrase = name[len("phrase:"):]
            out += self._play(t, phrase, PRIORITY_KEY, ("pad",), "key:phrase")
        else:
            out.append(Note(t, "unknown_key", {"name": name}))
        if self._state in ("greeting", "awaiting_caller", "closing", "releasing"):
            self._set_state("talking", t, out)
        return out

    def _hold_key(self, t: float) -> list[Action]:
        out: list[Action] = []
        if self._state == "hold":
            out += self._end_hold(t)
            self._set_state("talking", t, out)
            out += self._play(t, "hold_resume", PRIORITY_KEY, ("key",), "key:hold")
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
        return [Mute(t, False), self._led_to("off", t),
                Note(t, "hold_end", {"hold_s": round(t - self._hold_t, 2)})]

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
            self._caller_run_s += dt
            if self._caller_run_s >= p.speech_confirm_s - 1e-9:
                out += self._caller_spoke(t)
        else:
            self._caller_run_s = 0.0

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

    def _caller_spoke(self, t: float) -> list[Action]:
        out: list[Action] = []
        st = self._step
        if st is not None and st.cancel_on_caller:
            self._step = None
            out.append(Note(t, "caller_spoke", {"ladder": st.ladder, "step": st.action}))
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
