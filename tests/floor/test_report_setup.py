"""The report's spans (days, ranges, shifts over midnight, in the floor's time zone) and the
broker's setup step as the floor's installer runs it."""
import datetime as dt
import os
import shutil
import zoneinfo

import pytest

from deskline.cli import main
from deskline.floor import report as rep

SH = zoneinfo.ZoneInfo("Asia/Shanghai")
SHIFTS = {"early": (360, 840), "night": (1320, 360)}


def utc(*a):
    return dt.datetime(*a, tzinfo=dt.timezone.utc)


def test_a_day_is_the_floors_local_day():
    assert rep.span("day", "2026-03-02", SH) == (utc(2026, 3, 1, 16), utc(2026, 3, 2, 16))


def test_a_range_takes_both_ends_whole():
    assert rep.span("range", "2026-03-01", SH, until="2026-03-03") == (
        utc(2026, 2, 28, 16), utc(2026, 3, 3, 16))
    with pytest.raises(ValueError, match="ends before it starts"):
        rep.span("range", "2026-03-03", SH, until="2026-03-01")


def test_a_night_shift_ends_the_next_morning():
    assert rep.span("shift", "night@2026-03-02", SH, SHIFTS) == (
        utc(2026, 3, 2, 14), utc(2026, 3, 2, 22))
    assert rep.span("shift", "early@2026-03-02", SH, SHIFTS) == (
        utc(2026, 3, 1, 22), utc(2026, 3, 2, 6))
    with pytest.raises(ValueError, match="no shift 'late'"):
        rep.span("shift", "late@2026-03-02", SH, SHIFTS)


def test_calls_count_by_agent_and_desk_with_late_greetings_and_holds():
    def call(desk, agent, rings, holds=(), prompts=(), answered=True, **flags):
        return {"site": "f3", "desk": desk, "agent_no": agent, "rings": rings,
                "started_at": "2026-03-02T01:30:00+00:00",
                "answered_t_s": 5.0 if answered else None, "answer_delay_s": 2.0 if answered else None,
                "end_reason": "agent_hangup" if answered else "caller_gone",
                "holds": [{"length_s": h} for h in holds],
                "prompts": [{"phrase": p, "asked_by": "device"} for p in prompts], **flags}
    calls = [call("d1", "7", 2, holds=(25.0,), prompts=("greeting", "speak_up")),
             call("d1", "7", 5, prompts=("greeting_late",), silent=True),
             call("d2", "8", 3, answered=False, far_end_hangup_t_s=9.0)]
    alerts = [{"kind": "supervisor", "site": "f3", "desk": "d2", "agent_no": "8"},
              {"kind": "hold_20s", "site": "f3", "desk": "d1", "agent_no": "7"}]
    r = rep.build(calls, alerts, SH)
    a7, a8 = r["agents"]["7"], r["agents"]["8"]
    assert (a7["calls"], a7["within_3_rings"], a7["late_greetings"], a7["silent"]) == (2, 1, 1, 1)
    assert (a7["holds"], a7["holds_over_20s"], a7["avg_hold_s"], a7["device_prompts"]) == (
        1, 1, 25.0, 1)
    assert (a8["unanswered"], a8["far_end_hangups"], a8["supervisor_alerts"]) == (1, 1, 1)
    assert a8["avg_answer_s"] is None and r["total"]["avg_answer_s"] == 2.0
    assert r["calls_per_hour"] == {"2026-03-02 09:00": 3}       # the floor's local hour


@pytest.mark.skipif(shutil.which("mosquitto_passwd") is None, reason="needs mosquitto")
def test_setup_broker_writes_passwords_acl_and_keeps_passwords_given_out(tmp_path, capsys):
    etc = tmp_path / "mosquitto"
    assert main(["floor", "setup-broker", "--site", "f3", "--desk", "d1", "--etc", str(etc)]) == 0
    cred = (etc / "deskline/credentials/d1.cred").read_text()
    assert main(["floor", "setup-broker", "--site", "f3", "--desk", "d1", "--desk", "d2",
                 "--etc", str(etc)]) == 0
    assert (etc / "deskline/credentials/d1.cred").read_text() == cred
    assert oct(os.stat(etc / "deskline/credentials/d2.cred").st_mode & 0o777) == "0o600"
    users = [line.split(":")[0] for line in (etc / "deskline/passwd").read_text().splitlines()]
    assert sorted(users) == ["d1", "d2", "floor"]
    assert cred.split(":")[1].strip() not in (etc / "deskline/passwd").read_text()   # hashed
    acl = (etc / "deskline/acl").read_text()
    assert "user d2\ntopic write deskline/f3/d2/status" in acl
    assert "topic read deskline/f3/d2/cmd" in acl and "topic read deskline/f3/d1/cmd" in acl
    conf = (etc / "conf.d/deskline-floor.conf").read_text()
    assert "allow_anonymous false" in conf and "listener 1883" in conf
    capsys.readouterr()
    assert main(["floor", "setup-broker", "--site", "f3", "--desk", "d/1", "--etc",
                 str(etc)]) == 78
    assert "'d/1'" in capsys.readouterr().err
    assert main(["floor", "setup-broker", "--site", "f3", "--desk", "d1", "--ca", "/x.crt",
                 "--etc", str(etc)]) == 78
    assert "TLS needs --ca, --cert and --key together" in capsys.readouterr().err
