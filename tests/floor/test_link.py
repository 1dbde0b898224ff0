"""The desk's link through a real Mosquitto into the floor's store: nothing lost, nothing twice."""
import json
import os
import subprocess
import sys
import threading
import time

import paho.mqtt.client as mqtt
import pytest

from deskline.floor import messages as m
from deskline.floor.link import FloorLink
from deskline.floor.simdesk import CallScript, SimDesk
from deskline.floor.store import FloorStore
from deskline.floor.subscriber import FloorSubscriber
from deskline.record.journal import Journal


def wait_for(cond, timeout_s=15.0, what="condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def floor(broker, tmp_path):
    store = FloorStore(tmp_path / "floor.db")
    user, pw = broker.creds("floor")
    sub = FloorSubscriber(store, host="127.0.0.1", port=broker.port, username=user, password=pw,
                          client_id="floor-test").start()
    assert sub.connected.wait(10)
    yield store, sub
    sub.stop()
    store.close()


def db_rows(store, sql):
    return store._db.execute(sql).fetchall()


def test_calls_alerts_state_and_status_reach_the_floor(broker, floor, tmp_path):
    store, sub = floor
    desk = SimDesk(broker.link_settings("desk-01", str(tmp_path / "d1.db"), agent_no="1007"))
    desk.start()
    wait_for(lambda: any(d["online"] for d in store.desks()), what="status online")
    desk.call(CallScript(rings=4, talk_s=30, hold_s=130, supervisor=True))
    wait_for(lambda: store.counts()["calls"] == 1, what="the call")
    wait_for(lambda: store.counts()["alerts"] == 3, what="three alerts")
    kinds = sorted(r[0] for r in db_rows(store, "SELECT kind FROM alerts"))
    assert kinds == ["hold_20s", "hold_2min", "supervisor"]
    (record,) = [json.loads(r[0]) for r in db_rows(store, "SELECT record FROM calls")]
    with Journal(tmp_path / "d1.db", readonly=True) as j:
        local = j.call(1)
    # the floor holds the desk's own record of the call, as `deskline calls --json` gives it
    for key, value in local.items():
        if key != "id":
            assert record[key] == value, key
    assert record["call_no"] == 1 and record["rings"] == 4 and len(record["holds"]) == 1
    # the alerts raised during the call name it
    call_ids = {r[0] for r in db_rows(store, "SELECT call_id FROM alerts")}
    assert call_ids == {record["id"]}
    wait_for(lambda: store.desks()[0]["state"] == "idle", what="idle state")
    assert store.desks()[0]["agent_no"] == "1007"
    wait_for(lambda: desk.link.pending() == 0, what="the outbox to empty")
    desk.close()
    wait_for(lambda: not store.desks()[0]["online"], what="offline status")


def test_state_follows_the_call_and_the_will_says_offline(broker, floor, tmp_path):
    store, sub = floor
    code = f"""
import sys, time
sys.path.insert(0, {os.path.dirname(__file__)!r})
from broker_harness import Broker
from deskline.floor.link import FloorLink, LinkSettings
from deskline.call.events import Ring, State
s = LinkSettings(host="127.0.0.1", port={broker.port}, site="f3", desk="desk-02",
                 username="desk-02", password={broker.creds("desk-02")[1]!r},
                 record_path={str(tmp_path / "d2.db")!r}, agent_no="2002")
link = FloorLink(s).start()
link.on_event(Ring(0.0)); link.on_actions([State(0.0, "ringing")])
print("ready", flush=True)
time.sleep(60)
"""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        wait_for(lambda: store.desks() and store.desks()[0]["state"] == "ringing",
                 what="ringing state")
        assert store.desks()[0]["online"]
        proc.kill()          # no goodbye: the broker's Last Will says offline
        wait_for(lambda: not store.desks()[0]["online"], timeout_s=60, what="the Last Will")
    finally:
        proc.kill()
        proc.wait()


def test_broker_outage_every_call_and_alert_exactly_once(broker, floor, tmp_path):
    store, sub = floor
    desk = SimDesk(broker.link_settings("desk-01", str(tmp_path / "d1.db"))).start()
    desk.call(CallScript(supervisor=True))
    wait_for(lambda: store.counts()["calls"] == 1)
    broker.stop()
    for i in range(5):                       # calls and alerts while the broker is away
        desk.call(CallScript(supervisor=i % 2 == 0, hold_s=25 if i == 1 else 0))
    wait_for(lambda: desk.link.pending() == 9, what="the outbox to hold the backlog")
    time.sleep(5.0)                          # the outage goes on a while
    broker.start()
    wait_for(lambda: store.counts()["calls"] == 6 and store.counts()["alerts"] == 5,
             timeout_s=30, what="the backlog")
    wait_for(lambda: desk.link.pending() == 0, what="the outbox to empty")
    assert db_rows(store, "SELECT COUNT(DISTINCT id), COUNT(*) FROM calls") == [(6, 6)]
    nums = sorted(json.loads(r[0])["call_no"] for r in db_rows(store, "SELECT record FROM calls"))
    assert nums == [1, 2, 3, 4, 5, 6]
    desk.close()


def test_killed_desk_sends_its_outbox_after_restart(broker, floor, tmp_path):
    store, sub = floor
    record = str(tmp_path / "d3.db")
    broker.stop()
    code = f"""
import sys
sys.path.insert(0, {os.path.dirname(__file__)!r})
from broker_harness import Broker
from deskline.floor.link import LinkSettings
from deskline.floor.simdesk import CallScript, SimDesk
s = LinkSettings(host="127.0.0.1", port={broker.port}, site="f3", desk="desk-03",
                 username="desk-03", password={broker.creds("desk-03")[1]!r},
                 record_path={record!r})
desk = SimDesk(s).start()
for i in range(3):
    desk.call(CallScript(supervisor=True))
import time
while desk.link.pending() < 6:
    time.sleep(0.05)
print("queued", flush=True)
time.sleep(60)
"""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "queued"
    finally:
        proc.kill()                           # kill -9 with the outbox full
        proc.wait()
    broker.start()
    assert sub.connected.wait(15)
    assert store.counts()["calls"] == 0
    desk = SimDesk(broker.link_settings("desk-03", record)).start()
    wait_for(lambda: store.counts()["calls"] == 3 and store.counts()["alerts"] == 3,
             timeout_s=30, what="the outbox after the restart")
    wait_for(lambda: desk.link.pending() == 0)
    desk.close()


def test_an_interrupted_call_is_sent_after_the_restart(broker, floor, tmp_path):
    store, sub = floor
    record = str(tmp_path / "d1.db")
    desk = SimDesk(broker.link_settings("desk-01", record)).start()
    desk.call(CallScript())
    wait_for(lambda: store.counts()["calls"] == 1)
    # a call left open, as a power cut leaves it
    from deskline.call.events import Hook, Ring
    desk.recorder.on_event(Ring(1000.0))
    desk.recorder.on_event(Hook(1004.0, True))
    desk.link.close()
    desk.journal._db.close()                 # gone without closing the call
    desk.journal._lock_fh.close()
    desk = SimDesk(broker.link_settings("desk-01", record)).start()   # the record recovers it
    wait_for(lambda: store.counts()["calls"] == 2, what="the interrupted call")
    reasons = sorted(json.loads(r[0])["end_reason"] for r in
                     db_rows(store, "SELECT record FROM calls"))
    assert reasons == ["agent_hangup", "interrupted"]
    desk.close()


def test_ack_from_the_floor_reaches_the_desk(broker, floor, tmp_path):
    store, sub = floor
    heard = []
    got = threading.Event()
    desk = SimDesk(broker.link_settings("desk-02", str(tmp_path / "d2.db")),
                   on_ack=lambda alert_id: (heard.append(alert_id), got.set())).start()
    wait_for(lambda: desk.link.connected)
    desk.press("supervisor")
    wait_for(lambda: store.open_alerts(), what="the alert")
    (alert,) = store.open_alerts()
    assert alert["call_id"] is None and alert["kind"] == "supervisor"
    site, desk_id = store.ack(alert["id"])
    sub.send_ack(site, desk_id, alert["id"])
    assert got.wait(10)
    assert heard == [alert["id"]] and store.open_alerts() == []
    desk.close()


def _client(broker, user, password):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"probe-{user}-{time.time()}")
    c.username_pw_set(user, password)
    result = {}
    done = threading.Event()
    c.on_connect = lambda cl, u, f, rc, p: (result.update(rc=rc), done.set())
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    assert done.wait(10)
    return c, result["rc"]


