"""The call record against damaged, foreign, newer and older files: look first, write after."""
import hashlib
import json
import os
import sqlite3
import subprocess
import sys

import pytest

from deskline.call.events import Hook, Play, Ring
from deskline.exc import JournalError
from deskline.record import journal as journal_mod
from deskline.record.journal import SCHEMA_VERSION, Journal, set_aside_files
from deskline.record.recorder import CallRecorder

# What a desk of schema 1 has on disk (the record before `resumed`), as that release made it.
SCHEMA_V1 = """
CREATE TABLE calls (
    id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, source TEXT NOT NULL,
    profile TEXT NOT NULL DEFAULT '', start_t_s REAL NOT NULL, rings INTEGER NOT NULL DEFAULT 0,
    answered_t_s REAL, answer_delay_s REAL, ended_t_s REAL, duration_s REAL,
    far_end_hangup_t_s REAL, released_by TEXT, end_reason TEXT, last_t_s REAL NOT NULL,
    caller_speech_s REAL NOT NULL DEFAULT 0, caller_level_dbov REAL, caller_snr_db REAL,
    silent INTEGER NOT NULL DEFAULT 0, quiet INTEGER NOT NULL DEFAULT 0,
    noisy INTEGER NOT NULL DEFAULT 0);
CREATE TABLE holds (id INTEGER PRIMARY KEY, call_id INTEGER NOT NULL REFERENCES calls(id),
    start_t_s REAL NOT NULL, end_t_s REAL, length_s REAL);
CREATE TABLE prompts (id INTEGER PRIMARY KEY, call_id INTEGER NOT NULL REFERENCES calls(id),
    t_s REAL NOT NULL, phrase TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
    asked_by TEXT NOT NULL, measurements TEXT NOT NULL DEFAULT '{}');
CREATE TABLE facts (id INTEGER PRIMARY KEY, call_id INTEGER NOT NULL REFERENCES calls(id),
    t_s REAL NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL DEFAULT '{}');
"""


def _v1_record(path, *, stamp=True, open_call=False):
    db = sqlite3.connect(path)
    db.executescript(SCHEMA_V1)
    db.execute("INSERT INTO calls (started_at, source, start_t_s, answered_t_s, ended_t_s, "
               "duration_s, end_reason, released_by, last_t_s, silent) VALUES "
               "('2026-01-01T09:00:00+00:00', 'live', 0, 4, 64, 60, 'agent_hangup', 'agent', "
               "64, 1)")
    if open_call:
        db.execute("INSERT INTO calls (started_at, source, start_t_s, answered_t_s, last_t_s) "
                   "VALUES ('2026-01-01T10:00:00+00:00', 'live', 100, 101, 130)")
    if stamp:
        db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()


def _digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def _record_calls(path, n):
    with Journal(path) as j:
        rec = CallRecorder(j)
        for i in range(n):
            t = 100.0 * i
            rec.on_event(Ring(t))
            rec.on_event(Hook(t + 3.0, True))
            rec.on_actions([Play(t + 3.0, "greeting", {"agent_no": "7"})])
            for k in range(3):
                rec.journal.fact(rec.call_id, t + 4 + k, "note", {"pad": "x" * 1500})
            rec.on_event(Hook(t + 60.0, False))


# --- damaged records: set aside, fresh record, the desk goes on ----------------------------

def test_a_damaged_record_is_set_aside_and_a_fresh_one_started(tmp_path, caplog):
    db = tmp_path / "calls.db"
    db.write_bytes(b"garbage, not an SQLite file " * 200)
    junk = db.read_bytes()
    with Journal(db) as j:
        assert j.set_aside and os.path.basename(j.set_aside).startswith("calls.db.damaged-")
        rec = CallRecorder(j)
        rec.on_event(Hook(0.0, True))
        rec.on_event(Hook(10.0, False))
        assert j.call(1)["end_reason"] == "agent_hangup"
    assert open(j.set_aside, "rb").read() == junk          # kept, byte for byte
    assert set_aside_files(db) == [j.set_aside]
    said = [r for r in caplog.records if "set aside" in r.getMessage()]
    assert len(said) == 1 and "\n" not in said[0].getMessage()
    with Journal(db) as again:                             # the fresh record is sound
        assert again.set_aside is None and again.calls()[0]["id"] == 1


