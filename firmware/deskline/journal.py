"""The call record: every call's facts in SQLite (WAL), written as they happen, never audio.

One row a call in ``calls`` (start, rings before answer, answer delay, duration, far-end
hang-up, who released, why it ended, the caller's measured level), one row a hold in ``holds``,
one row a prompt in ``prompts`` (phrase, reason, who asked, the measurements behind it) and the
raw log in ``facts`` (hook, ring, keys, LED, mute, notes …).

Each fact is committed by itself (autocommit, ``synchronous=FULL``), so a crash or a power cut
loses at most the fact being written. The first writer to open the database (it holds
``<db>.lock`` while open) closes any call a previous run left open as ``interrupted``, at the
time of its last fact; a second writer meanwhile leaves them alone. Readers
(``deskline calls``) open it read-only and never do that, so they can look at a live desk.

:class:`CallRecorder` turns the controller's events and actions into these rows; the live
service and ``deskline simulate`` both use it.
"""
from __future__ import annotations

import datetime as _dt
import fcntl
import json
import logging
import os
import sqlite3
from typing import Callable

from deskline.dsp.state import FLOOR_DBOV
from deskline.exc import JournalError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

#: Where the service keeps the record (systemd StateDirectory=deskline).
DEFAULT_PATH = "/var/lib/deskline/calls.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,            -- wall clock (UTC, ISO 8601) when the call began
    source TEXT NOT NULL,                -- "live" or the replayed recording
    profile TEXT NOT NULL DEFAULT '',
    start_t_s REAL NOT NULL,             -- audio-clock time of the first ring or the off-hook
    rings INTEGER NOT NULL DEFAULT 0,    -- ring bursts before the answer
    answered_t_s REAL,
    answer_delay_s REAL,                 -- first ring to off-hook (0 without rings)
    ended_t_s REAL,
    duration_s REAL,                     -- answered to end (0 if never answered)
    far_end_hangup_t_s REAL,
    released_by TEXT,                    -- caller | device | agent
    end_reason TEXT,                     -- NULL while the call is open
    last_t_s REAL NOT NULL,              -- time of the latest fact: where a crash left it
    caller_speech_s REAL NOT NULL DEFAULT 0,  -- receive speech while the agent is quiet, not on hold
    caller_level_dbov REAL,              -- P.56 active level of the caller, latest
    caller_snr_db REAL,                  -- caller's active level over the mean noise floor
    silent INTEGER NOT NULL DEFAULT 0,   -- the device prompted for a silent line
    quiet INTEGER NOT NULL DEFAULT 0,    -- ... for a quiet caller
    noisy INTEGER NOT NULL DEFAULT 0     -- ... for a noisy line
);
CREATE TABLE IF NOT EXISTS holds (
    id INTEGER PRIMARY KEY,
    call_id INTEGER NOT NULL REFERENCES calls(id),
    start_t_s REAL NOT NULL,
    end_t_s REAL,
    length_s REAL
);
CREATE TABLE IF NOT EXISTS prompts (
    id INTEGER PRIMARY KEY,
    call_id INTEGER NOT NULL REFERENCES calls(id),
    t_s REAL NOT NULL,
    phrase TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    asked_by TEXT NOT NULL,              -- device (the standard's rules) | agent (a key)
    measurements TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS facts (
    id INTEGER PRIMARY KEY,
    call_id INTEGER NOT NULL REFERENCES calls(id),
    t_s REAL NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS holds_call ON holds(call_id);
CREATE INDEX IF NOT EXISTS prompts_call ON prompts(call_id);
CREATE INDEX IF NOT EXISTS facts_call ON facts(call_id);
"""

#: Phrases every answered call gets; not counted as prompts in the report.
GREETINGS = frozenset({"greeting", "greeting_late"})

_CALL_FIELDS = (
    "id", "started_at", "source", "profile", "start_t_s", "rings", "answered_t_s",
    "answer_delay_s", "ended_t_s", "duration_s", "far_end_hangup_t_s", "released_by",
    "end_reason", "caller_speech_s", "caller_level_dbov", "caller_snr_db", "silent", "quiet",
    "noisy",
)


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _r(x: float | None, nd: int = 2) -> float | None:
    return None if x is None else round(float(x), nd)


class Journal:
    """The call-record database. ``readonly`` opens it for looking only (no recovery, no writes)."""

    def __init__(self, path: str | os.PathLike, *, readonly: bool = False,
                 clock: Callable[[], str] = _utc_now):
        self.path = os.fspath(path)
        self.readonly = readonly
        self._clock = clock
        #: ids of calls a previous run left open and this open closed as ``interrupted``
        self.recovered: list[int] = []
        try:
            if readonly:
                if self.path != ":memory:" and not os.path.exists(self.path):
                    raise JournalError(f"{self.path}: no such call record")
                self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True,
                                           isolation_level=None)
                self._check_schema()
            else:
                parent = os.path.dirname(self.path)
                if parent and self.path != ":memory:":
                    os.makedirs(parent, exist_ok=True)
                self._db = sqlite3.connect(self.path, isolation_level=None)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
                self._db.execute("PRAGMA foreign_keys=ON")
                self._db.executescript(_SCHEMA)
                version = self._db.execute("PRAGMA user_version").fetchone()[0]
                if version not in (0, SCHEMA_VERSION):
                    raise JournalError(f"{self.path}: call record schema {version}, "
                                       f"this deskline reads {SCHEMA_VERSION}")
                self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                if self._take_writer_lock():
                    self._recover()
                else:
                    log.info("%s: another deskline process writes this record; its open calls "
                             "are left alone", self.path)
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{self.path}: cannot open the call record ({exc})") from None

    # --- writing -------------------------------------------------------------------------

    def _take_writer_lock(self) -> bool:
        """Hold ``<db>.lock`` while open; False if another live writer (the service) holds it.

        Only the first writer may close calls left open: a ``simulate --journal`` pointed at
        the desk's own record must not close the call the service is recording right now.
        """
        self._lock_fh = None
        if self.path == ":memory:":
            return True
        try:
            fh = open(self.path + ".lock", "a+b")
        except OSError:
            return True     # no lock possible (read-only directory): behave as the only writer
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            return False
        self._lock_fh = fh
        return True

    def _write(self, sql: str, args: tuple) -> int:
        try:
            return self._db.execute(sql, args).lastrowid
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{self.path}: cannot write the call record ({exc})") from None

    def _recover(self) -> None:
        rows = self._db.execute(
            "SELECT id, last_t_s, answered_t_s FROM calls WHERE end_reason IS NULL").fetchall()
        for call_id, last_t_s, answered_t_s in rows:
            self._close_holds(call_id, last_t_s)
            duration = 0.0 if answered_t_s is None else max(0.0, last_t_s - answered_t_s)
            self._write("UPDATE calls SET end_reason='interrupted', ended_t_s=?, duration_s=? "
                        "WHERE id=?", (last_t_s, duration, call_id))
            self.recovered.append(call_id)
            log.warning("%s: call %s was left open (crash or power cut); closed as interrupted "
                        "at %.2f s", self.path, call_id, last_t_s)

    def _close_holds(self, call_id: int, t_s: float) -> None:
        self._write("UPDATE holds SET end_t_s=?, length_s=MAX(0, ? - start_t_s) "
                    "WHERE call_id=? AND end_t_s IS NULL", (t_s, t_s, call_id))

    def open_call(self, t_s: float, *, source: str = "live", profile: str = "") -> int:
        """Start a call record at audio-clock time ``t_s``; returns its id."""
        return self._write("INSERT INTO calls (started_at, source, profile, start_t_s, last_t_s) "
                           "VALUES (?, ?, ?, ?, ?)", (self._clock(), source, profile, t_s, t_s))

    def fact(self, call_id: int, t_s: float, kind: str, data: dict | None = None) -> None:
        """Log one raw fact (hook, ring, key, led, mute, note …) of an open call."""
        self._write("INSERT INTO facts (call_id, t_s, kind, data) VALUES (?, ?, ?, ?)",
                    (call_id, t_s, kind, json.dumps(data or {}, sort_keys=True)))
        self._write("UPDATE calls SET last_t_s=MAX(last_t_s, ?) WHERE id=?", (t_s, call_id))

    def update_call(self, call_id: int, **fields) -> None:
        """Set some columns of a call's row (names from the ``calls`` table)."""
        bad = set(fields) - set(_CALL_FIELDS) - {"last_t_s"}
        if bad:
            raise ValueError(f"not a calls column: {sorted(bad)[0]}")
        cols = ", ".join(f"{k}=?" for k in fields)
        self._write(f"UPDATE calls SET {cols} WHERE id=?", (*fields.values(), call_id))

    def prompt(self, call_id: int, t_s: float, phrase: str, reason: str, asked_by: str,
               measurements: dict) -> None:
        """Record a phrase the device played, why, and the measurements behind it."""
        self._write("INSERT INTO prompts (call_id, t_s, phrase, reason, asked_by, measurements) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (call_id, t_s, phrase, reason, asked_by, json.dumps(measurements, sort_keys=True)))

    def hold_start(self, call_id: int, t_s: float) -> None:
        self._write("INSERT INTO holds (call_id, start_t_s) VALUES (?, ?)", (call_id, t_s))

    def hold_end(self, call_id: int, t_s: float) -> None:
        self._close_holds(call_id, t_s)

    def close_call(self, call_id: int, t_s: float, *, end_reason: str,
                   released_by: str | None) -> None:
        """End a call at ``t_s``: close its holds, fix its duration and why it ended."""
        row = self._db.execute("SELECT answered_t_s FROM calls WHERE id=?", (call_id,)).fetchone()
        answered = row[0] if row else None
        self._close_holds(call_id, t_s)
        self._write("UPDATE calls SET ended_t_s=?, duration_s=?, end_reason=?, released_by=?, "
                    "last_t_s=MAX(last_t_s, ?) WHERE id=?",
                    (t_s, 0.0 if answered is None else max(0.0, t_s - answered), end_reason,
                     released_by, t_s, call_id))

    def close(self) -> None:
        self._db.close()
        fh = getattr(self, "_lock_fh", None)
        if fh is not None:
            fh.close()          # releases the writer lock
            self._lock_fh = None

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- reading -------------------------------------------------------------------------

    def _check_schema(self) -> None:
        try:
            self._db.execute("SELECT id FROM calls LIMIT 1").fetchall()
        except sqlite3.DatabaseError:
            raise JournalError(f"{self.path}: not a deskline call record") from None

    def call(self, call_id: int) -> dict:
        """One call's full record: the row, its holds and its prompts."""
        row = self._db.execute(f"SELECT {', '.join(_CALL_FIELDS)} FROM calls WHERE id=?",
                               (call_id,)).fetchone()
        if row is None:
            raise JournalError(f"{self.path}: no call {call_id}")
        out = dict(zip(_CALL_FIELDS, row))
        for k in ("silent", "quiet", "noisy"):
            out[k] = bool(out[k])
        for k in ("start_t_s", "answered_t_s", "answer_delay_s", "ended_t_s", "duration_s",
                  "far_end_hangup_t_s", "caller_speech_s", "caller_level_dbov", "caller_snr_db"):
            out[k] = _r(out[k])
        out["holds"] = [
            {"start_t_s": _r(a), "end_t_s": _r(b), "length_s": _r(c)}
            for a, b, c in self._db.execute(
                "SELECT start_t_s, end_t_s, length_s FROM holds WHERE call_id=? ORDER BY id",
                (call_id,))
        ]
        out["prompts"] = [
            {"t_s": _r(t), "phrase": p, "reason": r, "asked_by": a, "measurements": json.loads(m)}
            for t, p, r, a, m in self._db.execute(
                "SELECT t_s, phrase, reason, asked_by, measurements FROM prompts WHERE call_id=? "
                "ORDER BY id", (call_id,))
        ]
        return out

    def calls(self, limit: int | None = None) -> list[dict]:
        """The newest ``limit`` calls (all if None), newest first, each as :meth:`call` gives."""
        sql = "SELECT id FROM calls ORDER BY id DESC"
        args: tuple = ()
        if limit is not None:
            sql += " LIMIT ?"
            args = (int(limit),)
        return [self.call(i) for (i,) in self._db.execute(sql, args).fetchall()]

    def report(self) -> dict:
        """The floor supervisor's summary over every call in the record."""
        q = self._db.execute
        n_calls, n_answered, within3, unanswered, talk_s, silent, quiet, noisy, far_end, interrupted = q(
            "SELECT COUNT(*), COUNT(answered_t_s), "
            "COALESCE(SUM(answered_t_s IS NOT NULL AND rings <= 3), 0), "
            "COALESCE(SUM(answered_t_s IS NULL AND end_reason IS NOT NULL), 0), "
            "COALESCE(SUM(duration_s), 0), COALESCE(SUM(silent), 0), COALESCE(SUM(quiet), 0), "
            "COALESCE(SUM(noisy), 0), COUNT(far_end_hangup_t_s), "
            "COALESCE(SUM(end_reason = 'interrupted'), 0) FROM calls").fetchone()
        n_holds, over20, over120, longest, total_hold = q(
            "SELECT COUNT(*), COALESCE(SUM(length_s > 20), 0), COALESCE(SUM(length_s > 120), 0), "
            "MAX(length_s), COALESCE(SUM(length_s), 0) FROM holds").fetchone()
        by_phrase = dict(q("SELECT phrase, COUNT(*) FROM prompts WHERE asked_by='device' "
                           "GROUP BY phrase ORDER BY phrase").fetchall())
        n_prompts = sum(v for k, v in by_phrase.items() if k not in GREETINGS)
        talk_h = talk_s / 3600.0
        first, last = q("SELECT MIN(started_at), MAX(started_at) FROM calls").fetchone()
        return {
            "calls": n_calls,
            "first_call_at": first,
            "last_call_at": last,
            "answered": n_answered,
            "unanswered": unanswered,
            "answered_within_3_rings": within3,
            "answered_within_3_rings_pct": _r(100.0 * within3 / n_answered, 1) if n_answered else None,
            "talk_time_s": _r(talk_s, 1),
            "holds": n_holds,
            "holds_over_20_s": over20,
            "holds_over_120_s": over120,
            "longest_hold_s": _r(longest, 1),
            "hold_time_s": _r(total_hold, 1),
            "silent_calls": silent,
            "quiet_calls": quiet,
            "noisy_calls": noisy,
            "far_end_hangups": far_end,
            "interrupted_calls": interrupted,
            "end_reasons": dict(q("SELECT end_reason, COUNT(*) FROM calls WHERE end_reason IS NOT "
                                  "NULL GROUP BY end_reason ORDER BY end_reason").fetchall()),
            "released_by": dict(q("SELECT released_by, COUNT(*) FROM calls WHERE released_by IS "
                                  "NOT NULL GROUP BY released_by ORDER BY released_by").fetchall()),
            "device_prompts": n_prompts,
            "device_prompts_by_phrase": by_phrase,
            "prompts_per_hour": _r(n_prompts / talk_h, 1) if talk_h > 0 else None,
        }

    def facts(self, call_id: int) -> list[dict]:
        """The raw log of one call, in order."""
        return [{"t_s": _r(t, 3), "kind": k, "data": json.loads(d)} for t, k, d in self._db.execute(
            "SELECT t_s, kind, data FROM facts WHERE call_id=? ORDER BY id", (call_id,))]


# --- the recorder ------------------------------------------------------------------------------

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


class CallRecorder:
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
                self.journal.fact(self.call_id, t_s, "phrase_done", {"phrase": event.phrase})

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