def test_wrong_password_is_refused(broker, floor, tmp_path):
    store, sub = floor
    c, rc = _client(broker, "desk-01", "not-the-password")
    c.loop_stop()
    assert rc.is_failure
    link = FloorLink(broker.link_settings("desk-01", str(tmp_path / "x.db"),
                                          password="not-the-password")).start()
    link.on_actions([__import__("deskline.call.events", fromlist=["Alert"]).Alert(0.0, "supervisor")])
    wait_for(lambda: link.stats["refused"] >= 1, what="the refusal")
    wait_for(lambda: link.pending() == 1, what="the alert kept for when it is let in")
    assert not link.connected and link.stats["connects"] == 0
    link.close(0.5)
    assert store.desks() == []


def test_a_desk_cannot_write_under_another_desks_topic(broker, floor, tmp_path):
    store, sub = floor
    c, rc = _client(broker, *broker.creds("desk-01"))
    assert not rc.is_failure
    fake = {"desk": "desk-02", "site": "f3", "t": m.utc_iso(), "id": "forged", "kind": "supervisor"}
    c.publish("deskline/f3/desk-02/alert", m.encode(fake), qos=1).wait_for_publish(5)
    own = {"desk": "desk-01", "site": "f3", "t": m.utc_iso(), "online": True}
    c.publish("deskline/f3/desk-01/status", m.encode(own), qos=1).wait_for_publish(5)
    wait_for(lambda: store.desks(), what="the desk's own message")
    time.sleep(0.5)
    assert [d["desk"] for d in store.desks()] == ["desk-01"]
    assert store.counts()["alerts"] == 0
    # nor read another desk's commands
    got = []
    c.on_message = lambda cl, u, msg: got.append(msg.topic)
    c.subscribe("deskline/f3/desk-02/cmd", qos=1)
    time.sleep(0.3)
    sub.send_ack("f3", "desk-02", "x")
    time.sleep(0.5)
    assert got == []
    c.loop_stop()


