"""The call record: every call's facts in SQLite (WAL), written as they happen, never audio.

One row a call in ``calls`` (start, rings before answer, answer delay, duration, far-end
hang-up, who released, why it ended, the caller's measured level), one row a hold in ``holds``,
one row a prompt in ``prompts`` (phrase, reason, who asked, the measurements behind it) and the
raw log in ``facts`` (hook, ring, keys, LED, mute, notes …).

Each fact is committed by itself (autocommit, ``synchronous=FULL``), so a crash or a power cut
loses at most the fact being written; a call's end (its figures, its holds closed, how it
ended) is one commit (:meth:`Journal.transaction`), so a call is either finished with all of it
or still open (and then closed as ``interrupted`` at its last fact). The first writer to open the database (it holds
``<db>.lock`` while open) closes any call a previous run left open as ``interrupted``, at the
time of its last fact; a second writer meanwhile leaves them alone. Readers
(``deskline calls``) open it read-only and never do that, so they can look at a live desk.

Opening for writing looks before it writes: a file that is not deskline's (another program's
SQLite database) or that a newer deskline wrote is refused untouched; an older record is
brought forward one ``user_version`` step at a time (:data:`MIGRATIONS`, each step in one
transaction). A damaged file (truncated, overwritten: SQLite reports it corrupt or not a
database) is set aside, renamed ``<db>.damaged-<UTC time>`` with its ``-wal`` and ``-shm``
(never deleted), and a fresh record is started, so the desk goes on recording; the writer
says so once in the log and keeps the new name in :attr:`Journal.set_aside`. The file moves
before its WAL; a WAL found without its record (the power went in between) is put beside the
record it belongs to, never taken into the fresh one (SQLite would delete it). A reader of a
damaged record gets every call it can still read (:attr:`Journal.unreadable` lists the rest).

:class:`CallRecorder` (in :mod:`deskline.record.recorder`) turns the
controller's events and actions into these rows; the live service and ``deskline simulate``
both use it.
"""
from __future__ import annotations

import contextlib
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

#: Columns schema 2 added to ``calls`` (a record of schema 1 gains them when the service opens
#: it; a reader of an earlier record sees their defaults).
_ADDED_COLUMNS = {
    "resumed": "INTEGER NOT NULL DEFAULT 0",
    "agent_no": "TEXT NOT NULL DEFAULT ''",
    "late_greeting": "INTEGER NOT NULL DEFAULT 0",
    "agent_talk_s": "REAL NOT NULL DEFAULT 0",
    "agent_syllables": "INTEGER NOT NULL DEFAULT 0",
    "talk_overs": "INTEGER NOT NULL DEFAULT 0",
    "dead_airs": "INTEGER NOT NULL DEFAULT 0",
    "longest_dead_air_s": "REAL NOT NULL DEFAULT 0",
}

#: What the floor's outbox keeps in the record (deskline.floor.outbox), added in schema 2.
_OUTBOX_SCHEMA = """
-- what the desk owes the floor: alerts and finished calls, each kept until the broker
-- acknowledged it (PUBACK)
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
)
"""

#: Each step that brings a record from ``user_version`` N to N + 1, run in one transaction.
#: A fresh record is made at SCHEMA_VERSION directly (``_SCHEMA``).
MIGRATIONS: dict[int, tuple[str, ...]] = {
    # 2: a call the service took over already off-hook (restarted mid-call); the agent's own
    # line per call; the floor's outbox
    1: tuple(f"ALTER TABLE calls ADD COLUMN {col} {decl}" for col, decl in _ADDED_COLUMNS.items())
    + tuple(stmt for stmt in _OUTBOX_SCHEMA.split(";") if stmt.strip()),
}

#: Columns a record of schema 1 has in ``calls``: what tells deskline's file from another's.
_V1_CALL_COLUMNS = frozenset({
    "id", "started_at", "source", "profile", "start_t_s", "rings", "answered_t_s",
    "answer_delay_s", "ended_t_s", "duration_s", "far_end_hangup_t_s", "released_by",
    "end_reason", "last_t_s", "caller_speech_s", "caller_level_dbov", "caller_snr_db",
    "silent", "quiet", "noisy"})
