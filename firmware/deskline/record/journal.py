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

:class:`CallRecorder` (in :mod:`deskline.record.recorder`) turns the
controller's events and actions into these rows; the live service and ``deskline simulate``
both use it.
"""
from __future__ import annotations

import datetime as _dt
import fcntl
import json
import logging
import os
import sqlite3
from typing import Callable

from deskline.exc import JournalError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
#: schema versions this deskline opens (1: before the floor outbox; it is added on open)
READS_VERSIONS = (0, 1, 2)

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
-- what the desk owes the floor (deskline.floor.outbox): alerts and finished calls, each kept
-- until the broker acknowledged it (PUBACK); added in schema 2, created on open of older records
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY,             -- send order
    id TEXT NOT NULL UNIQUE,             -- the message's id (receivers drop repeats by it)
    kind TEXT NOT NULL,                  -- alert | call
    payload TEXT NOT NULL,               -- JSON, as published
    queued_at TEXT NOT NULL
);
-- the newest call of this record already handed to the outbox (one row, key 'calls_queued')
CREATE TABLE IF NOT EXISTS outbox_mark (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
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


def apply_schema(db: sqlite3.Connection, path: str) -> None:
    """Create what is missing of the record's tables on ``db`` (older records gain the rest).

    Raises :class:`JournalError` for a record written by a newer deskline.
    """
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version not in READS_VERSIONS:
        raise JournalError(f"{path}: call record schema {version}, this deskline reads "
                           f"{', '.join(map(str, READS_VERSIONS[1:]))}")
    db.executescript(_SCHEMA)
    if version != SCHEMA_VERSION:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


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
                apply_schema(self._db, self.path)
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
               measurements: dict) -> int:
        """Record a phrase the device played, why, and the measurements behind it; returns
        the prompt's id."""
        return self._write(
            "INSERT INTO prompts (call_id, t_s, phrase, reason, asked_by, measurements) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (call_id, t_s, phrase, reason, asked_by, json.dumps(measurements, sort_keys=True)))

    def prompt_measurements(self, prompt_id: int, measurements: dict) -> None:
        """Put the line as it was when a prompt began in place of what was known then."""
        self._write("UPDATE prompts SET measurements=? WHERE id=?",
                    (json.dumps(measurements, sort_keys=True), prompt_id))

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


__all__ = ["Journal", "DEFAULT_PATH", "GREETINGS", "JournalError"]
