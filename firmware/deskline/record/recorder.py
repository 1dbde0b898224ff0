"""The call recorder: turns the controller's events and actions into the call record.

The live service and ``deskline simulate`` both feed one :class:`CallRecorder`; it writes
through a :class:`deskline.record.journal.Journal` as things happen.
"""
from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Callable

from deskline.call.ladder import WORDINGS
from deskline.dsp.grid import HOP_S
from deskline.dsp.pace import PaceCounter
from deskline.dsp.state import FLOOR_DBOV
from deskline.engine import BaseSink

if TYPE_CHECKING:
    from deskline.record.journal import Journal

log = logging.getLogger(__name__)


def _r(x: float | None, nd: int = 2) -> float | None:
    return None if x is None else round(float(x), nd)

#: a phrase of ours is still on the line this long after its end (its echo): not the agent
_PHRASE_TAIL_S = 0.3
#: the caller has been speaking this long when the agent starts: a talk-over
_TALK_OVER_CALLER_S = 0.3

_FLAG_BY_PHRASE = {
    "greeting_repeat": "silent", "no_sound_goodbye": "silent",
    "switch_phone_quiet": "quiet", "too_noisy_goodbye": "noisy",
}


#: a wording's phrase -> the standard phrase it stands for (``gov``'s "对不起，听不到您的声音…"
#: is the silent ladder's goodbye all the same)
_STANDARD_OF = {worded: std for words in WORDINGS.values() for std, worded in words.items()}


def _prompt_flag(phrase: str, reason: str) -> str | None:
    phrase = _STANDARD_OF.get(phrase, phrase)
    if phrase in _FLAG_BY_PHRASE:
        return _FLAG_BY_PHRASE[phrase]
    if phrase == "speak_louder":
        return "noisy" if "nois" in reason or "snr" in reason else "quiet"
    return None


