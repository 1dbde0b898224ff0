"""The desk's link to the floor: an engine sink that publishes the desk to the floor's broker.

What it publishes under ``deskline/<site>/<desk>/`` (DESIGN §7):

- ``status`` (retained, QoS 1): ``online: true`` on every connect; the Last Will, set with the
  connection, makes the broker say ``online: false`` when the desk vanishes.
- ``state`` (retained, QoS 0): idle, ringing, in_call or on_hold, since when, agent number.
- ``alert`` (QoS 1, through the outbox): the SUPERVISOR key, a hold past the profile's warning
  (20 s) and limit (2 min), a far-end hang-up the agent left ``far_end_wait_s`` without putting
  the handset down, the sound card lost, the line released by the device.
- ``call`` (QoS 1, through the outbox): every finished call's record, as ``deskline calls
  --json`` gives it, read from the journal once the recorder closed it.

It hears ``cmd`` (``{"ack": <alert id>}``: the floor lead acknowledged an alert) and calls
``on_ack(alert_id)``.

Threads: the engine calls :meth:`on_event`, :meth:`on_actions` and :meth:`finish` from the audio
loop; they only put the item on a queue and return. The link's own thread (``floor``) turns
them into messages and keeps the outbox (SQLite); paho's network thread talks to the broker and
reconnects on its own. Nothing here waits on the network in the engine's thread.

::

    engine ──on_event/on_actions──▶ queue ──▶ [floor thread] ──▶ outbox (calls.db) ──▶ paho ──▶ broker
    recorder ──on_close(call no)──▶ queue        ▲  PUBACK: row removed ◀────────────── paho
"""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass

from deskline.engine import BaseSink
from deskline.floor import messages as m
from deskline.floor.outbox import Outbox

log = logging.getLogger(__name__)

#: controller states (deskline.call.controller) as the floor shows them; the rest are in_call
_FLOOR_STATE = {"idle": "idle", "ringing": "ringing", "hold": "on_hold"}
#: controller notes that are alerts on the floor
_NOTE_ALERTS = {"hold_long": "hold_20s", "hold_over_limit": "hold_2min", "card_lost": "card_lost"}
_ERR_NO_CONN = 4   # paho.mqtt.enums.MQTTErrorCode.MQTT_ERR_NO_CONN
#: the LED cue the desk shows when the floor lead acknowledged its alert (hw.roles.LED_BLINK_S)
ACK_CUE = "acked"
ACK_CUE_S = 3.0
#: how often the outbox is looked at again without being asked (a missed hand-over, a retry)
RESCAN_S = 30.0


@dataclass(frozen=True)
class LinkSettings:
    """Where the desk's broker is and who the desk is on the floor."""

    host: str
    port: int
    site: str
    desk: str
    username: str
    password: str
    record_path: str            # the desk's call record (its SQLite file holds the outbox)
    agent_no: str = ""
    ca_file: str = ""           # TLS with this CA when set
    far_end_wait_s: float = 10.0
    keepalive_s: int = 30
    version: str = ""


