"""The floor's database: every desk's status, state, alerts and finished calls (SQLite, WAL).

Written by the floor service's MQTT thread only; the web app and ``deskline floor report``
read it (a connection of their own each). Alerts and calls are kept once per ``id``: a desk
that sends one again after an outage changes nothing. Messages the floor could not take are
counted in ``rejects`` by reason.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading

from deskline.floor import messages as m

_SCHEMA = """
CREATE TABLE IF NOT EXISTS desks (
    site TEXT NOT NULL, desk TEXT NOT NULL,
    online INTEGER NOT NULL DEFAULT 0,
    version TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'idle',
    since TEXT,                      -- when the desk entered its state (desk's clock, UTC)
    agent_no TEXT NOT NULL DEFAULT '',
    seen_at TEXT NOT NULL,           -- the floor's clock at the latest message
    PRIMARY KEY (site, desk)
);
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    site TEXT NOT NULL, desk TEXT NOT NULL,
    kind TEXT NOT NULL,
    call_id TEXT,
    agent_no TEXT NOT NULL DEFAULT '',
    t TEXT NOT NULL,                 -- when the desk raised it
    received_at TEXT NOT NULL,
    acked_at TEXT,
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS calls (
    id TEXT PRIMARY KEY,
    site TEXT NOT NULL, desk TEXT NOT NULL,
    agent_no TEXT NOT NULL DEFAULT '',
    started_at TEXT NOT NULL,        -- UTC
    received_at TEXT NOT NULL,
    record TEXT NOT NULL             -- the desk's record of the call (JSON)
);
CREATE TABLE IF NOT EXISTS rejects (
    reason TEXT PRIMARY KEY,
    n INTEGER NOT NULL,
    last_topic TEXT NOT NULL,
    last_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS calls_started ON calls(started_at);
CREATE INDEX IF NOT EXISTS alerts_t ON alerts(t);
"""


class FloorStore:
    """One connection to the floor's database (``readonly`` for readers)."""

    def __init__(self, path: str | os.PathLike, *, readonly: bool = False):
        self.path = os.fspath(path)
        if readonly:
            self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True,
                                       isolation_level=None, check_same_thread=False,
                                       timeout=30.0)
        else:
            parent = os.path.dirname(self.path)
            if parent:
                os.makedirs(parent, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None,
                                       check_same_thread=False, timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    # --- writing (the MQTT thread) -------------------------------------------------------

    def take(self, site: str, desk: str, kind: str, payload: dict) -> bool:
        """Store one checked message; True if it changed anything (False: a repeat)."""
        now = m.utc_iso()
        with self._lock:
            self._touch(site, desk, now)
            if kind == "status":
                self._db.execute("UPDATE desks SET online=?, version=COALESCE(?, version), "
                                 "agent_no=COALESCE(?, agent_no) WHERE site=? AND desk=?",
                                 (1 if payload["online"] else 0, payload.get("version"),
                                  payload.get("agent_no"), site, desk))
                return True
            if kind == "state":
                self._db.execute("UPDATE desks SET state=?, since=?, agent_no=? "
                                 "WHERE site=? AND desk=?",
                                 (payload["state"], payload.get("since") or payload["t"],
                                  str(payload.get("agent_no") or ""), site, desk))
                return True
            if kind == "alert":
                cur = self._db.execute(
                    "INSERT OR IGNORE INTO alerts (id, site, desk, kind, call_id, agent_no, t, "
                    "received_at, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (payload["id"], site, desk, str(payload["kind"]), payload.get("call_id"),
                     str(payload.get("agent_no") or ""),
                     m.utc_iso(m.parse_iso(payload["t"]).timestamp()), now, json.dumps(payload, ensure_ascii=False)))
                return cur.rowcount == 1
            if kind == "call":
                started = payload.get("started_at") or payload["t"]
                cur = self._db.execute(
                    "INSERT OR IGNORE INTO calls (id, site, desk, agent_no, started_at, "
                    "received_at, record) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (payload["id"], site, desk, str(payload.get("agent_no") or ""),
                     m.utc_iso(m.parse_iso(started).timestamp()), now,
                     json.dumps(payload, ensure_ascii=False)))
                return cur.rowcount == 1
        raise ValueError(kind)

    def _touch(self, site: str, desk: str, now: str) -> None:
        self._db.execute("INSERT INTO desks (site, desk, seen_at) VALUES (?, ?, ?) "
                         "ON CONFLICT(site, desk) DO UPDATE SET seen_at=excluded.seen_at",
                         (site, desk, now))

    def reject(self, reason: str, topic_name: str) -> None:
        with self._lock:
            self._db.execute("INSERT INTO rejects (reason, n, last_topic, last_at) "
                             "VALUES (?, 1, ?, ?) ON CONFLICT(reason) DO UPDATE SET n=n+1, "
                             "last_topic=excluded.last_topic, last_at=excluded.last_at",
                             (reason, topic_name[:200], m.utc_iso()))

    def ack(self, alert_id: str) -> tuple[str, str] | None:
        """Mark an alert acknowledged; ``(site, desk)`` of its desk, None if unknown."""
        with self._lock:
            row = self._db.execute("SELECT site, desk FROM alerts WHERE id=?",
                                   (alert_id,)).fetchone()
            if row is None:
                return None
            self._db.execute("UPDATE alerts SET acked_at=COALESCE(acked_at, ?) WHERE id=?",
                             (m.utc_iso(), alert_id))
            return row[0], row[1]

    # --- reading -------------------------------------------------------------------------

    def desks(self) -> list[dict]:
        cols = ("site", "desk", "online", "version", "state", "since", "agent_no", "seen_at")
        with self._lock:
            rows = self._db.execute(f"SELECT {', '.join(cols)} FROM desks "
                                    "ORDER BY site, desk").fetchall()
        return [dict(zip(cols, r), online=bool(r[2])) for r in rows]

    def open_alerts(self) -> list[dict]:
        cols = ("id", "site", "desk", "kind", "call_id", "agent_no", "t", "received_at")
        with self._lock:
            rows = self._db.execute(f"SELECT {', '.join(cols)} FROM alerts WHERE acked_at IS NULL "
                                    "ORDER BY t").fetchall()
        return [dict(zip(cols, r)) for r in rows]

    def counts(self) -> dict:
        with self._lock:
            calls = self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
            alerts = self._db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0]
            rejects = dict(self._db.execute("SELECT reason, n FROM rejects").fetchall())
        return {"calls": calls, "alerts": alerts, "rejects": rejects}

    def calls_between(self, start_iso: str, end_iso: str) -> list[dict]:
        """The records of calls started in [start, end) (UTC ISO times), oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT record FROM calls WHERE started_at >= ? AND "
                                    "started_at < ? ORDER BY started_at",
                                    (start_iso, end_iso)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def alerts_between(self, start_iso: str, end_iso: str) -> list[dict]:
        cols = ("id", "site", "desk", "kind", "call_id", "agent_no", "t", "acked_at")
        with self._lock:
            rows = self._db.execute(f"SELECT {', '.join(cols)} FROM alerts WHERE t >= ? AND t < ? "
                                    "ORDER BY t", (start_iso, end_iso)).fetchall()
        return [dict(zip(cols, r)) for r in rows]
