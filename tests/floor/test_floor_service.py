"""``deskline floor serve`` and ``deskline floor report`` as users run them: the floor service
killed mid-shift loses nothing, hold timers colour on the map, the report on the command line."""
import csv
import io
import json
import signal
import time

import paho.mqtt.client as mqtt
import pytest

from broker_harness import SITE
from floor_harness import FloorService, chromium, sign_in

from deskline.cli import main
from deskline.floor import messages as m
from deskline.floor.simdesk import CallScript, SimDesk
from deskline.floor.store import FloorStore


def wait_for(cond, timeout_s=15.0, what="condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def stored(path):
    store = FloorStore(path, readonly=True)
    try:
        return store.counts(), [json.loads(r[0]) for r in
                                store._db.execute("SELECT record FROM calls")]
    finally:
        store.close()


def test_the_floor_service_killed_and_restarted_loses_nothing(broker, tmp_path):
    floor = FloorService(broker, tmp_path).start()
    desks = [SimDesk(broker.link_settings(d, str(tmp_path / f"{d}.db"))).start()
             for d in ("desk-01", "desk-02")]
    try:
        for d in desks:
            d.call(CallScript(supervisor=True))
        wait_for(lambda: stored(floor.store_path)[0]["calls"] == 2, what="the first calls")
        floor.stop(signal.SIGKILL)                     # kill -9 mid-shift
        for i in range(3):                            # the desks go on meanwhile
            for d in desks:
                d.call(CallScript(supervisor=i == 1, hold_s=25 if i == 2 else 0))
        for d in desks:
            wait_for(lambda: d.link.pending() == 0, what="the broker to take the desk's outbox")
        floor.start()
        wait_for(lambda: stored(floor.store_path)[0]["calls"] == 8, 30, "the calls kept for it")
        counts, records = stored(floor.store_path)
        assert counts["alerts"] == 2 + 2 + 2          # supervisor x2, x2, hold_20s x2
        assert sorted((r["desk"], r["call_no"]) for r in records) == [
            (d, n) for d in ("desk-01", "desk-02") for n in (1, 2, 3, 4)]
    finally:
        for d in desks:
            d.close()
        floor.stop()


def _state(broker, desk, state, since_s_ago):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"probe-{desk}")
    c.username_pw_set(*broker.creds(desk))
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    now = time.time()
    for kind, body in (("status", {"online": True}),
                       ("state", {"state": state, "since": m.utc_iso(now - since_s_ago),
                                  "agent_no": "9"})):
        c.publish(m.topic(SITE, desk, kind), m.encode(
            {"desk": desk, "site": SITE, "t": m.utc_iso(now), **body}), qos=1,
            retain=True).wait_for_publish(5)
    c.disconnect()
    c.loop_stop()


def test_hold_timers_turn_amber_and_red_and_offline_desks_grey(broker, tmp_path):
    floor = FloorService(broker, tmp_path).start()
    driver = chromium()
    try:
        _state(broker, "desk-01", "on_hold", 5)
        _state(broker, "desk-02", "on_hold", 25)
        _state(broker, "desk-03", "on_hold", 125)
        sign_in(driver, floor.url)

        def classes():
            return driver.execute_script(
                "return Object.fromEntries([...document.querySelectorAll('.desk')]"
                ".map(e => [e.dataset.desk, e.className]))")
        got = wait_for(lambda: len(classes()) == 3 and classes(), 15, "three desks")
        c = {k.split("/")[1]: set(v.split()) for k, v in got.items()}
        assert "amber" not in c["desk-01"] and "red" not in c["desk-01"]
        assert "amber" in c["desk-02"] and "red" not in c["desk-02"]
        assert "red" in c["desk-03"]
        # the probe's client left without a Last Will; a desk saying offline is greyed
        c2 = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="probe-off")
        c2.username_pw_set(*broker.creds("desk-01"))
        c2.connect("127.0.0.1", broker.port)
        c2.loop_start()
        c2.publish(m.topic(SITE, "desk-01", "status"), m.encode(
            {"desk": "desk-01", "site": SITE, "t": m.utc_iso(), "online": False}), qos=1,
            retain=True).wait_for_publish(5)
        c2.loop_stop()
        wait_for(lambda: "offline" in classes()[f"{SITE}/desk-01"], 10, "desk-01 greyed")
        assert driver.execute_script(
            "return getComputedStyle(document.querySelector('.desk.offline')).filter"
        ) == "grayscale(1)"
    finally:
        driver.quit()
        floor.stop()