class FloorLink(BaseSink):
    """The floor sink of one desk (on_event / on_actions / finish), plus ``call_closed``."""

    def __init__(self, settings: LinkSettings, *, on_ack=None):
        self.s = settings
        self.on_ack = on_ack
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._client = None
        self._connected = False
        self._inflight: dict[int, str] = {}     # paho mid -> outbox id (this connection)
        self._outbox: Outbox | None = None
        self._state = ("idle", time.time())
        self._far_end_due: float | None = None
        self._far_end_t_s: float | None = None
        self._calls_before = 0
        self._ready = threading.Event()
        #: counters for tests and the log: alerts/calls queued, acknowledged by the broker
        self.stats = {"queued": 0, "acked": 0, "connects": 0, "refused": 0, "acks_heard": 0}
        self.last_refusal: str | None = None

    # --- the sink (engine thread: never blocks) ------------------------------------------

    def on_event(self, event) -> None:
        self._q.put(("event", event, time.time()))

    def on_actions(self, actions) -> None:
        if actions:
            self._q.put(("actions", list(actions), time.time()))

    def finish(self, t_s: float, reason: str) -> None:
        self._q.put(("finish", reason, time.time()))

    def call_closed(self, call_no: int) -> None:
        """The recorder closed call ``call_no`` (any thread): queue its record for the floor."""
        self._q.put(("closed", call_no, time.time()))

    # --- life ----------------------------------------------------------------------------

    def start(self) -> "FloorLink":
        self._thread = threading.Thread(target=self._run, name="floor", daemon=True)
        self._thread.start()
        self._ready.wait(10.0)
        return self

    def close(self, timeout_s: float = 5.0) -> None:
        """Say offline, let the broker have what it can within ``timeout_s``, and stop."""
        if self._thread is None:
            return
        self._q.put(("stop", timeout_s, time.time()))
        self._thread.join(timeout_s + 5.0)
        self._thread = None

    def pending(self) -> int:
        """How many alerts and calls wait in the outbox (a fresh connection, any thread)."""
        import sqlite3
        db = sqlite3.connect(self.s.record_path, timeout=30.0)
        try:
            return db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        finally:
            db.close()

    @property
    def connected(self) -> bool:
        return self._connected

    # --- the floor thread ----------------------------------------------------------------

    def _topic(self, kind: str) -> str:
        return m.topic(self.s.site, self.s.desk, kind)

    def _base(self, ts: float | None = None) -> dict:
        return {"desk": self.s.desk, "site": self.s.site, "t": m.utc_iso(ts)}

    def _make_client(self):
        import paho.mqtt.client as mqtt

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                             client_id=f"deskline-{self.s.site}-{self.s.desk}",
                             protocol=mqtt.MQTTv311, clean_session=True)
        client.username_pw_set(self.s.username, self.s.password)
        if self.s.ca_file:
            client.tls_set(ca_certs=self.s.ca_file)
        client.will_set(self._topic("status"), m.encode({**self._base(), "online": False}),
                        qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=15)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

    def _run(self) -> None:
        try:
            self._outbox = Outbox(self.s.record_path)
            # calls of earlier runs have another audio clock: alerts never name them
            self._calls_before = self._outbox.newest_call()
            self._client = self._make_client()
            self._client.connect_async(self.s.host, self.s.port, keepalive=self.s.keepalive_s)
            self._client.loop_start()
        except Exception:
            log.exception("floor link could not start; the desk goes on without the floor")
            self._ready.set()
            return
        self._ready.set()
        self._rescan()
        next_rescan = time.monotonic() + RESCAN_S
        try:
            while True:
                wait = next_rescan - time.monotonic()
                if self._far_end_due is not None:
                    wait = min(wait, self._far_end_due - time.monotonic())
                try:
                    item = self._q.get(timeout=max(0.0, wait))
                except queue.Empty:
                    item = None
                now = time.monotonic()
                if self._far_end_due is not None and now >= self._far_end_due:
                    self._far_end_due = None
                    self._alert("far_end_hangup", time.time(),
                                {"wait_s": self.s.far_end_wait_s}, t_s=self._far_end_t_s)
                if now >= next_rescan:
                    next_rescan = now + RESCAN_S
                    self._rescan()
                if item is None:
                    continue
                if item[0] == "stop":
                    self._stop(item[1])
                    return
                try:
                    self._handle(*item)
                except Exception:  # one bad item must not stop the link
                    log.exception("floor link: could not handle %s", item[0])
        finally:
            if self._outbox is not None:
                self._outbox.close()

    def _handle(self, what: str, obj, ts: float) -> None:
        if what == "event":
            name = type(obj).__name__
            if name == "Hook" and not obj.off_hook and self._far_end_due is not None:
                # put down in time on the call's own clock (a replay's runs faster than ours)
                self._far_end_due = None
                if obj.t_s - self._far_end_t_s >= self.s.far_end_wait_s:
                    self._alert("far_end_hangup", ts, {"wait_s": self.s.far_end_wait_s},
                                t_s=self._far_end_t_s)
        elif what == "actions":
            for a in obj:
                self._action(a, ts)
        elif what == "finish":
            self._far_end_due = None
            self._set_state("idle", ts)
        elif what == "closed":
            self._queue_calls()
        elif what == "connected":
            self._connected_now()
        elif what == "disconnected":
            # what is on its way stays with paho, which sends it again on the next connect
            # (same message id): those rows are not published twice by us
            self._connected = False
        elif what == "puback":
            msg_id = self._inflight.pop(obj, None)
            if msg_id is not None:
                self._outbox.done(msg_id)
                self.stats["acked"] += 1

    def _action(self, a, ts: float) -> None:
        name = type(a).__name__
        if name == "State":
            self._set_state(_FLOOR_STATE.get(a.name, "in_call"), ts)
        elif name == "Alert":
            self._alert(a.reason or "supervisor", ts, t_s=a.t_s)
        elif name == "Release":
            self._alert("line_released", ts, t_s=a.t_s)
        elif name == "Note":
            if a.kind in _NOTE_ALERTS:
                self._alert(_NOTE_ALERTS[a.kind], ts, dict(a.data), t_s=a.t_s)
            elif a.kind == "far_end_hangup":
                self._far_end_due = time.monotonic() + self.s.far_end_wait_s
                self._far_end_t_s = a.t_s

    def _set_state(self, state: str, ts: float) -> None:
        if state == self._state[0]:
            return
        self._state = (state, ts)
        self._publish_state()

    def _publish_state(self) -> None:
        if not self._connected:
            return          # retained: the next connect publishes the state then current
        state, since = self._state
        self._client.publish(self._topic("state"), m.encode(
            {**self._base(), "state": state, "since": m.utc_iso(since),
             "agent_no": self.s.agent_no}), qos=0, retain=True)

    def _call_at(self, t_s: float | None):
        """The record's call going on at audio time ``t_s`` (the recorder, on its own thread,
        may be a moment behind: a desk that is not idle waits for it briefly)."""
        if t_s is None:
            return None
        deadline = time.monotonic() + (0.5 if self._state[0] != "idle" else 0.0)
        while True:
            found = self._outbox.call_at(t_s, self._calls_before)
            if found is not None or time.monotonic() >= deadline:
                return found
            time.sleep(0.02)

    def _alert(self, kind: str, ts: float, data: dict | None = None,
               t_s: float | None = None) -> None:
        during = self._call_at(t_s)
        call_id = None if during is None else m.call_uuid(
            self.s.site, self.s.desk, during[1], during[0])
        alert_id = str(uuid.uuid4())
        payload = {**self._base(ts), "id": alert_id, "kind": kind, "call_id": call_id,
                   "agent_no": self.s.agent_no}
        if data:
            payload["data"] = data
        self._outbox.put(alert_id, "alert", m.encode(payload))
        self.stats["queued"] += 1
        log.info("floor alert %s (%s)", kind, alert_id)
        self._flush()

    def _call_payload(self, record: dict) -> tuple[str, bytes]:
        call_id = m.call_uuid(self.s.site, self.s.desk, record["started_at"], record["id"])
        rest = {k: v for k, v in record.items() if k != "id"}
        return call_id, m.encode({**rest, **self._base(), "id": call_id, "call_no": record["id"],
                                  "agent_no": self.s.agent_no})

    def _queue_calls(self) -> None:
        queued = self._outbox.queue_closed_calls(self._call_payload)
        self.stats["queued"] += len(queued)
        if queued:
            self._flush()

    def _rescan(self) -> None:
        try:
            self._queue_calls()
        except Exception:
            log.exception("floor link: could not read finished calls from the record")
        self._flush()

    def _flush(self) -> None:
        """Publish what the outbox holds and is not already on its way."""
        if not self._connected:
            return
        on_way = set(self._inflight.values())
        for msg_id, kind, payload in self._outbox.pending():
            if msg_id in on_way:
                continue
            info = self._client.publish(self._topic(kind), payload, qos=1)
            if info.rc not in (0, _ERR_NO_CONN):
                log.warning("floor link: paho refused to queue %s (rc %s)", msg_id, info.rc)
                break
            # rc NO_CONN: the connection just went; paho keeps it for the next connect
            self._inflight[info.mid] = msg_id

    def _connected_now(self) -> None:
        self._connected = True
        self._client.publish(self._topic("status"), m.encode(
            {**self._base(), "online": True, "version": self.s.version,
             "agent_no": self.s.agent_no}), qos=1, retain=True)
        self._publish_state()
        self._flush()

    def _stop(self, timeout_s: float) -> None:
        client = self._client
        try:
            if self._connected:
                info = client.publish(self._topic("status"), m.encode(
                    {**self._base(), "online": False}), qos=1, retain=True)
                info.wait_for_publish(timeout_s)
                # a moment for PUBACKs of alerts and calls still on their way
                deadline = time.monotonic() + timeout_s
                while self._inflight and time.monotonic() < deadline:
                    try:
                        item = self._q.get(timeout=0.05)
                    except queue.Empty:
                        continue
                    if item[0] == "puback":
                        self._handle(*item)
            client.disconnect()
        except Exception:
            log.exception("floor link: error while closing")
        finally:
            client.loop_stop()

    # --- paho's thread -------------------------------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.stats["refused"] += 1
            if self.last_refusal != str(reason_code):
                log.error("floor broker %s:%s refused desk %s/%s: %s", self.s.host, self.s.port,
                          self.s.site, self.s.desk, reason_code)
            self.last_refusal = str(reason_code)
            return
        self.stats["connects"] += 1
        self.last_refusal = None
        log.info("floor broker %s:%s connected", self.s.host, self.s.port)
        client.subscribe(self._topic("cmd"), qos=1)
        self._q.put(("connected", None, time.time()))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected = False
        self._q.put(("disconnected", None, time.time()))

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self._q.put(("puback", mid, time.time()))

    def _on_message(self, client, userdata, msg) -> None:
        try:
            body = json.loads(msg.payload.decode("utf-8"))
            alert_id = body["ack"]
            if not isinstance(alert_id, str):
                raise ValueError("ack is not a string")
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            log.warning("floor: ignoring a command on %s: %s", msg.topic, exc)
            return
        self.stats["acks_heard"] += 1
        log.info("floor lead acknowledged alert %s", alert_id)
        if self.on_ack is not None:
            try:
                self.on_ack(alert_id)
            except Exception:
                log.exception("floor: acknowledging alert %s on the desk failed", alert_id)


