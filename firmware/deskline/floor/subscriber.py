"""The floor service's MQTT side: one persistent session that stores what every desk sends.

The session is persistent (fixed client id, ``clean_session`` off, QoS 1 subscriptions): while
the floor service is down the broker keeps what the desks send for it, and a message is
acknowledged to the broker only once it is in the database, so a kill at any moment loses
nothing (a message in flight comes again and is dropped as a repeat).
"""
from __future__ import annotations

import logging
import threading
import time

from deskline.floor import messages as m
from deskline.floor.store import FloorStore

log = logging.getLogger(__name__)


class FloorSubscriber:
    """Subscribes to ``topics`` on the broker and keeps ``store`` up to date."""

    def __init__(self, store: FloorStore, *, host: str, port: int, username: str, password: str,
                 client_id: str = "deskline-floor", topics: tuple[str, ...] = ("deskline/#",),
                 ca_file: str = ""):
        import paho.mqtt.client as mqtt

        self.store = store
        self.topics = topics
        self.host, self.port = host, port
        #: bumped on every change of the floor; the page's event stream watches it
        self.version = 0
        self.changed = threading.Condition()
        self.connected = threading.Event()
        self.stats = {"messages": 0, "stored": 0, "repeats": 0, "rejected": 0}
        self.last_refusal: str | None = None
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                        protocol=mqtt.MQTTv311, clean_session=False)
        c.username_pw_set(username, password)
        if ca_file:
            c.tls_set(ca_certs=ca_file)
        c.reconnect_delay_set(min_delay=1, max_delay=10)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        self.client = c

    def start(self) -> "FloorSubscriber":
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def touch(self) -> None:
        """The floor changed outside the broker (an acknowledgement): wake the page's streams."""
        self._bump()

    def _bump(self) -> None:
        with self.changed:
            self.version += 1
            self.changed.notify_all()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            if self.last_refusal != str(reason_code):
                log.error("broker %s:%s refused the floor service: %s", self.host, self.port,
                          reason_code)
            self.last_refusal = str(reason_code)
            return
        self.last_refusal = None
        log.info("broker %s:%s connected (session %s)", self.host, self.port,
                 "resumed" if flags.session_present else "new")
        for t in self.topics:
            client.subscribe(t, qos=1)
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        log.warning("broker %s:%s disconnected (%s); reconnecting", self.host, self.port,
                    reason_code)

    def _on_message(self, client, userdata, msg) -> None:
        self.stats["messages"] += 1
        if msg.topic.endswith("/cmd"):
            return          # our own acknowledgements, when subscribed to the whole tree
        try:
            site, desk, kind, payload = m.decode(msg.topic, msg.payload)
        except m.BadMessage as exc:
            self.stats["rejected"] += 1
            log.warning("refused a message: %s", exc)
            self.store.reject(exc.reason, msg.topic)
            self._bump()
            return
        try:
            if self.store.take(site, desk, kind, payload):
                self.stats["stored"] += 1
            else:
                self.stats["repeats"] += 1
        except (KeyError, TypeError, ValueError) as exc:   # e.g. a started_at that is no time
            self.stats["rejected"] += 1
            log.warning("refused a message on %s: %s", msg.topic, exc)
            self.store.reject("payload", msg.topic)
        self._bump()

    def send_ack(self, site: str, desk: str, alert_id: str) -> None:
        """Tell the desk its alert was acknowledged (QoS 1 ``cmd``)."""
        self.client.publish(m.topic(site, desk, "cmd"),
                            m.encode({"ack": alert_id, "t": m.utc_iso()}), qos=1)

    def wait_change(self, version: int, timeout_s: float) -> int:
        """Block until the floor changed past ``version`` or ``timeout_s``; the version now."""
        deadline = time.monotonic() + timeout_s
        with self.changed:
            while self.version == version:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.changed.wait(left)
            return self.version