def test_the_page_wants_the_lead_signed_in(broker, tmp_path):
    import httpx

    floor = FloorService(broker, tmp_path).start()
    try:
        with httpx.Client(base_url=floor.url) as c:
            assert c.get("/", follow_redirects=False).status_code == 303
            assert c.get("/api/floor").status_code == 401
            assert c.post("/api/ack/x").status_code == 401
            assert c.post("/login", data={"password": "wrong"}).status_code == 401
            assert c.get("/api/floor").status_code == 401
            r = c.post("/login", data={"password": "floor-lead-secret"}, follow_redirects=False)
            assert r.status_code == 303
            assert c.get("/api/floor").json()["desks"] == []
            assert c.post("/api/ack/no-such-alert").status_code == 404
        # the page listens on loopback only, as configured
        assert "127.0.0.1" in open(floor.config).read().split("[web]")[1].split("\n")[1]
    finally:
        floor.stop()


def test_the_report_on_the_command_line(broker, tmp_path, capsys):
    floor = FloorService(broker, tmp_path).start()
    desk = SimDesk(broker.link_settings("desk-01", str(tmp_path / "d1.db"), agent_no="1007"))
    desk.start()
    try:
        desk.call(CallScript(rings=2, hold_s=30, supervisor=True))
        desk.call(CallScript(rings=5, hold_s=130))
        desk.call(CallScript(rings=1))
        wait_for(lambda: stored(floor.store_path)[0]["calls"] == 3, what="three calls")
        wait_for(lambda: stored(floor.store_path)[0]["alerts"] == 4, what="four alerts")
    finally:
        desk.close()
        floor.stop()
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert main(["floor", "report", "--config", floor.config, "--day", today,
                 "--format", "json"]) == 0
    r = json.loads(capsys.readouterr().out)
    t = r["total"]
    assert (t["calls"], t["answered"], t["within_3_rings"], t["late_greetings"]) == (3, 3, 2, 1)
    assert (t["holds"], t["holds_over_20s"], t["holds_over_2min"]) == (2, 2, 1)
    assert t["avg_hold_s"] == 80.0 and t["supervisor_alerts"] == 1
    assert list(r["agents"]) == ["1007"] and list(r["desks"]) == [f"{SITE}/desk-01"]
    assert sum(r["calls_per_hour"].values()) == 3
    assert main(["floor", "report", "--config", floor.config, "--day", today,
                 "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0][:3] == ["by", "who", "calls"] and rows[-1][0] == "total" and rows[-1][2] == "3"
    assert main(["floor", "report", "--config", floor.config, "--day", today]) == 0
    assert "agent 1007" in capsys.readouterr().out
    # a day with nothing, and a wrong date: one line, no traceback
    assert main(["floor", "report", "--config", floor.config, "--day", "2001-01-01",
                 "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"]["calls"] == 0
    assert main(["floor", "report", "--config", floor.config, "--day", "yesterday"]) == 78
    err = capsys.readouterr().err.strip()
    assert err == "deskline floor: 'yesterday' is not a date YYYY-MM-DD"


def test_a_bad_floor_settings_file_is_one_line(tmp_path, capsys):
    bad = tmp_path / "floor.toml"
    bad.write_text('[web]\nport = 8080\nhost = ""\n', encoding="utf-8")
    assert main(["floor", "serve", "--config", str(bad)]) == 78
    assert capsys.readouterr().err.strip() == f"deskline floor: {bad}:3: web.host: must not be empty"
    bad.write_text('[report]\ntimezone = "Mars/Olympus"\n', encoding="utf-8")
    assert main(["floor", "report", "--config", str(bad), "--day", "2026-01-01"]) == 78
    assert "report.timezone" in capsys.readouterr().err


def test_passwd_prints_a_hash_the_page_accepts(monkeypatch, capsys):
    from deskline.floor.web import check_password

    monkeypatch.setattr("sys.stdin", io.StringIO("a long password\n"))
    assert main(["floor", "passwd"]) == 0
    h = capsys.readouterr().out.strip()
    assert h.startswith("scrypt$") and "a long password" not in h
    assert check_password("a long password", h) and not check_password("another one", h)
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["floor", "passwd"]) == 78