def test_malformed_and_oversized_are_counted_and_the_floor_goes_on(broker, floor, tmp_path):
    store, sub = floor
    c, rc = _client(broker, *broker.creds("desk-01"))
    for payload in (b"not json", b"[1, 2]", b"\xff\xfe",
                    m.encode({"desk": "desk-01", "site": "f3", "t": "yesterday", "id": "a",
                              "kind": "x"}),
                    m.encode({"desk": "desk-01", "site": "f3", "t": m.utc_iso(),
                              "id": "b", "kind": "supervisor", "pad": "x" * 300_000})):
        c.publish("deskline/f3/desk-01/alert", payload, qos=1).wait_for_publish(5)
    wait_for(lambda: sum(store.counts()["rejects"].values()) == 5, what="five rejects")
    assert store.counts()["rejects"] == {"not_json": 2, "payload": 2, "oversized": 1}
    ok = {"desk": "desk-01", "site": "f3", "t": m.utc_iso(), "id": "c", "kind": "supervisor"}
    c.publish("deskline/f3/desk-01/alert", m.encode(ok), qos=1).wait_for_publish(5)
    wait_for(lambda: store.counts()["alerts"] == 1, what="a good alert after the bad ones")
    c.loop_stop()


def test_far_end_hangup_card_lost_and_released_line_are_alerts(broker, floor, tmp_path):
    from deskline.call.events import Note, Release

    store, sub = floor
    desk = SimDesk(broker.link_settings("desk-01", str(tmp_path / "d1.db"),
                                        far_end_wait_s=0.5)).start()
    # the caller hangs up and the agent leaves the handset off: an alert after the wait
    desk.call(CallScript(far_end_hangup=True))
    # the caller hangs up and the agent puts the handset down in time: no alert
    desk.link.on_actions([Note(desk.t_s + 1, "far_end_hangup", {})])
    from deskline.call.events import Hook
    desk.link.on_event(Hook(desk.t_s + 1.1, False))
    desk.link.on_actions([Note(desk.t_s + 2, "card_lost", {"card": "usb"}),
                          Release(desk.t_s + 3)])
    wait_for(lambda: store.counts()["alerts"] == 3, what="three alerts")
    time.sleep(1.0)                                    # the second wait would be over by now
    kinds = sorted(r[0] for r in db_rows(store, "SELECT kind FROM alerts"))
    assert kinds == ["card_lost", "far_end_hangup", "line_released"]
    desk.close()