_TABLES = frozenset({"calls", "holds", "prompts", "facts"})

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
    noisy INTEGER NOT NULL DEFAULT 0,    -- ... for a noisy line
    resumed INTEGER NOT NULL DEFAULT 0,  -- already off-hook when the service (re)started
    agent_no TEXT NOT NULL DEFAULT '',   -- the agent at the desk (config [desk] agent_no)
    late_greeting INTEGER NOT NULL DEFAULT 0,  -- answered late: the apology was the greeting
    agent_talk_s REAL NOT NULL DEFAULT 0,      -- the agent's speech on the transmit tap
    agent_syllables INTEGER NOT NULL DEFAULT 0,  -- ... syllables in it (estimated, dsp/pace.py)
    talk_overs INTEGER NOT NULL DEFAULT 0,     -- the agent starting while the caller spoke
    dead_airs INTEGER NOT NULL DEFAULT 0,      -- both silent past the profile's dead_air_s
    longest_dead_air_s REAL NOT NULL DEFAULT 0
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
""" + _OUTBOX_SCHEMA + ";\n"

#: Phrases every answered call gets; not counted as prompts in the report.
GREETINGS = frozenset({"greeting", "greeting_late"})

_CALL_FIELDS = (
    "id", "started_at", "source", "profile", "start_t_s", "rings", "answered_t_s",
    "answer_delay_s", "ended_t_s", "duration_s", "far_end_hangup_t_s", "released_by",
    "end_reason", "caller_speech_s", "caller_level_dbov", "caller_snr_db", "silent", "quiet",
    "noisy", "resumed", "agent_no", "late_greeting", "agent_talk_s", "agent_syllables",
    "talk_overs", "dead_airs", "longest_dead_air_s",
)
_FLAGS = ("silent", "quiet", "noisy", "resumed", "late_greeting")


def apply_schema(db: sqlite3.Connection, path: str) -> None:
    """For a second connection to the record (the floor's outbox): an empty file becomes a
    record of this version; an existing record gains the outbox's tables, and is otherwise
    left to :class:`Journal`, which brings it forward when the service opens it.

    Raises :class:`JournalError` for another program's database or a newer deskline's record.
    """
    version = db.execute("PRAGMA user_version").fetchone()[0]
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if version > SCHEMA_VERSION:
        raise JournalError(f"{path}: call record schema {version}, this deskline reads up to "
                           f"{SCHEMA_VERSION}; left as it is — update deskline")
    if not tables and version == 0:
        db.executescript(_SCHEMA)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        return
    if "calls" not in tables:
        raise JournalError(f"{path}: not a deskline call record; left as it is")
    db.executescript(_OUTBOX_SCHEMA + ";")


def _defaults() -> dict:
    """A call's fields as a record that lacks a later version's columns reads them."""
    out = dict.fromkeys(_CALL_FIELDS)
    for col, decl in _ADDED_COLUMNS.items():
        out[col] = "" if decl.startswith("TEXT") else 0
    return out


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _r(x: float | None, nd: int = 2) -> float | None:
    return None if x is None else round(float(x), nd)


#: What reading a record can raise: SQLite's errors, and a decoding error where a damaged
#: schema's text (which SQLite quotes in its message) is not UTF-8.
_DB_ERRORS = (sqlite3.DatabaseError, UnicodeDecodeError)


def _damage(exc: Exception) -> bool:
    """True if SQLite says the file itself is damaged (not: locked, unreadable, read-only)."""
    if isinstance(exc, UnicodeDecodeError):
        return True
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name:
        return name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))
    text = str(exc)
    return "malformed" in text or "not a database" in text


def _set_aside_name(path: str) -> str:
    """A free name beside ``path`` for a record set aside now: ``<db>.damaged-<UTC time>``."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    name = f"{path}.damaged-{stamp}"
    n = 1
    while os.path.exists(name):
        n += 1
        name = f"{path}.damaged-{stamp}-{n}"
    return name


def set_aside_files(path: str | os.PathLike) -> list[str]:
    """Damaged records set aside beside ``path`` (``<db>.damaged-*``, not their -wal/-shm)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path) + ".damaged-"
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return sorted(os.path.join(folder, n) for n in names
                  if n.startswith(base) and not n.endswith(("-wal", "-shm")))


def _sync_folder(path: str) -> None:
    """Renames in the record's folder on disk (a power cut may otherwise undo them)."""
    try:
        fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _reader(uri: str) -> sqlite3.Connection:
    """A read-only connection on which damaged bytes in a text column read as U+FFFD rather
    than stopping the reading with a decoding error."""
    db = sqlite3.connect(uri, uri=True, isolation_level=None)
    db.text_factory = lambda b: b.decode("utf-8", "replace")
    return db


class Journal:
    """The call-record database. ``readonly`` opens it for looking only (no recovery, no writes)."""

    def __init__(self, path: str | os.PathLike, *, readonly: bool = False,
                 clock: Callable[[], str] = _utc_now):
        self.path = os.fspath(path)
        self.readonly = readonly
        self._clock = clock
        #: ids of calls a previous run left open and this open closed as ``interrupted``
        self.recovered: list[int] = []
        #: where a damaged record found at this path was moved (None: it was sound)
        self.set_aside: str | None = None
        #: (reading a damaged record) ids of calls that could not be read
        self.unreadable: list[int] = []
        self._lock_fh = None
        self._db = None
        self._copy_dir = None       # a copy read instead of a record that cannot be opened
        try:
            if readonly:
                self._open_reader()
            else:
                self._open_writer()
        except BaseException:
            self.close()
            raise

    # --- opening -------------------------------------------------------------------------

    def _fail(self, what: str, exc: Exception) -> JournalError:
        return JournalError(f"{self.path}: {what} ({exc})")

    def _open_reader(self) -> None:
        memory = self.path == ":memory:"
        if not memory and not os.path.exists(self.path):
            raise JournalError(f"{self.path}: no such call record")
        if not memory and os.path.isdir(self.path):
            raise JournalError(f"{self.path}: is a folder, not a call record")
        try:
            self._db = _reader(f"file:{self.path}?mode=ro")
            tables = self._tables()
        except _DB_ERRORS as exc:
            if _damage(exc):
                raise JournalError(f"{self.path}: damaged call record, nothing can be read "
                                   f"({exc})") from None
            if memory:
                raise self._fail("cannot open the call record", exc) from None
            if os.path.exists(self.path + "-wal"):
                # a record with calls still in its WAL (the service runs, or stopped hard) in
                # a folder this user cannot write: SQLite cannot make the -shm it needs there,
                # so read a copy of the two files instead (the record itself is not touched)
                self._db.close()
                self._db = None
                tables = self._open_copy(exc)
                if "calls" not in tables:
                    raise JournalError(f"{self.path}: not a deskline call record") from None
                self._columns = self._call_columns()
                return
            # a record closed cleanly, in a folder this user cannot write: SQLite cannot make
            # the -shm index a WAL reader wants, and there is no WAL to read anyway
            self._db.close()
            try:
                self._db = _reader(f"file:{self.path}?mode=ro&immutable=1")
                tables = self._tables()
            except _DB_ERRORS as exc2:
                raise self._fail("cannot open the call record", exc2) from None
        if "calls" not in tables:
            raise JournalError(f"{self.path}: not a deskline call record"
                               + (f" (its tables: {', '.join(sorted(tables)[:5])})"
                                  if tables else " (no tables)"))
        self._columns = self._call_columns()

    def _open_copy(self, first: Exception) -> set[str]:
        import shutil
        import tempfile

        self._copy_dir = tempfile.TemporaryDirectory(prefix="deskline-record-")
        copy = os.path.join(self._copy_dir.name, "calls.db")
        try:
            shutil.copyfile(self.path, copy)
            shutil.copyfile(self.path + "-wal", copy + "-wal")
        except OSError:
            raise self._fail("cannot open the call record", first) from None
        try:
            self._db = _reader(f"file:{copy}?mode=ro")
            return self._tables()
        except _DB_ERRORS as exc:
            raise self._fail("cannot open the call record", exc) from None

    def _tables(self) -> set[str]:
        return {name for (name,) in self._db.execute(
            "SELECT name FROM sqlite_master WHERE type='table'").fetchall()}

    def _call_columns(self) -> frozenset[str]:
        return frozenset(r[1] for r in self._db.execute("PRAGMA table_info(calls)").fetchall())

    def _open_writer(self) -> None:
        memory = self.path == ":memory:"
        if not memory:
            parent = os.path.dirname(self.path)
            if parent:
                try:
                    os.makedirs(parent, exist_ok=True)
                except OSError as exc:
                    raise JournalError(f"{self.path}: cannot make its folder {parent} "
                                       f"({exc.strerror or exc})") from None
            if os.path.isdir(self.path):
                raise JournalError(f"{self.path}: is a folder, not a call record")
        owner = self._take_writer_lock()
        if owner and not memory:
            self._adopt_lone_wal()
        version = None
        if not memory and os.path.exists(self.path) and os.path.getsize(self.path) > 0:
            # looked at through a read-only connection: nothing is written (not even a
            # checkpoint of its WAL on close) before the file is known to be a sound record
            try:
                self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True,
                                           isolation_level=None)
                version = self._inspect()
            except _DB_ERRORS as exc:
                if not _damage(exc):
                    raise self._fail("cannot open the call record", exc) from None
                if not owner:
                    raise JournalError(f"{self.path}: the call record is damaged ({exc}), and "
                                       "another deskline process has it open") from None
                self._set_aside(str(exc))
                version = None
            finally:
                if self._db is not None:
                    self._db.close()
                    self._db = None
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
        except _DB_ERRORS as exc:
            raise self._fail("cannot open the call record", exc) from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            if version is None:
                self._create()
            else:
                self._migrate(version)
            if owner:
                self._recover()
            else:
                log.info("%s: another deskline process writes this record; its open calls "
                         "are left alone", self.path)
        except _DB_ERRORS as exc:
            raise self._fail("cannot open the call record", exc) from None
        self._columns = self._call_columns()

    def _inspect(self) -> int | None:
        """The record's schema version, None for an empty file; reads only.

        Raises JournalError for another program's database or a newer deskline's record, and
        sqlite3.DatabaseError (damage) when SQLite finds the file corrupt.
        """
        db = self._db
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = self._tables()
        if not tables and version == 0:
            return None
        if "calls" not in tables or not _V1_CALL_COLUMNS <= self._call_columns():
            shown = ", ".join(sorted(tables)[:5]) or "no tables"
            raise JournalError(f"{self.path}: not a deskline call record (its tables: {shown}; "
                               f"user_version {version}); left as it is — point [journal] path "
                               "at another file")
        if version > SCHEMA_VERSION:
            raise JournalError(f"{self.path}: call record schema {version}, this deskline reads "
                               f"up to {SCHEMA_VERSION}; left as it is — update deskline")
        if self.path != ":memory:":
            problems = [r[0] for r in db.execute("PRAGMA quick_check").fetchall()]
            if problems != ["ok"]:
                raise sqlite3.DatabaseError(f"database disk image is malformed: {problems[0]}")
        # 0 with deskline's tables: made before the version was stamped (schema 1)
        return version or 1

    def _create(self) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    db.execute(stmt)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _migrate(self, version: int) -> None:
        db = self._db
        while version < SCHEMA_VERSION:
            db.execute("BEGIN IMMEDIATE")
            try:
                have = self._call_columns()
                for stmt in MIGRATIONS[version]:
                    added = stmt.split("ADD COLUMN ", 1)
                    if len(added) == 2 and added[1].split()[0] in have:
                        continue        # a record that already has it (made between versions)
                    db.execute(stmt)
                db.execute(f"PRAGMA user_version={version + 1}")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            log.info("%s: call record brought from schema %d to %d", self.path, version,
                     version + 1)
            version += 1
        if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _set_aside(self, reason: str) -> None:
        """Move the damaged file (and its -wal, -shm) out of the way; never delete it."""
        if self._db is not None:
            self._db.close()
            self._db = None
        target = _set_aside_name(self.path)
        try:
            # the file first: a power cut before its WAL follows leaves a WAL without a record,
            # which the next open puts beside it (_adopt_lone_wal)
            os.rename(self.path, target)
            for ext in ("-wal", "-shm"):
                if os.path.exists(self.path + ext):
                    os.rename(self.path + ext, target + ext)
        except OSError as exc:
            raise JournalError(f"{self.path}: the call record is damaged ({reason}) and cannot "
                               f"be set aside ({exc.strerror or exc})") from None
        _sync_folder(self.path)     # the new names on disk before the fresh record starts
        self.set_aside = target
        log.error("%s: the call record is damaged (%s); set aside as %s, and a fresh record "
                  "started (`deskline calls --db %s` reads what is left of it)",
                  self.path, reason, target, target)

    def _adopt_lone_wal(self) -> None:
        """A ``-wal`` with no record beside it: the power went while a damaged record was set
        aside, after the file moved and before its WAL did. SQLite would delete that WAL when
        the fresh record starts, and with it the set-aside record's last calls; it goes beside
        the newest set-aside record that lacks one (with its ``-shm``), or aside on its own."""
        wal = self.path + "-wal"
        try:
            if os.path.getsize(wal) == 0 or (os.path.exists(self.path)
                                             and os.path.getsize(self.path) > 0):
                return
        except OSError:
            return
        lone = [p for p in set_aside_files(self.path) if not os.path.exists(p + "-wal")]
        target = lone[-1] if lone else _set_aside_name(self.path)
        try:
            os.rename(wal, target + "-wal")
            if os.path.exists(self.path + "-shm") and not os.path.exists(target + "-shm"):
                os.rename(self.path + "-shm", target + "-shm")
        except OSError as exc:
            raise JournalError(f"{self.path}: a WAL without its record ({wal}) cannot be set "
                               f"aside ({exc.strerror or exc})") from None
        _sync_folder(self.path)
        log.error("%s: a WAL without its record was found (the power went while a damaged "
                  "record was set aside); moved to %s-wal, beside %s", self.path, target,
                  "that record" if lone else "no record")

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
        except _DB_ERRORS as exc:
            raise JournalError(f"{self.path}: cannot write the call record ({exc})") from None

    @contextlib.contextmanager
    def transaction(self):
        """The writes made inside are one commit: after a crash or a power cut, all of them
        are in the record or none is. (Inside another transaction: part of that one.)"""
        if self._db.in_transaction:
            yield
            return
        self._write("BEGIN IMMEDIATE", ())
        try:
            yield
        except BaseException:
            try:
                self._db.rollback()
            except _DB_ERRORS:
                pass
            raise
        self._write("COMMIT", ())

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

    def open_call(self, t_s: float, *, source: str = "live", profile: str = "",
                  agent_no: str = "") -> int:
        """Start a call record at audio-clock time ``t_s``; returns its id."""
        return self._write("INSERT INTO calls (started_at, source, profile, start_t_s, last_t_s, "
                           "agent_no) VALUES (?, ?, ?, ?, ?, ?)",
                           (self._clock(), source, profile, t_s, t_s, agent_no))

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
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._copy_dir is not None:
            self._copy_dir.cleanup()
            self._copy_dir = None
        fh = self._lock_fh
        if fh is not None:
            fh.close()          # releases the writer lock
            self._lock_fh = None

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- reading -------------------------------------------------------------------------

    def call(self, call_id: int) -> dict:
        """One call's full record: the row, its holds and its prompts (a record of an earlier
        version gives the defaults of what it lacks)."""
        cols = [c for c in _CALL_FIELDS if c in self._columns]
        row = self._db.execute(f"SELECT {', '.join(cols)} FROM calls WHERE id=?",
                               (call_id,)).fetchone()
        if row is None:
            raise JournalError(f"{self.path}: no call {call_id}")
        out = _defaults()
        out.update(zip(cols, row))
        for k in _FLAGS:
            out[k] = bool(out[k])
        for k in ("start_t_s", "answered_t_s", "answer_delay_s", "ended_t_s", "duration_s",
                  "far_end_hangup_t_s", "caller_speech_s", "caller_level_dbov", "caller_snr_db",
                  "agent_talk_s", "longest_dead_air_s"):
            out[k] = _r(out[k])
        talk = out["agent_talk_s"] or 0.0
        out["agent_pace_per_min"] = _r(60.0 * out["agent_syllables"] / talk, 1) if talk >= 1.0 else None
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
        """The newest ``limit`` calls (all if None), newest first, each as :meth:`call` gives.

        In a damaged record, every call that can still be read: one whose holds or prompts
        are lost comes without them (``"damaged": True``); the ids of the calls that cannot be
        read at all are left in :attr:`unreadable`.
        """
        sql = "SELECT id FROM calls ORDER BY id DESC"
        args: tuple = ()
        if limit is not None:
            sql += " LIMIT ?"
            args = (int(limit),)
        self.unreadable = []
        try:
            ids = [i for (i,) in self._db.execute(sql, args).fetchall()]
        except _DB_ERRORS as exc:
            if not _damage(exc):
                raise self._fail("cannot read the call record", exc) from None
            ids = self._salvage_ids(limit)
        out = []
        for i in ids:
            try:
                out.append(self.call(i))
            except (sqlite3.DatabaseError, ValueError) as exc:
                if isinstance(exc, sqlite3.DatabaseError) and not _damage(exc):
                    raise self._fail("cannot read the call record", exc) from None
                bare = self._bare_call(i)
                if bare is None:
                    self.unreadable.append(i)
                else:
                    out.append(bare)
        return out

    #: a damaged record's ids are looked for one by one, up to this many missing in a row
    SALVAGE_GAP = 1000

    def _salvage_ids(self, limit: int | None) -> list[int]:
        """Call ids of a damaged record, newest first, found by looking each one up."""
        def probe(i: int) -> bool | None:
            try:
                return self._db.execute("SELECT 1 FROM calls WHERE id=?", (i,)).fetchone() \
                    is not None
            except _DB_ERRORS:
                return None         # on a damaged page

        found, i, missing = [], 0, 0
        # an unreadable id counts towards the gap as a missing one does: a record whose every
        # lookup fails ends its search after SALVAGE_GAP ids, not never
        while missing < self.SALVAGE_GAP:
            i += 1
            hit = probe(i)
            if hit:
                found.append(i)
                missing = 0
            else:
                if hit is None:
                    self.unreadable.append(i)
                missing += 1
        # past the last call found, an unreadable id may as well be no call at all
        last = found[-1] if found else 0
        self.unreadable = [u for u in self.unreadable if u < last]
        found.reverse()
        return found if limit is None else found[:limit]

    def _bare_call(self, call_id: int) -> dict | None:
        """A call's own row alone (its holds and prompts unreadable), or None."""
        cols = [c for c in _CALL_FIELDS if c in self._columns]
        try:
            row = self._db.execute(f"SELECT {', '.join(cols)} FROM calls WHERE id=?",
                                   (call_id,)).fetchone()
        except _DB_ERRORS:
            return None
        if row is None:
            return None
        out = _defaults()
        out.update(zip(cols, row))
        for k in _FLAGS:
            out[k] = bool(out[k])
        out.update(holds=[], prompts=[], damaged=True)
        return out

    def report(self, *, since: str | None = None, until: str | None = None,
               agent_no: str | None = None) -> dict:
        """The floor supervisor's summary over the calls in the record: those started at or
        after ``since`` and before ``until`` (UTC ISO 8601 dates or times, compared as text),
        of agent ``agent_no``; all by default."""
        try:
            return self._report(since, until, agent_no)
        except _DB_ERRORS as exc:
            raise self._fail("cannot summarise the call record (damaged? `deskline calls` "
                             "lists what can be read)", exc) from None

    def _report(self, since, until, agent_no) -> dict:
        have = self._columns
        late_col = "late_greeting" if "late_greeting" in have else "0"
        conds, args = [], []
        if since:
            conds.append("started_at >= ?")
            args.append(since)
        if until:
            conds.append("started_at < ?")
            args.append(until)
        if agent_no is not None:
            conds.append(("agent_no" if "agent_no" in have else "''") + " = ?")
            args.append(agent_no)
        where = (" WHERE " + " AND ".join(conds)) if conds else ""
        ids = f"call_id IN (SELECT id FROM calls{where})"

        def q(sql, params=()):
            return self._db.execute(sql, tuple(params))

        n_calls, n_answered, within3, unanswered, talk_s, silent, quiet, noisy, far_end, interrupted, late = q(
            "SELECT COUNT(*), COUNT(answered_t_s), "
            "COALESCE(SUM(answered_t_s IS NOT NULL AND rings <= 3), 0), "
            "COALESCE(SUM(answered_t_s IS NULL AND end_reason IS NOT NULL), 0), "
            "COALESCE(SUM(duration_s), 0), COALESCE(SUM(silent), 0), COALESCE(SUM(quiet), 0), "
            "COALESCE(SUM(noisy), 0), COUNT(far_end_hangup_t_s), "
            f"COALESCE(SUM(end_reason = 'interrupted'), 0), COALESCE(SUM({late_col}), 0) "
            f"FROM calls{where}", args).fetchone()
        n_holds, over20, over120, longest, total_hold = q(
            "SELECT COUNT(*), COALESCE(SUM(length_s > 20), 0), COALESCE(SUM(length_s > 120), 0), "
            f"MAX(length_s), COALESCE(SUM(length_s), 0) FROM holds WHERE {ids}", args).fetchone()
        by_phrase = dict(q("SELECT phrase, COUNT(*) FROM prompts WHERE asked_by='device' "
                           f"AND {ids} GROUP BY phrase ORDER BY phrase", args).fetchall())
        by_agent = dict(q("SELECT phrase, COUNT(*) FROM prompts WHERE asked_by='agent' "
                          f"AND {ids} GROUP BY phrase ORDER BY phrase", args).fetchall())
        n_prompts = sum(v for k, v in by_phrase.items() if k not in GREETINGS)
        talk_h = talk_s / 3600.0
        first, last = q(f"SELECT MIN(started_at), MAX(started_at) FROM calls{where}",
                        args).fetchone()
        if "agent_talk_s" in have:
            a_talk, a_syl, overs, dead, longest_dead = q(
                "SELECT COALESCE(SUM(agent_talk_s), 0), COALESCE(SUM(agent_syllables), 0), "
                "COALESCE(SUM(talk_overs), 0), COALESCE(SUM(dead_airs), 0), "
                f"MAX(longest_dead_air_s) FROM calls{where}", args).fetchone()
        else:
            a_talk, a_syl, overs, dead, longest_dead = 0.0, 0, 0, 0, None
        end_reasons = dict(q(f"SELECT end_reason, COUNT(*) FROM calls{where}"
                             + (" AND" if where else " WHERE") + " end_reason IS NOT NULL "
                             "GROUP BY end_reason ORDER BY end_reason", args).fetchall())
        released_by = dict(q(f"SELECT released_by, COUNT(*) FROM calls{where}"
                             + (" AND" if where else " WHERE") + " released_by IS NOT NULL "
                             "GROUP BY released_by ORDER BY released_by", args).fetchall())
        return {
            "since": since,
            "until": until,
            "agent_no": agent_no,
            "calls": n_calls,
            "first_call_at": first,
            "last_call_at": last,
            "answered": n_answered,
            "unanswered": unanswered,
            "answered_within_3_rings": within3,
            "answered_within_3_rings_pct": _r(100.0 * within3 / n_answered, 1) if n_answered else None,
            "late_greetings": late,
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
            # the standard (seed 004) asks the agent to wait for the caller to hang up first:
            # an agent's on-hook with no far-end hang-up heard before it
            "agent_hung_up_first": end_reasons.get("agent_hangup", 0),
            "interrupted_calls": interrupted,
            "resumed_calls": (q(f"SELECT COALESCE(SUM(resumed), 0) FROM calls{where}",
                                args).fetchone()[0] if "resumed" in have else 0),
            "end_reasons": end_reasons,
            "released_by": released_by,
            "device_prompts": n_prompts,
            "device_prompts_by_phrase": by_phrase,
            "prompts_per_hour": _r(n_prompts / talk_h, 1) if talk_h > 0 else None,
            "agent_talk_s": _r(a_talk, 1),
            # syllables a minute: characters a minute in Mandarin (the standard asks 120)
            "agent_pace_per_min": _r(60.0 * a_syl / a_talk, 1) if a_talk >= 1.0 else None,
            "talk_overs": overs,
            "dead_airs": dead,
            "longest_dead_air_s": _r(longest_dead, 1),
            "agent_phrases": sum(by_agent.values()),
            "agent_phrases_by_phrase": by_agent,
        }

    def facts(self, call_id: int) -> list[dict]:
        """The raw log of one call, in order."""
        return [{"t_s": _r(t, 3), "kind": k, "data": json.loads(d)} for t, k, d in self._db.execute(
            "SELECT t_s, kind, data FROM facts WHERE call_id=? ORDER BY id", (call_id,))]


__all__ = ["Journal", "DEFAULT_PATH", "GREETINGS", "JournalError", "set_aside_files"]