def read_credentials(path: str) -> tuple[str, str]:
    """``(user, password)`` from a credentials file: one line ``<user>:<password>``."""
    from deskline.exc import ConfigError

    try:
        with open(path, encoding="utf-8") as f:
            lines = [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the floor credentials: "
                          f"{exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}:1: floor credentials: not UTF-8 text") from None
    if len(lines) != 1 or ":" not in lines[0]:
        raise ConfigError(f"{path}:1: floor credentials: want one line <user>:<password>")
    user, password = lines[0].split(":", 1)
    if not user or not password:
        raise ConfigError(f"{path}:1: floor credentials: user and password must not be empty")
    return user, password


def link_from_config(cfg, *, on_ack=None) -> FloorLink | None:
    """The desk's link as ``[floor]`` configures it (not started); None without ``[floor]``."""
    from deskline import __version__

    f = cfg.floor
    if not f.enabled:
        return None
    user, password = read_credentials(f.credentials_file)
    return FloorLink(LinkSettings(
        host=f.host, port=f.port, site=f.site, desk=f.desk_id, username=user,
        password=password, record_path=cfg.journal.path, agent_no=cfg.desk_section.agent_no,
        ca_file=f.ca_file, far_end_wait_s=f.far_end_wait_s, version=__version__),
        on_ack=on_ack)