class CallRecorder(BaseSink):
    """Writes the call record from what goes into and comes out of the controller.

    Feed it every event the controller handles (:meth:`on_event`, before the controller's
    actions for it) and every batch of actions (:meth:`on_actions`); call :meth:`finish` when
    the recording or the service ends. A call opens on its first ring or off-hook and ends on
    the agent's on-hook or the device's release. Without a line-release relay the device asks
    the agent to hang up (LED ``hang_up``); the on-hook that follows is recorded as the
    device's release, carried out by the agent.
    """

    def __init__(self, journal: Journal, *, source: str = "live", profile: str = "",
                 agent_no: str = "", dead_air_s: float = 10.0, checkpoint_s: float = 5.0,
                 on_close: Callable[[int], None] | None = None):
        """``on_close(call_id)`` is called (on the recorder's thread) once a call's record is
        complete in the journal, e.g. to hand it to the floor."""
        self.journal = journal
        self.on_close = on_close
        self.source = source
        self.profile = profile
        self.agent_no = agent_no
        self.dead_air_s = dead_air_s
        self.checkpoint_s = checkpoint_s
        self.call_id: int | None = None
        #: every call this recorder opened, in order
        self.call_ids: list[int] = []
        self._reset_call()

    def _reset_call(self) -> None:
        self._rings = 0
        self._start_t_s = 0.0
        self._answered_t_s: float | None = None
        self._far_end_t_s: float | None = None
        self._on_hold = False
        self._holds: list = []      # (start, end or None) of the call's holds, call clock
        self._pending: list = []    # prompts waiting for the line as it was when they began
        self._hangup_asked = False
        self._speech_hops = 0
        self._line_hops = 0
        self._noise_sum_dbov = 0.0
        self._last_rx = None
        self._caller_level_dbov: float | None = None
        self._next_checkpoint_t_s = 0.0
        self._cause = None
        # the agent's line (transmit tap): pace, talk-overs, dead air
        self._pace = PaceCounter()
        self._sounds: list = []     # (start, end or None) of our phrases, call clock
        self._last_counted_t_s: float | None = None
        self._tx_was_speech = False
        self._rx_run_s = 0.0
        self._talk_overs = 0
        self._quiet_s = 0.0
        self._dead_airs = 0
        self._longest_dead_s = 0.0

    # --- events ------------------------------------------------------------------------

    def _open(self, t_s: float) -> int:
        self._reset_call()
        self._start_t_s = t_s
        self.call_id = self.journal.open_call(t_s, source=self.source, profile=self.profile,
                                              agent_no=self.agent_no)
        self.call_ids.append(self.call_id)
        return self.call_id

    def on_event(self, event) -> None:
        """Record one event going into the controller (Ring, Hook, Flash, Key, Line, PhraseDone)."""
        name = type(event).__name__
        if name == "Line":
            self._line(event)
            return
        self._cause = event
        t_s = event.t_s
        if name == "Ring":
            if self.call_id is None:
                self._open(t_s)
            if self._answered_t_s is None:
                self._rings += 1
                self.journal.update_call(self.call_id, rings=self._rings)
            self.journal.fact(self.call_id, t_s, "ring", {"n": self._rings})
        elif name == "Hook":
            if event.off_hook:
                if self.call_id is None:
                    self._open(t_s)
                if event.resumed:
                    # the service restarted mid-call: the call's start was before this record
                    self.journal.update_call(self.call_id, resumed=1)
                    self.journal.fact(self.call_id, t_s, "hook", {"state": "off", "resumed": True})
                else:
                    self.journal.fact(self.call_id, t_s, "hook", {"state": "off"})
                if self._answered_t_s is None:
                    self._answered_t_s = t_s
                    self._next_checkpoint_t_s = t_s + self.checkpoint_s
                    self.journal.update_call(self.call_id, answered_t_s=t_s,
                                             answer_delay_s=t_s - self._start_t_s)
            elif self.call_id is not None:
                self.journal.fact(self.call_id, t_s, "hook", {"state": "on"})
                if self._far_end_t_s is not None:
                    self._close(t_s, "far_end_hangup", "caller")
                elif self._hangup_asked:
                    # no line-release relay: the device asked, the agent put the handset down
                    self._close(t_s, "device_release", "agent")
                else:
                    self._close(t_s, "agent_hangup", "agent")
        elif self.call_id is not None:
            if name == "Key":
                self.journal.fact(self.call_id, t_s, "key", {"name": event.name})
            elif name == "Flash":
                self.journal.fact(self.call_id, t_s, "flash")
            elif name == "PhraseDone":
                self._sound_ends(t_s)
                data = {"phrase": event.phrase}
                if event.cut:
                    data["cut"] = True
                self.journal.fact(self.call_id, t_s, "phrase_done", data)

    def on_line(self, line) -> None:
        """Record one analysis hop (the caller's speech, level and noise so far)."""
        self._line(line)

    def _line(self, event) -> None:
        rx = event.rx
        if self._answered_t_s is None or self.call_id is None:
            self._last_rx = rx
            return
        # a line state can reach the record after what the desk did next (a live desk hears
        # the line a run at a time): it is counted by its own time, not by when it came
        if self._pending:
            self._settle_prompts(event.t_s)
        self._last_rx = rx
        if not self._held_at(event.t_s):
            self._count(event, rx)

    def _held_at(self, t_s: float) -> bool:
        return any(a <= t_s and (b is None or t_s < b) for a, b in self._holds)

    def _count(self, event, rx) -> None:
        self._caller_level_dbov = rx.active_level_dbov
        self._line_hops += 1
        self._noise_sum_dbov += rx.noise_dbov
        if rx.speech and rx.tone is None and (event.tx is None or not event.tx.speech):
            self._speech_hops += 1
        self._agent_line(event)
        if event.t_s >= self._next_checkpoint_t_s:
            self._next_checkpoint_t_s = event.t_s + self.checkpoint_s
            self._checkpoint(event.t_s)

    def _agent_line(self, event) -> None:
        """The agent's pace, talk-overs and dead air from one hop (not on hold: checked)."""
        rx, tx = event.rx, event.tx
        # by the line's own time: a live desk hears the line a run after it acts
        ours = any(a <= event.t_s and (b is None or event.t_s < b + _PHRASE_TAIL_S)
                   for a, b in self._sounds[-3:])
        prev, self._last_counted_t_s = self._last_counted_t_s, event.t_s
        if prev is not None and event.t_s - prev > 2 * HOP_S + 1e-9:
            self._quiet_s = 0.0        # the hops in between were a hold: no dead air across it
        rx_talk = rx.speech and rx.tone is None and not ours
        tx_talk = tx is not None and tx.speech and tx.tone is None and not ours
        if tx is not None:
            self._pace.hop(tx_talk, tx.level_dbov)
            if tx_talk and not self._tx_was_speech and self._rx_run_s >= _TALK_OVER_CALLER_S:
                self._talk_overs += 1
            self._tx_was_speech = tx_talk
        self._rx_run_s = self._rx_run_s + HOP_S if rx_talk and not tx_talk else (
            self._rx_run_s if rx_talk else 0.0)
        if rx.speech or (tx is not None and tx.speech) or ours:
            self._quiet_s = 0.0
            return
        before = self._quiet_s
        self._quiet_s += HOP_S
        if before < self.dead_air_s - 1e-9 <= self._quiet_s:
            self._dead_airs += 1
        if self._quiet_s >= self.dead_air_s - 1e-9:
            self._longest_dead_s = max(self._longest_dead_s, self._quiet_s)

    def _sound_ends(self, t_s: float) -> None:
        if self._sounds and self._sounds[-1][1] is None:
            self._sounds[-1] = (self._sounds[-1][0], t_s)

    def _agent_figures(self) -> dict:
        self._pace.finish()
        return {"agent_talk_s": round(self._pace.talk_s, 2),
                "agent_syllables": self._pace.syllables, "talk_overs": self._talk_overs,
                "dead_airs": self._dead_airs,
                "longest_dead_air_s": round(self._longest_dead_s, 2)}

    def _caller_figures(self) -> dict:
        speech_s = self._speech_hops * HOP_S
        level = self._caller_level_dbov
        # the caller's P.56 active level over the mean noise floor: robust where per-hop
        # figures are not (a hop of background babble can look like speech)
        snr = None
        if self._speech_hops and self._line_hops and level is not None and level > FLOOR_DBOV:
            snr = level - self._noise_sum_dbov / self._line_hops
        return {"caller_speech_s": round(speech_s, 2), "caller_level_dbov": _r(level),
                "caller_snr_db": _r(snr)}

    def _checkpoint(self, t_s: float) -> None:
        self.journal.update_call(self.call_id, last_t_s=t_s, **self._caller_figures())

    # --- actions -----------------------------------------------------------------------

    def on_actions(self, actions) -> None:
        """Record one batch of controller actions (the answer to one event or tick)."""
        if not actions:
            return
        notes = {a.kind: dict(a.data) for a in actions if type(a).__name__ == "Note"}
        for action in actions:
            if self.call_id is None:
                log.debug("action outside a call: %s", action)
                continue
            name = type(action).__name__
            t_s = action.t_s
            if name == "Play":
                self._sound_ends(t_s)
                self._sounds.append((t_s, None))
                self._play(action, notes)
            elif name == "Mute":
                self.journal.fact(self.call_id, t_s, "mute", {"on": action.on})
                if action.on and not self._on_hold:
                    self._on_hold = True
                    self._holds.append((t_s, None))
                    self.journal.hold_start(self.call_id, t_s)
                elif not action.on and self._on_hold:
                    self._on_hold = False
                    self._holds[-1] = (self._holds[-1][0], t_s)
                    self.journal.hold_end(self.call_id, t_s)
            elif name == "Note":
                self.journal.fact(self.call_id, t_s, action.kind, dict(action.data))
                if action.kind == "far_end_hangup" and self._far_end_t_s is None:
                    self._far_end_t_s = t_s
                    self.journal.update_call(self.call_id, far_end_hangup_t_s=t_s)
                elif action.kind == "ringing_stopped" and self._answered_t_s is None:
                    # the caller gave up before the answer: a call of its own, unanswered,
                    # not the first rings of the next one
                    self._close(t_s, "unanswered", None)
            elif name == "Release":
                self.journal.fact(self.call_id, t_s, "release")
                if self._far_end_t_s is not None:
                    self._close(t_s, "far_end_hangup", "caller")
                else:
                    self._close(t_s, "device_release", "device")
            elif name == "Led":
                self.journal.fact(self.call_id, t_s, "led", {"pattern": action.pattern})
                if action.pattern == "hang_up":
                    self._hangup_asked = True
            elif name == "Alert":
                self.journal.fact(self.call_id, t_s, "alert", {"reason": action.reason})
            elif name == "StopPlayback":
                self._sound_ends(t_s)
                self.journal.fact(self.call_id, t_s, "stop_playback")
            elif name == "State":
                self.journal.fact(self.call_id, t_s, "state", {"name": action.name})

    def _play(self, action, notes: dict) -> None:
        by_key = action.reason.startswith("key:") or (
            type(self._cause).__name__ == "Key" and abs(self._cause.t_s - action.t_s) < 1e-9)
        asked_by = "agent" if by_key else "device"
        measurements = self._measurements(notes)
        prompt_id = self.journal.prompt(self.call_id, action.t_s, action.phrase, action.reason,
                                        asked_by, measurements)
        # a live desk hears the line a run after it acts: the measurements are put right once
        # the line up to the prompt's start has been heard (a replay has it at hand already)
        self._pending.append((action.t_s, prompt_id, notes, measurements))
        self.journal.fact(self.call_id, action.t_s, "play", {"phrase": action.phrase})
        flag = _prompt_flag(action.phrase, action.reason) if asked_by == "device" else None
        if flag:
            self.journal.update_call(self.call_id, **{flag: 1})
        if action.phrase == "greeting_late":
            self.journal.update_call(self.call_id, late_greeting=1)

    def _measurements(self, notes: dict) -> dict:
        measurements: dict = {}
        rx = self._last_rx
        if rx is not None:
            measurements["rx"] = {k: v for k, v in rx.to_dict().items() if k != "tone"}
        measurements.update(self._caller_figures())
        if notes:
            measurements["notes"] = notes
        return measurements

    def _settle_prompts(self, heard_until_s: float) -> None:
        """The prompts that began a hop or more before ``heard_until_s``: the line up to them
        has been heard, and their measurements are what it says."""
        while self._pending and self._pending[0][0] <= heard_until_s - HOP_S + 1e-9:
            _, prompt_id, notes, written = self._pending.pop(0)
            now = self._measurements(notes)
            if now != written:
                self.journal.prompt_measurements(prompt_id, now)

    # --- ending --------------------------------------------------------------------------

    def _close(self, t_s: float, end_reason: str, released_by: str | None) -> None:
        with self.journal.transaction():  # finished with all its figures, or not at all
            self._settle_prompts(math.inf)  # the line as last heard, for a prompt at the end
            self.journal.update_call(self.call_id, **self._caller_figures(),
                                     **self._agent_figures())
            self.journal.close_call(self.call_id, t_s, end_reason=end_reason,
                                    released_by=released_by)
        closed, self.call_id = self.call_id, None
        self._reset_call()
        if self.on_close is not None:
            try:
                self.on_close(closed)
            except Exception:  # whoever listens must not cost the record its next call
                log.exception("on_close for call %s failed", closed)

    def finish(self, t_s: float, reason: str = "end_of_recording") -> None:
        """Close the call still open when the recording (or the service) stops at ``t_s``."""
        if self.call_id is None:
            return
        if self._answered_t_s is None:
            self._close(t_s, "unanswered", None)
        elif self._far_end_t_s is not None:
            self._close(t_s, "far_end_hangup", "caller")
        else:
            self._close(t_s, reason, None)
