"""The call record: what the recorder writes for a call, crash recovery, and the floor report."""
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from deskline.call.events import (Alert, Hook, Key, Led, Line, Mute, Note, Play, PhraseDone,
                                  Release, Ring)
from deskline.dsp.state import LineState
from deskline.exc import JournalError
from deskline.record.journal import Journal
from deskline.record.recorder import CallRecorder


def _state(t_s, speech=True, level=-30.0, snr=25.0):
    return LineState(t_s=t_s, speech=speech, level_dbov=level, active_level_dbov=level,
                     noise_dbov=level - snr, snr_db=snr, peak_dbov=level + 12, clipped=False)


def _feed_speech(rec, t0_s, t1_s, **kw):
    n = round((t1_s - t0_s) / 0.01)
    for i in range(n):
        rec.on_event(Line(t0_s + (i + 1) * 0.01, _state(t0_s + (i + 1) * 0.01, **kw)))


def _normal_call(rec, t0=0.0, rings=2):
    for i in range(rings):
        rec.on_event(Ring(t0 + 4.0 * i))
    answer = t0 + 4.0 * rings
    rec.on_event(Hook(answer, True))
    rec.on_actions([Play(answer, "greeting", {"agent_no": "1024"})])
    _feed_speech(rec, answer + 4.0, answer + 10.0, level=-26.0)
    rec.on_event(Key(answer + 12.0, "hold"))
    rec.on_actions([Play(answer + 12.0, "hold_ask")])
    rec.on_event(PhraseDone(answer + 14.0, "hold_ask"))
    rec.on_actions([Mute(answer + 14.0, True), Led(answer + 14.0, "on")])
    _feed_speech(rec, answer + 20.0, answer + 25.0, level=-50.0)   # on hold: not the caller's figures
    rec.on_actions([Led(answer + 34.0, "blink_slow")])
    rec.on_event(Key(answer + 44.0, "hold"))
    rec.on_actions([Mute(answer + 44.0, False), Led(answer + 44.0, "off"),
                    Play(answer + 44.0, "hold_resume")])
    rec.on_event(Hook(answer + 60.0, False))
    return answer


def test_normal_call_record(tmp_path):
    with Journal(tmp_path / "calls.db", clock=lambda: "2026-01-01T09:00:00+00:00") as j:
        rec = CallRecorder(j, source="test.wav", profile="standard")
        answer = _normal_call(rec)
        assert rec.call_id is None and len(rec.call_ids) == 1
        call = j.call(rec.call_ids[0])
    assert call["rings"] == 2
    assert call["answered_t_s"] == answer and call["answer_delay_s"] == 8.0
    assert call["duration_s"] == 60.0 and call["ended_t_s"] == answer + 60.0
    assert call["end_reason"] == "agent_hangup" and call["released_by"] == "agent"
    assert call["caller_speech_s"] == 6.0 and call["caller_level_dbov"] == -26.0
    assert call["caller_snr_db"] == 25.0
    assert call["holds"] == [{"start_t_s": answer + 14.0, "end_t_s": answer + 44.0, "length_s": 30.0}]
    assert [(p["phrase"], p["asked_by"]) for p in call["prompts"]] == [
        ("greeting", "device"), ("hold_ask", "agent"), ("hold_resume", "agent")]
    assert call["prompts"][0]["measurements"]["caller_speech_s"] == 0.0
    assert not (call["silent"] or call["quiet"] or call["noisy"])


def test_quality_prompt_keeps_its_measurements_and_device_release(tmp_path):
    with Journal(tmp_path / "calls.db") as j:
        rec = CallRecorder(j)
        rec.on_event(Hook(0.0, True))
        rec.on_actions([Play(0.0, "greeting")])
        _feed_speech(rec, 3.0, 7.0, level=-47.0, snr=20.0)
        rec.on_actions([Play(7.5, "speak_louder", reason="quiet"),
                        Note(7.5, "quiet_caller", {"active_level_dbov": -47.0})])
        _feed_speech(rec, 10.0, 14.0, level=-47.0, snr=20.0)
        rec.on_actions([Play(14.5, "switch_phone_quiet", reason="quiet")])
        rec.on_actions([Release(21.0)])
        call = j.call(rec.call_ids[0])
        facts = j.facts(rec.call_ids[0])
    assert call["end_reason"] == "device_release" and call["released_by"] == "device"
    assert call["quiet"] and not call["noisy"] and not call["silent"]
    louder = call["prompts"][1]
    assert louder["phrase"] == "speak_louder" and louder["reason"] == "quiet"
    m = louder["measurements"]
    assert m["rx"]["active_level_dbov"] == -47.0 and m["caller_speech_s"] == 4.0
    assert m["notes"] == {"quiet_caller": {"active_level_dbov": -47.0}}
    assert [f["kind"] for f in facts] == ["hook", "play", "play", "quiet_caller", "play", "release"]