def test_a_truncated_record_is_set_aside_with_its_wal(tmp_path):
    db = tmp_path / "calls.db"
    _record_calls(db, 30)
    size = os.path.getsize(db)
    with open(db, "r+b") as fh:
        fh.truncate(size // 2)
    open(str(db) + "-wal", "wb").write(b"\0" * 64)          # a stray WAL goes with it
    with Journal(db) as j:
        assert j.set_aside is not None
        assert os.path.exists(j.set_aside + "-wal")
        assert j.calls() == []
    assert os.path.getsize(j.set_aside) == size // 2


def test_the_calls_command_reads_what_it_can_of_a_damaged_record(tmp_path, capsys):
    db = tmp_path / "calls.db"
    _record_calls(db, 60)
    page = sqlite3.connect(db).execute("PRAGMA page_size").fetchone()[0]
    # overwrite a stretch of pages in the middle of the file (the facts and some calls)
    size = os.path.getsize(db)
    with open(db, "r+b") as fh:
        fh.seek((size // page // 2) * page)
        fh.write(b"\xa5" * page * 3)
    from deskline.cli import main
    code = main(["calls", "--db", str(db), "--json", "--limit", "0"])
    out, err = capsys.readouterr()
    rows = [json.loads(x) for x in out.splitlines()]
    assert code == 0 and rows, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) <= 1
    ids = [r["id"] for r in rows]
    assert ids == sorted(ids, reverse=True) and ids[0] == 60


def test_doctor_and_calls_say_a_record_was_set_aside(tmp_path, capsys, monkeypatch):
    db = tmp_path / "calls.db"
    db.write_bytes(b"\x00garbage" * 500)
    Journal(db).close()
    cfg = tmp_path / "deskline.toml"
    cfg.write_text(f'[journal]\npath = "{db}"\n')
    from deskline.commands import doctor
    from deskline.config import load_config
    r = doctor._Report()
    doctor._check_journal(r, load_config(cfg))
    out = capsys.readouterr().out
    assert "set aside" in out and ".damaged-" in out and r.failed == 0
    monkeypatch.setenv("DESKLINE_JOURNAL", str(db))
    from deskline.cli import main
    assert main(["calls"]) == 0
    err = capsys.readouterr().err
    assert "set aside" in err and ".damaged-" in err


def test_run_starts_on_a_damaged_record(tmp_path, monkeypatch):
    """``deskline run``'s recorder opens (and says so) instead of the service exiting."""
    from deskline.commands.run import open_recorder_for
    from deskline.config import loads_config
    db = tmp_path / "calls.db"
    db.write_bytes(b"not a database " * 300)
    cfg = loads_config(f'[journal]\npath = "{db}"\n')
    recorder, close = open_recorder_for(cfg)
    try:
        assert recorder.journal.set_aside is not None
    finally:
        close()


def test_a_damaged_record_another_writer_holds_is_not_moved(tmp_path):
    db = tmp_path / "calls.db"
    db.write_bytes(b"not a database " * 300)
    lock = open(str(db) + ".lock", "a+b")
    import fcntl
    fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
    try:
        with pytest.raises(JournalError, match="damaged.*another deskline process"):
            Journal(db)
        assert set_aside_files(db) == []
    finally:
        lock.close()


# --- look first, write after ----------------------------------------------------------------

def test_a_foreign_sqlite_file_is_refused_untouched(tmp_path):
    db = tmp_path / "other.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE songs (title TEXT)")
    con.execute("INSERT INTO songs VALUES ('x')")
    con.commit()
    con.close()
    before = _digest(db)
    with pytest.raises(JournalError, match=r"other.db: not a deskline call record \(its tables: songs"):
        Journal(db)
    assert _digest(db) == before
    assert {r[0] for r in sqlite3.connect(db).execute("SELECT name FROM sqlite_master")} == {"songs"}
    assert set_aside_files(db) == []


def test_a_newer_record_is_refused_untouched(tmp_path):
    db = tmp_path / "calls.db"
    Journal(db).close()
    con = sqlite3.connect(db)
    con.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    con.commit()
    con.close()
    before = _digest(db)
    with pytest.raises(JournalError, match=rf"schema {SCHEMA_VERSION + 1}, this deskline reads"):
        Journal(db)
    assert _digest(db) == before


# --- migrations, one step at a time ---------------------------------------------------------

def test_every_migration_step_has_a_test_below():
    assert sorted(journal_mod.MIGRATIONS) == list(range(1, SCHEMA_VERSION))


@pytest.mark.parametrize("stamp", [True, False], ids=["v1", "v1-unstamped"])
def test_migration_1_to_2_adds_resumed_and_keeps_every_call(tmp_path, stamp):
    db = tmp_path / "calls.db"
    _v1_record(db, stamp=stamp, open_call=True)
    with Journal(db, readonly=True) as ro:                 # a reader reads a v1 record as it is
        assert [c["id"] for c in ro.calls()] == [2, 1]
        assert ro.calls()[1]["resumed"] is False
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == (1 if stamp else 0)
    with Journal(db) as j:
        assert j.recovered == [2]                          # the open call closed as before
        calls = {c["id"]: c for c in j.calls()}
        assert calls[1]["silent"] is True and calls[1]["duration_s"] == 60.0
        assert calls[1]["resumed"] is False
        assert calls[2]["end_reason"] == "interrupted"
        j.update_call(1, resumed=1)
        assert j.call(1)["resumed"] is True
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    assert "resumed" in {r[1] for r in con.execute("PRAGMA table_info(calls)")}


def test_a_failed_migration_leaves_the_record_at_its_version(tmp_path, monkeypatch):
    db = tmp_path / "calls.db"
    _v1_record(db)
    monkeypatch.setitem(journal_mod.MIGRATIONS, 1,
                        ("ALTER TABLE calls ADD COLUMN resumed INTEGER NOT NULL DEFAULT 0",
                         "THIS IS NOT SQL"))
    with pytest.raises(JournalError, match="cannot open the call record"):
        Journal(db)
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA user_version").fetchone()[0] == 1
    assert "resumed" not in {r[1] for r in con.execute("PRAGMA table_info(calls)")}


# --- one clear line ----------------------------------------------------------------------------

def test_a_folder_that_cannot_be_made_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(JournalError, match=r"cannot make its folder .*file"):
        Journal(blocker / "sub" / "calls.db")


def test_a_wal_record_in_a_read_only_folder_reads(tmp_path):
    """A reader who cannot write the record's folder (not root: root writes anywhere) reads it."""
    import shutil
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv to read as someone who cannot write the folder")
    folder = tmp_path / "state"
    folder.mkdir()
    db = folder / "calls.db"
    _record_calls(db, 2)
    os.chmod(folder, 0o555)
    try:
        code = ("import sys; from deskline.cli import main; "
                "sys.exit(main(['calls', '--json', '--db', sys.argv[1]]))")
        proc = subprocess.run([setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner",
                               "--inh-caps=-all", "--", sys.executable, "-c", code, str(db)],
                              capture_output=True, text=True)
    finally:
        os.chmod(folder, 0o755)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 2



def _three_calls_left_in_the_wal(db):
    """Three calls written by another process that dies as a killed service does: its WAL is
    never folded into the record."""
    writer = ("import os, sys\n"
              "from deskline.call.events import Hook, Ring\n"
              "from deskline.record.journal import Journal\n"
              "from deskline.record.recorder import CallRecorder\n"
              "rec = CallRecorder(Journal(sys.argv[1]))\n"
              "for i in range(3):\n"
              "    rec.on_event(Ring(100.0 * i)); rec.on_event(Hook(100.0 * i + 3, True))\n"
              "    rec.on_event(Hook(100.0 * i + 60, False))\n"
              "os._exit(0)\n")
    subprocess.run([sys.executable, "-c", writer, str(db)], check=True)

def test_a_record_with_calls_still_in_its_wal_reads_from_a_read_only_folder(tmp_path):
    """The service stopped hard (its WAL not folded in, no -shm left): a reader who cannot
    write the folder still reads every call, and the record's files are left as they were."""
    import shutil
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv to read as someone who cannot write the folder")
    folder = tmp_path / "state"
    folder.mkdir()
    db = folder / "calls.db"
    _three_calls_left_in_the_wal(db)
    (folder / "calls.db-shm").unlink(missing_ok=True)     # e.g. a copy taken without it
    assert (folder / "calls.db-wal").stat().st_size > 0
    before = {p.name: _digest(p) for p in folder.iterdir()}
    os.chmod(folder, 0o555)
    try:
        code = ("import sys; from deskline.cli import main; "
                "sys.exit(main(['calls', '--json', '--db', sys.argv[1]]))")
        proc = subprocess.run([setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner",
                               "--inh-caps=-all", "--", sys.executable, "-c", code, str(db)],
                              capture_output=True, text=True)
    finally:
        os.chmod(folder, 0o755)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 3
    assert {p.name: _digest(p) for p in folder.iterdir()} == before


def test_run_names_a_journal_folder_it_cannot_make_as_a_setting(tmp_path, monkeypatch, capsys):
    """Exit 78 and one line naming the setting, on the fake desk too (whose closing once
    hid it behind a GPIO traceback)."""
    from deskline.cli import main
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cfg = tmp_path / "desk.toml"
    cfg.write_text('[desk]\nhotline_name = "12345"\nagent_no = "7"\n\n'
                   f'[journal]\npath = "{blocker}/sub/calls.db"\n')
    monkeypatch.setenv("DESKLINE_HW", "fake")
    monkeypatch.setenv("DESKLINE_FAKE_SOCKET", str(tmp_path / "hw.sock"))
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert main(["run", "--config", str(cfg)]) == 78
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = [l for l in err.splitlines() if l.startswith("deskline run:")]
    assert line.startswith(f"deskline run: {cfg}:6: journal.path: ") and "cannot make its folder" \
        in line


def test_a_record_whose_every_lookup_fails_is_read_to_an_end(tmp_path):
    """The calls table's page overwritten: each call's lookup fails. Reading gives up after
    a bounded search with what it has, rather than probing ids for ever."""
    db = tmp_path / "calls.db"
    _record_calls(db, 3)
    con = sqlite3.connect(db)
    (root,) = con.execute("SELECT rootpage FROM sqlite_master WHERE name='calls'").fetchone()
    (page,) = con.execute("PRAGMA page_size").fetchone()
    con.close()
    raw = bytearray(db.read_bytes())
    start = (root - 1) * page
    raw[start:start + page] = b"\x0d" + b"\xff" * (page - 1)       # a leaf page of nonsense
    db.write_bytes(bytes(raw))
    code = ("import sys, json; from deskline.record.journal import Journal\n"
            "j = Journal(sys.argv[1], readonly=True)\n"
            "try:\n    print(json.dumps([len(j.calls()), len(j.unreadable)]))\n"
            "except Exception as exc:\n    print(json.dumps(type(exc).__name__))\n")
    proc = subprocess.run([sys.executable, "-c", code, str(db)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) in ([0, 0], "JournalError")


def test_a_set_aside_cut_between_the_record_and_its_wal_keeps_the_wal(tmp_path, caplog):
    """The power went while a damaged record was being set aside: the file was moved, its WAL
    (the last calls, not yet folded in) was not. The fresh record must not swallow that WAL
    (SQLite would drop it); it goes beside the record it belongs to, and reads with it."""
    folder = tmp_path / "a"
    folder.mkdir()
    db = folder / "calls.db"
    _three_calls_left_in_the_wal(db)
    wal = (folder / "calls.db-wal").read_bytes()
    assert len(wal) > 0
    aside = folder / "calls.db.damaged-20260101T000000Z"
    os.rename(db, aside)                                   # ... and here the power went
    (folder / "calls.db-shm").unlink(missing_ok=True)
    with Journal(db) as j:
        assert j.calls() == []
        rec = CallRecorder(j)
        rec.on_event(Hook(0.0, True))
        rec.on_event(Hook(10.0, False))
    assert (folder / "calls.db-wal").exists() is False or \
        (folder / "calls.db-wal").read_bytes() != wal
    assert open(str(aside) + "-wal", "rb").read() == wal   # kept, byte for byte
    with Journal(aside, readonly=True) as old:
        assert [c["id"] for c in old.calls()] == [3, 2, 1]
    assert any("without its record" in r.getMessage() for r in caplog.records)
    with Journal(db, readonly=True) as fresh:
        assert [c["id"] for c in fresh.calls()] == [1]


def test_a_call_end_is_one_commit_all_of_it_or_none(tmp_path, monkeypatch):
    """The power goes while a call's end is being written: after the figures, before how it
    ended. The record must not keep half an end (figures of a finished call on a call that
    comes back open): the end is one commit, so the call comes back as it was before it."""
    db = tmp_path / "calls.db"
    with Journal(db) as j:
        rec = CallRecorder(j)
        rec.on_event(Hook(0.0, True))
        rec.on_event(Hook(30.0, False))          # a whole call, for comparison
        first = j.calls()[0]
        rec.on_event(Hook(40.0, True))

        def power_cut(*a, **k):
            raise JournalError("the power went")
        monkeypatch.setattr(j, "close_call", power_cut)
        monkeypatch.setattr(rec, "_agent_figures", lambda: {"talk_overs": 7})
        with pytest.raises(JournalError):
            rec.on_event(Hook(70.0, False))
        monkeypatch.undo()
    with Journal(db) as j:                       # the next start closes what was left open
        second = [c for c in j.calls() if c["id"] != first["id"]][0]
    assert first["end_reason"] != "interrupted"
    assert second["end_reason"] == "interrupted"
    assert second["talk_overs"] == 0             # the end's figures went with the end


def test_a_transaction_inside_another_is_part_of_it(tmp_path):
    with Journal(tmp_path / "calls.db") as j:
        with pytest.raises(RuntimeError):
            with j.transaction():
                call = j.open_call(1.0)
                with j.transaction():
                    j.update_call(call, talk_overs=3)
                raise RuntimeError("before the outer commit")
        assert j.calls() == []