def test_tls_when_a_ca_is_configured(tmp_path):
    import ssl

    from broker_harness import Broker

    b = Broker(["desk-01"], tls=True).start()
    try:
        store = FloorStore(tmp_path / "floor.db")
        user, pw = b.creds("floor")
        sub = FloorSubscriber(store, host="127.0.0.1", port=b.port, username=user, password=pw,
                              client_id="floor-tls", ca_file=b.ca_file).start()
        assert sub.connected.wait(10)
        desk = SimDesk(b.link_settings("desk-01", str(tmp_path / "d1.db"))).start()
        desk.call(CallScript(supervisor=True))
        wait_for(lambda: store.counts()["calls"] == 1 and store.counts()["alerts"] == 1,
                 what="the call over TLS")
        desk.close()
        sub.stop()
        store.close()
        # in clear text the broker does not answer as MQTT; a client not trusting the CA fails
        plain = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="plain")
        plain.username_pw_set(*b.creds("desk-01"))
        answered = threading.Event()
        plain.on_connect = lambda *a: answered.set()
        plain.connect("127.0.0.1", b.port)
        plain.loop_start()
        assert not answered.wait(3.0)
        plain.loop_stop()
        untrusting = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="untrusting")
        untrusting.tls_set()                       # the system's CAs, not the floor's
        with pytest.raises(ssl.SSLError):
            untrusting.connect("127.0.0.1", b.port)
    finally:
        b.close()


def test_a_replayed_call_reaches_the_floor_with_the_controllers_own_alerts(broker, floor,
                                                                           tmp_path):
    """The demo hold call through the real engine (meters, controller, record) and the link."""
    from deskline.recordings import democalls
    from deskline.replay.simulate import simulate_samples

    store, sub = floor
    record = str(tmp_path / "replay.db")
    link = FloorLink(broker.link_settings("desk-03", record, agent_no="3003")).start()
    call = democalls.build("hold")
    x = call.samples()
    rx, tx = (x, None) if x.ndim == 1 else (x[:, 0], x[:, 1])
    journal = Journal(record)
    try:
        _, records = simulate_samples(rx, rate_hz=call.rate_hz, tx=tx, events=call.events,
                                      journal=journal, source="demo:hold", sinks=[link],
                                      on_call_closed=link.call_closed)
    finally:
        journal.close()
    wait_for(lambda: store.counts()["calls"] == 1, what="the replayed call")
    wait_for(lambda: store.counts()["alerts"] == 2, what="the hold alerts")
    kinds = sorted(r[0] for r in db_rows(store, "SELECT kind FROM alerts"))
    assert kinds == ["hold_20s", "hold_2min"]
    (stored,) = [json.loads(r[0]) for r in db_rows(store, "SELECT record FROM calls")]
    assert stored["holds"] == records[0]["holds"] and stored["holds"][0]["length_s"] > 120
    assert stored["agent_no"] == "3003" and stored["source"] == "demo:hold"
    wait_for(lambda: link.pending() == 0, what="the outbox to empty")
    link.close()


def test_the_engine_never_waits_for_the_link(broker, floor, tmp_path):
    """With the broker gone and the desk's record locked by another writer, the sink's methods
    still return (they only queue); what they said reaches the floor once both are back."""
    import sqlite3

    from deskline.call.events import Alert, Key, State

    store, sub = floor
    record = str(tmp_path / "d1.db")
    link = FloorLink(broker.link_settings("desk-01", record)).start()
    wait_for(lambda: link.connected, what="the link")
    broker.stop()
    blocker = sqlite3.connect(record, isolation_level=None, timeout=30)
    blocker.execute("BEGIN EXCLUSIVE")           # the link's thread cannot write the outbox
    done = threading.Event()

    def engine():
        for i in range(2000):
            link.on_event(Key(float(i), "louder"))
            link.on_actions([State(float(i), "talking")])
        link.on_actions([Alert(2000.0, "supervisor")])
        done.set()

    threading.Thread(target=engine, daemon=True).start()
    assert done.wait(10)                          # returned while the record is still locked
    blocker.execute("ROLLBACK")
    blocker.close()
    broker.start()
    wait_for(lambda: store.counts()["alerts"] == 1, timeout_s=30, what="the alert afterwards")
    link.close()