def test_far_end_hangup_then_agent_hangs_up(tmp_path):
    with Journal(tmp_path / "calls.db") as j:
        rec = CallRecorder(j)
        rec.on_event(Hook(1.0, True))
        rec.on_actions([Note(30.0, "far_end_hangup", {"plan": "cn", "kind": "busy"}),
                        Led(30.0, "hang_up"), Alert(30.0, "far_end_hangup")])
        rec.on_event(Hook(36.0, False))
        call = j.call(rec.call_ids[0])
    assert call["far_end_hangup_t_s"] == 30.0
    assert call["end_reason"] == "far_end_hangup" and call["released_by"] == "caller"
    assert call["duration_s"] == 35.0


def test_unanswered_and_end_of_recording(tmp_path):
    with Journal(tmp_path / "calls.db") as j:
        rec = CallRecorder(j)
        rec.on_event(Ring(0.0))
        rec.on_event(Ring(4.0))
        rec.finish(9.0)
        rec.on_event(Hook(20.0, True))
        rec.finish(50.0)
        first, second = (j.call(i) for i in rec.call_ids)
    assert first["end_reason"] == "unanswered" and first["answered_t_s"] is None
    assert first["rings"] == 2 and first["duration_s"] == 0.0
    assert second["end_reason"] == "end_of_recording" and second["duration_s"] == 30.0


