"""kill -9 at random moments of 50 calls on the real service: the call record survives.

Each call is the agent lifting the handset and putting it down on the fake desk. At random
moments (during a call, just after the hang-up, between calls) the service is killed with
SIGKILL and started again. After every kill the record must open cleanly (SQLite integrity
check, read-only open), and at the end every call that had finished before a kill is still
there, finished; calls a kill cut short are closed as ``interrupted`` by the next start.
"""
import random
import signal
import sqlite3
import time

import pytest

from deskline.record.journal import Journal

from live_harness import CONFIG, LiveService, write_short_phrases

pytestmark = pytest.mark.audio

CALLS = 50
KILL_CHANCE = 0.2
SEED = 20261122


def _rows(path):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {cid: reason for cid, reason in db.execute("SELECT id, end_reason FROM calls")}
    finally:
        db.close()


def _wait_closed(path, n_before, timeout_s=3.0):
    """The id of the newest call once it is recorded as hung up by the agent, else None."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        rows = _rows(path)
        if len(rows) > n_before:
            newest = max(rows)
            if rows[newest] == "agent_hangup":
                return newest
        time.sleep(0.02)
    return None


def test_kill_minus_nine_loses_no_finished_call(pulse, tmp_path):
    rng = random.Random(SEED)
    phrases = write_short_phrases(tmp_path / "phrases")
    db = tmp_path / "calls.db"
    cfg = tmp_path / "deskline.toml"
    cfg.write_text(CONFIG.format(journal=db, phrases=phrases), encoding="utf-8")
    svc = LiveService(str(tmp_path), pulse.env, str(cfg)).start()
    finished: set[int] = set()
    kills = 0
    try:
        for _ in range(CALLS):
            n_before = len(_rows(db)) if db.exists() else 0
            kill_at = rng.choice(["talking", "hanging_up", "after"]) \
                if rng.random() < KILL_CHANCE else None
            svc.desk.send("hook off")
            time.sleep(rng.uniform(0.05, 0.3))
            if kill_at == "talking":
                time.sleep(rng.uniform(0.0, 0.3))
            else:
                svc.desk.send("hook on")
                if kill_at == "hanging_up":
                    time.sleep(rng.uniform(0.0, 0.3))   # maybe before the hang-up is final
                else:
                    done = _wait_closed(db, n_before)
                    assert done is not None, svc.log()[-2000:]
                    finished.add(done)
            if kill_at:
                if kill_at == "after":
                    time.sleep(rng.uniform(0.0, 0.2))
                svc.stop(signal.SIGKILL)
                kills += 1
                rows = _rows(db)                         # opens cleanly, integrity ok
                Journal(db, readonly=True).close()
                assert finished <= set(rows)
                svc.start()                              # recovers calls left open
        assert svc.stop(signal.SIGTERM) == 0
    finally:
        svc.close()
    rows = _rows(db)
    assert kills >= 6
    assert all(rows[cid] == "agent_hangup" for cid in finished)
    assert None not in rows.values()                     # nothing left open
    assert len(finished) >= CALLS - kills
    assert set(rows.values()) <= {"agent_hangup", "interrupted", "unanswered", "service_stopped"}
