"""The desk's durable outbox: alerts and finished calls kept in its call record until sent.

A row leaves the ``outbox`` table only when the broker acknowledged its message (PUBACK at
QoS 1); after a broker outage, a restart or a power cut whatever is left is sent again, in
order. A message may therefore reach the broker twice (sent, then the power went before the
PUBACK was written down); receivers drop repeats by ``id``.

Finished calls are handed over by number: :meth:`Outbox.queue_closed_calls` puts every call the
record has closed since the last one handed over into the outbox, with the mark moved in the
same transaction, so a call is queued once even if the desk dies halfway, and calls a crash
left open (closed as ``interrupted`` when the record is next opened) are sent too.
"""
from __future__ import annotations

import datetime as _dt
import logging
import os
import sqlite3

from deskline.exc import JournalError
from deskline.record.journal import Journal, apply_schema

log = logging.getLogger(__name__)

_MARK = "calls_queued"


class Outbox:
    """The ``outbox`` table of one call record, on a connection of its own (one thread)."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        parent = os.path.dirname(self.path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            apply_schema(self._db, self.path)
            if self._db.execute("SELECT 1 FROM outbox_mark WHERE key=?", (_MARK,)).fetchone() is None:
                # a record that had calls before the floor was configured: those are not sent
                newest = self._db.execute("SELECT COALESCE(MAX(id), 0) FROM calls "
                                          "WHERE end_reason IS NOT NULL").fetchone()[0]
                self._db.execute("INSERT OR IGNORE INTO outbox_mark (key, value) VALUES (?, ?)",
                                 (_MARK, newest))
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{self.path}: cannot open the floor outbox ({exc})") from None

    def put(self, msg_id: str, kind: str, payload: bytes) -> bool:
        """Keep one message (committed before this returns); False if that id is already kept."""
        cur = self._db.execute(
            "INSERT OR IGNORE INTO outbox (id, kind, payload, queued_at) VALUES (?, ?, ?, ?)",
            (msg_id, kind, payload.decode("utf-8"), _now()))
        return cur.rowcount == 1

    def pending(self, limit: int | None = None) -> list[tuple[str, str, bytes]]:
        """``(id, kind, payload)`` of what is still owed, oldest first."""
        sql = "SELECT id, kind, payload FROM outbox ORDER BY seq"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [(i, k, p.encode("utf-8")) for i, k, p in self._db.execute(sql)]

    def done(self, msg_id: str) -> None:
        """The broker has it: forget it."""
        self._db.execute("DELETE FROM outbox WHERE id=?", (msg_id,))

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    def queue_closed_calls(self, make_payload) -> list[str]:
        """Queue every call closed since the last one queued; returns the ids queued.

        ``make_payload(record)`` -> ``(id, payload bytes)``, with ``record`` the call as
        ``deskline calls --json`` gives it. Calls are taken in order and the first still open
        stops the scan (the next call cannot have closed before it).
        """
        mark = self._db.execute("SELECT value FROM outbox_mark WHERE key=?", (_MARK,)).fetchone()[0]
        rows = self._db.execute("SELECT id, end_reason FROM calls WHERE id > ? ORDER BY id",
                                (mark,)).fetchall()
        queued = []
        if not rows:
            return queued
        reader = Journal(self.path, readonly=True)
        try:
            for call_no, end_reason in rows:
                if end_reason is None:
                    break
                msg_id, payload = make_payload(reader.call(call_no))
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.execute("INSERT OR IGNORE INTO outbox (id, kind, payload, queued_at) "
                                     "VALUES (?, 'call', ?, ?)",
                                     (msg_id, payload.decode("utf-8"), _now()))
                    self._db.execute("UPDATE outbox_mark SET value=? WHERE key=?", (call_no, _MARK))
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                queued.append(msg_id)
        finally:
            reader.close()
        return queued

    def newest_call(self) -> int:
        """The number of the newest call in the record (0 if none)."""
        return self._db.execute("SELECT COALESCE(MAX(id), 0) FROM calls").fetchone()[0]

    def call_at(self, t_s: float, after: int) -> tuple[int, str] | None:
        """``(number, started_at)`` of the call numbered over ``after`` that was going on at
        ``t_s`` (the audio clock of this run of the desk), if any."""
        row = self._db.execute(
            "SELECT id, started_at FROM calls WHERE id > ? AND start_t_s <= ? AND "
            "(ended_t_s IS NULL OR ended_t_s >= ?) ORDER BY id DESC LIMIT 1",
            (after, t_s, t_s)).fetchone()
        return None if row is None else (row[0], row[1])

    def close(self) -> None:
        self._db.close()


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")
