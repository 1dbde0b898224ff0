"""The call recorder: turns the controller's events and actions into the call record.

The live service and ``deskline simulate`` both feed one :class:`CallRecorder`; it writes
through a :class:`deskline.record.journal.Journal` as things happen.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from deskline.dsp.state import FLOOR_DBOV
from deskline.engine import BaseSink

if TYPE_CHECKING:
    from deskline.record.journal import Journal

log = logging.getLogger(__name__)


def _r(x: float | None, nd: int = 2) -> float | None:
    return None if x is None else round(float(x), nd)

#: Analysis hop of the line meter (DESIGN: 10 ms at 8 kHz).
HOP_S = 0.01

_FLAG_BY_PHRASE = {
    "greeting_repeat": "silent", "no_sound_goodbye": "silent",
    "switch_phone_quiet": "quiet", "too_noisy_goodbye": "noisy",
}


def _prompt_flag(phrase: str, reason: str) -> str | None:
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
                 checkpoint_s: float = 5.0):
        self.journal = journal
        self.source = source
        self.profile = profile
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
        self._hangup_asked = False
        self._speech_hops = 0
        self._line_hops = 0
        self._noise_sum_dbov = 0.0
        self._last_rx = None
        self._caller_level_dbov: float | None = None
        self._next_checkpoint_t_s = 0.0
        self._cause = None

    # --- events ------------------------------------------------------------------------

    def _open(self, t_s: float) -> int:
        self._reset_call()
        self._start_t_s = t_s
        self.call_id = self.journal.open_call(t_s, source=self.source, profile=self.profile)
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
                data = {"phrase": event.phrase}
                if event.cut:
                    data["cut"] = True
                self.journal.fact(self.call_id, t_s, "phrase_done", data)

    def on_line(self, line) -> None:
        """Record one analysis hop (the caller's speech, level and noise so far)."""
        self._line(line)

    def _line(self, event) -> None:
        rx = event.rx
        self._last_rx = rx
        if self._answered_t_s is None or self.call_id is None:
            return
        if self._on_hold:
            return
        self._caller_level_dbov = rx.active_level_dbov
        self._line_hops += 1
        self._noise_sum_dbov += rx.noise_dbov
        if rx.speech and rx.tone is None and (event.tx is None or not event.tx.speech):
            self._speech_hops += 1
        if event.t_s >= self._next_checkpoint_t_s:
            self._next_checkpoint_t_s = event.t_s + self.checkpoint_s
            self._checkpoint(event.t_s)

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
                self._play(action, notes)
            elif name == "Mute":
                self.journal.fact(self.call_id, t_s, "mute", {"on": action.on})
                if action.on and not self._on_hold:
                    self._on_hold = True
                    self.journal.hold_start(self.call_id, t_s)
                elif not action.on and self._on_hold:
                    self._on_hold = False
                    self.journal.hold_end(self.call_id, t_s)
            elif name == "Note":
                self.journal.fact(self.call_id, t_s, action.kind, dict(action.data))
                if action.kind == "far_end_hangup" and self._far_end_t_s is None:
                    self._far_end_t_s = t_s
                    self.journal.update_call(self.call_id, far_end_hangup_t_s=t_s)
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
                self.journal.fact(self.call_id, t_s, "stop_playback")
            elif name == "State":
                self.journal.fact(self.call_id, t_s, "state", {"name": action.name})

    def _play(self, action, notes: dict) -> None:
        by_key = action.reason.startswith("key:") or (
            type(self._cause).__name__ == "Key" and abs(self._cause.t_s - action.t_s) < 1e-9)
        asked_by = "agent" if by_key else "device"
        measurements: dict = {}
        rx = self._last_rx
        if rx is not None:
            measurements["rx"] = {k: v for k, v in rx.to_dict().items() if k != "tone"}
        measurements.update(self._caller_figures())
        if notes:
            measurements["notes"] = notes
        self.journal.prompt(self.call_id, action.t_s, action.phrase, action.reason, asked_by,
                            measurements)
        self.journal.fact(self.call_id, action.t_s, "play", {"phrase": action.phrase})
        flag = _prompt_flag(action.phrase, action.reason) if asked_by == "device" else None
        if flag:
            self.journal.update_call(self.call_id, **{flag: 1})

    # --- ending --------------------------------------------------------------------------

    def _close(self, t_s: float, end_reason: str, released_by: str | None) -> None:
        self.journal.update_call(self.call_id, **self._caller_figures())
        self.journal.close_call(self.call_id, t_s, end_reason=end_reason, released_by=released_by)
        self.call_id = None
        self._reset_call()

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