def test_crash_mid_call_loses_nothing_and_closes_as_interrupted(tmp_path):
    db = tmp_path / "calls.db"
    script = textwrap.dedent(f"""
        import os
        from deskline.call.events import Hook, Mute, Play, Ring
        from deskline.record.journal import Journal
        from deskline.record.recorder import CallRecorder
        rec = CallRecorder(Journal({str(db)!r}))
        rec.on_event(Ring(0.0)); rec.on_event(Ring(4.0)); rec.on_event(Ring(8.0)); rec.on_event(Ring(12.0))
        rec.on_event(Hook(13.0, True))
        rec.on_actions([Play(13.0, "greeting_late")])
        rec.on_actions([Mute(40.0, True)])
        os._exit(9)   # power cut: no close, no finish
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr
    with Journal(db, readonly=True) as ro:       # a reader must not close a live call
        assert ro.call(1)["end_reason"] is None
    with Journal(db) as j:
        assert j.recovered == [1]
        call = j.call(1)
    assert call["end_reason"] == "interrupted" and call["ended_t_s"] == 40.0
    assert call["rings"] == 4 and call["answered_t_s"] == 13.0 and call["duration_s"] == 27.0
    assert call["prompts"][0]["phrase"] == "greeting_late"
    assert call["holds"] == [{"start_t_s": 40.0, "end_t_s": 40.0, "length_s": 0.0}]
    with Journal(db) as j:
        assert j.recovered == []


def test_wal_mode_and_readonly_refuses_writes(tmp_path):
    db = tmp_path / "calls.db"
    Journal(db).close()
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with Journal(db, readonly=True) as ro:
        with pytest.raises(JournalError, match="cannot write"):
            ro.open_call(0.0)


def test_bad_databases_are_named(tmp_path):
    with pytest.raises(JournalError, match="no such call record"):
        Journal(tmp_path / "none.db", readonly=True)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(JournalError, match=rf"^{junk}: damaged call record"):
        Journal(junk, readonly=True)


def test_report_for_the_floor(tmp_path):
    with Journal(tmp_path / "calls.db") as j:
        rec = CallRecorder(j)
        _normal_call(rec, 0.0, rings=2)                 # hold 30 s
        _normal_call(rec, 100.0, rings=5)               # late answer, hold 30 s
        rec.on_event(Hook(300.0, True))                 # silent call, device releases
        rec.on_actions([Play(300.0, "greeting")])
        rec.on_actions([Play(309.0, "greeting_repeat", reason="silence")])
        rec.on_actions([Play(317.0, "no_sound_goodbye", reason="silence")])
        rec.on_actions([Release(326.0)])
        rec.on_event(Hook(400.0, True))                 # a long hold
        rec.on_actions([Mute(410.0, True)])
        rec.on_actions([Mute(560.0, False)])
        rec.on_event(Hook(600.0, False))
        rec.on_event(Ring(700.0))                       # missed
        rec.finish(720.0)
        r = j.report()
    assert r["calls"] == 5 and r["answered"] == 4 and r["unanswered"] == 1
    assert r["answered_within_3_rings"] == 3 and r["answered_within_3_rings_pct"] == 75.0
    assert r["holds"] == 3 and r["holds_over_20_s"] == 3 and r["holds_over_120_s"] == 1
    assert r["longest_hold_s"] == 150.0
    assert r["silent_calls"] == 1 and r["quiet_calls"] == 0 and r["noisy_calls"] == 0
    assert r["released_by"] == {"agent": 3, "device": 1}
    assert r["device_prompts"] == 2            # greetings are not prompts
    talk_h = (60 + 60 + 26 + 200) / 3600
    assert r["talk_time_s"] == 346.0
    assert r["prompts_per_hour"] == round(2 / talk_h, 1)


def _calls_cli(argv, capsys):
    """Run ``deskline calls`` (its module directly: the CLI finds it by the same NAME)."""
    import argparse
    from deskline.commands import calls
    parser = argparse.ArgumentParser()
    calls.add_arguments(parser)
    code = calls.run(parser.parse_args(argv))
    return code, capsys.readouterr().out


def test_calls_command_lists_and_reports(tmp_path, capsys):
    import json
    db = tmp_path / "calls.db"
    with Journal(db) as j:
        rec = CallRecorder(j)
        _normal_call(rec, 0.0, rings=2)
        _normal_call(rec, 100.0, rings=4)
    code, out = _calls_cli(["--db", str(db)], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["call", "started"] and len(lines) == 3
    assert lines[1].split()[0] == "2" and "agent_hangup (agent)" in lines[1] and "30.0 s" in lines[1]
    code, out = _calls_cli(["--db", str(db), "--json", "--limit", "1"], capsys)
    rows = [json.loads(x) for x in out.splitlines()]
    assert [r["id"] for r in rows] == [2] and rows[0]["rings"] == 4
    code, out = _calls_cli(["--db", str(db), "--report"], capsys)
    assert "Answered within 3 rings: 1 of 2 (50.0%)" in out
    assert "Holds: 2; over 20 s: 2; over 2 min: 0" in out
    code, out = _calls_cli(["--db", str(db), "--report", "--json"], capsys)
    assert json.loads(out)["answered_within_3_rings_pct"] == 50.0


def test_hang_up_asked_by_led_is_a_device_release_done_by_the_agent(tmp_path):
    with Journal(tmp_path / "calls.db") as j:
        rec = CallRecorder(j)
        rec.on_event(Hook(0.0, True))
        rec.on_actions([Play(14.0, "no_sound_goodbye", reason="silence")])
        rec.on_actions([Led(22.0, "hang_up")])
        rec.on_event(Hook(25.0, False))
        call = j.call(rec.call_ids[0])
    assert call["end_reason"] == "device_release" and call["released_by"] == "agent"
    assert call["silent"]


def test_calls_command_finds_the_record_through_the_config(tmp_path, capsys, monkeypatch):
    db = tmp_path / "desk.db"
    with Journal(db) as j:
        _normal_call(CallRecorder(j))
    cfg = tmp_path / "deskline.toml"
    cfg.write_text(f'[journal]\npath = "{db}"\n')
    monkeypatch.delenv("DESKLINE_JOURNAL", raising=False)
    code, out = _calls_cli(["--config", str(cfg), "--json"], capsys)
    assert code == 0 and len(out.splitlines()) == 1
    monkeypatch.setenv("DESKLINE_JOURNAL", str(tmp_path / "other.db"))
    code, out = _calls_cli(["--config", str(cfg), "--json"], capsys)   # the flag wins
    assert code == 0 and len(out.splitlines()) == 1
    with pytest.raises(JournalError, match="other.db: no such call record"):
        _calls_cli([], capsys)


def test_a_second_writer_leaves_the_live_writers_call_open(tmp_path):
    db = tmp_path / "calls.db"
    live = Journal(db)
    rec = CallRecorder(live)
    rec.on_event(Hook(0.0, True))                  # the service is mid-call
    with Journal(db) as other:                     # e.g. simulate --journal on the same file
        assert other.recovered == []
        assert other.call(rec.call_id)["end_reason"] is None
    assert live.call(rec.call_id)["end_reason"] is None
    live.close()                                   # the service died without closing the call
    with Journal(db) as restarted:
        assert restarted.recovered == [1]


def test_ringing_that_stops_is_an_unanswered_call_of_its_own(tmp_path):
    with Journal(tmp_path / "calls.db") as j:
        rec = CallRecorder(j)
        rec.on_event(Ring(0.0))
        rec.on_event(Ring(4.0))
        rec.on_actions([Note(14.0, "ringing_stopped", {"rings": 2})])   # the caller gave up
        _normal_call(rec, 100.0, rings=1)
        first, second = (j.call(i) for i in rec.call_ids)
        r = j.report()
    assert first["end_reason"] == "unanswered" and first["rings"] == 2
    assert first["answered_t_s"] is None and first["duration_s"] == 0.0
    assert second["rings"] == 1 and second["answer_delay_s"] == 4.0   # not 104 s, not 3 rings
    assert r["unanswered"] == 1 and r["answered_within_3_rings"] == 1


def test_late_greeting_is_recorded_and_not_a_silent_call(tmp_path):
    with Journal(tmp_path / "calls.db") as j:
        rec = CallRecorder(j, agent_no="1024")
        for i in range(4):
            rec.on_event(Ring(4.0 * i))
        rec.on_event(Hook(16.0, True))
        rec.on_actions([Play(16.0, "greeting_late", {"agent_no": "1024"}, reason="answered")])
        _feed_speech(rec, 30.0, 34.0)
        rec.on_event(Hook(60.0, False))
        call = j.call(rec.call_ids[0])
        r = j.report()
    assert call["late_greeting"] and not call["silent"] and call["agent_no"] == "1024"
    assert r["late_greetings"] == 1 and r["silent_calls"] == 0
    assert r["agent_hung_up_first"] == 1


def test_report_by_date_range_and_agent(tmp_path, capsys):
    import json
    db = tmp_path / "calls.db"
    days = iter(["2026-03-01T09:00:00+00:00", "2026-03-02T23:59:00+00:00",
                 "2026-03-03T00:01:00+00:00"])
    with Journal(db, clock=lambda: next(days)) as j:
        _normal_call(CallRecorder(j, agent_no="1001"), 0.0, rings=2)
        _normal_call(CallRecorder(j, agent_no="1002"), 100.0, rings=4)
        rec = CallRecorder(j, agent_no="1001")
        _normal_call(rec, 200.0, rings=1)
        rec.on_event(Key(260.0, "phrase:thanks"))          # after the on-hook: not a call's
    code, out = _calls_cli(["--db", str(db), "--report", "--json", "--since", "2026-03-02",
                            "--until", "2026-03-02"], capsys)
    r = json.loads(out)
    assert code == 0 and r["calls"] == 1 and r["answered_within_3_rings"] == 0
    code, out = _calls_cli(["--db", str(db), "--report", "--json", "--agent", "1001"], capsys)
    r = json.loads(out)
    assert r["calls"] == 2 and r["holds"] == 2 and r["first_call_at"].startswith("2026-03-01")
    code, out = _calls_cli(["--db", str(db), "--report", "--agent", "1001",
                            "--since", "2026-03-02"], capsys)
    assert out.splitlines()[0].startswith("Calls of agent 1001, started 2026-03-02")
    assert "Calls: 1 (1 answered" in out
    with pytest.raises(SystemExit):
        _calls_cli(["--db", str(db), "--report", "--since", "March"], capsys)
    assert "not a date (YYYY-MM-DD): 'March'" in capsys.readouterr().err


def test_agent_phrases_in_the_report(tmp_path):
    with Journal(tmp_path / "calls.db") as j:
        rec = CallRecorder(j)
        rec.on_event(Hook(0.0, True))
        rec.on_actions([Play(0.0, "greeting", reason="answered")])
        rec.on_event(Key(20.0, "phrase:wrong_number"))
        rec.on_actions([Play(20.0, "wrong_number", reason="key:phrase")])
        rec.on_event(Hook(40.0, False))
        r = j.report()
    assert r["agent_phrases"] == 1 and r["agent_phrases_by_phrase"] == {"wrong_number": 1}
    assert r["device_prompts"] == 0


def test_a_record_of_the_first_schema_gains_the_new_columns(tmp_path):
    db = tmp_path / "old.db"
    with Journal(db) as j:
        _normal_call(CallRecorder(j))
    con = sqlite3.connect(db)
    con.execute("ALTER TABLE calls DROP COLUMN agent_no")
    con.execute("ALTER TABLE calls DROP COLUMN late_greeting")
    con.execute("PRAGMA user_version=1")
    con.commit()
    con.close()
    with Journal(db, readonly=True) as j:                 # read as it is: the defaults
        assert j.call(1)["agent_no"] == "" and j.report(agent_no="")["calls"] == 1
    with Journal(db) as j:                                # the service's open adds them
        _normal_call(CallRecorder(j, agent_no="1003"), 100.0)
        assert j.call(2)["agent_no"] == "1003" and j.call(1)["agent_no"] == ""
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA user_version").fetchone()[0] == 2
    con.close()
