"""The bench rig's behaviour: drives the DUT's inputs, timestamps its outputs, answers commands.

Hardware comes in as arguments (pin objects, MicroPython's ``time`` module, a serial port with
``read() -> bytes`` that waits at most about a millisecond and ``write(bytes)``), so the same code
runs on the Pico and, with the stand-ins in ``sim/``, under CPython.

Pins are logical: a driven pin at 1 lights its optocoupler and pulls the DUT's input low
(asserted); a read pin at 1 means the DUT's output is asserted (LED lit, relay energised).
"""
import rig_proto as P

EDGE_CAPACITY = 64
CHOP_GAP_US = 2000
HEARTBEAT_US = 500000


class Clock64:
    """MicroPython's wrapping ``ticks_us`` extended to microseconds since start, never wrapping."""

    def __init__(self, time):
        self._time = time
        self._raw = time.ticks_us()
        self._ext = 0

    def now(self):
        raw = self._time.ticks_us()
        self._ext += self._time.ticks_diff(raw, self._raw)
        self._raw = raw
        return self._ext

    def extend(self, raw):
        """A raw tick taken shortly before or after the last ``now()`` on the same clock."""
        return self._ext + self._time.ticks_diff(raw, self._raw)


class Rig:
    """One bench rig: call ``step()`` in a loop (``run()`` does), register ``irq_handler``s."""

    def __init__(self, drive_pins, read_pins, time, port, board="pico", heartbeat=None):
        self._heartbeat = heartbeat      # an LED pin toggled every HEARTBEAT_US: "alive"
        self._beat_due = 0
        self._drive = drive_pins
        self._read = read_pins
        self._read_names = tuple(n for n in P.READ if n in read_pins)
        self._time = time
        self._port = port
        self._board = board
        self._clock = Clock64(time)
        self._reader = P.LineReader()
        self.wired_keys = tuple(k for k in P.KEY_NAMES if ("KEY_" + k) in drive_pins)
        # edges from pin interrupts: a fixed ring buffer, no allocation in the handler
        self._eb_t = [0] * EDGE_CAPACITY
        self._eb_sig = [0] * EDGE_CAPACITY
        self._eb_lvl = [0] * EDGE_CAPACITY
        self._w = 0
        self._r = 0
        self._lost = 0
        self._stopped = False
        self._reset_state()

    # --- pins -----------------------------------------------------------------------------

    def irq_handler(self, name):
        """The pin interrupt handler for read signal ``name``: stamps and queues the edge."""
        index = self._read_names.index(name)
        ticks_us = self._time.ticks_us
        eb_t, eb_sig, eb_lvl = self._eb_t, self._eb_sig, self._eb_lvl

        def handler(pin):
            t = ticks_us()
            w = self._w
            if w - self._r >= EDGE_CAPACITY:
                self._lost += 1
                return
            k = w % EDGE_CAPACITY
            eb_t[k] = t
            eb_sig[k] = index
            eb_lvl[k] = pin.value()
            self._w = w + 1

        return handler

    def _set(self, signal, level, t_us):
        """Drive ``signal`` to ``level``; record an edge if its logical level changed."""
        self._drive[signal].value(level)
        if self._level[signal] != level:
            self._level[signal] = level
            self._drive_edges.append((t_us, signal, level))

    def _reset_state(self):
        t = self._clock.now()
        self._level = {}
        self._drive_edges = []
        for name, pin in self._drive.items():
            pin.value(0)
            self._level[name] = 0
        self._ring = None
        self._keys = {}
        self._watch = False
        self._last = {}
        self._seq = 0
        self._r = self._w
        self._lost = 0
        return t

    # --- commands -------------------------------------------------------------------------

    def execute(self, cmd):
        """Carry out one parsed command; returns the reply line (no terminator)."""
        op = cmd[0]
        if op == "ERR":
            return P.err_line(cmd)
        t = self._clock.now()
        if op == "VER":
            keys = ",".join(self.wired_keys) or "-"
            return P.ok("VER", P.PROTOCOL_MAJOR, P.FIRMWARE_VERSION, self._board, "KEYS=" + keys)
        if op == "PING":
            return P.ok("PING")
        if op == "TIME":
            return P.ok("TIME", t)
        if op == "HOOK":
            self._set("HOOK", 1 if cmd[1] else 0, t)
            return P.ok("HOOK", "OFF" if cmd[1] else "ON", t)
        if op == "RING":
            _, on_ms, off_ms, count, chop_hz = cmd
            half_us = 500000 // chop_hz if chop_hz else 0
            self._ring = (t, on_ms * 1000, off_ms * 1000, count, half_us)
            self._service_ring(t)
            return P.ok("RING", t)
        if op == "RING_STOP":
            self._ring = None
            self._set("RING", 0, t)
            return P.ok("RING", "STOP", t)
        if op == "KEY":
            _, name, ms = cmd
            self._set("KEY_" + name, 1, t)
            self._keys[name] = t + ms * 1000
            return P.ok("KEY", name, t)
        if op == "READ":
            fields = [t]
            for name in self._read_names:
                fields.append(name + "=" + str(self._read[name].value()))
            for name in P.DRIVEN:
                if name in self._drive:
                    fields.append(name + "=" + str(self._level[name]))
            return P.ok("READ", *fields)
        if op == "WATCH":
            self._drive_edges = []
            self._r = self._w
            self._lost = 0
            if cmd[1]:
                self._last = dict(self._level)
                for name in self._read_names:
                    self._last[name] = self._read[name].value()
            self._watch = cmd[1]
            return P.ok("WATCH", "ON" if cmd[1] else "OFF", t)
        if op == "RESET":
            t = self._reset_state()
            return P.ok("RESET", t)
        return P.err_line(P.error(P.ERR_UNKNOWN, op))

    # --- timers ---------------------------------------------------------------------------

    def _service_ring(self, now):
        start, on_us, off_us, count, half_us = self._ring
        elapsed = now - start
        period = on_us + off_us
        if elapsed >= period * count:
            self._ring = None
            self._set("RING", 0, now)
            return
        phase = elapsed % period
        logical = 1 if phase < on_us else 0
        if logical != self._level["RING"]:
            self._level["RING"] = logical
            self._drive_edges.append((now, "RING", logical))
        electrical = logical
        if logical and half_us and phase % half_us >= half_us - CHOP_GAP_US:
            electrical = 0
        self._drive["RING"].value(electrical)

    def _service_timers(self, now):
        if self._ring is not None:
            self._service_ring(now)
        if self._keys:
            for name in [k for k, due in self._keys.items() if now >= due]:
                del self._keys[name]
                self._set("KEY_" + name, 0, now)

    # --- output ---------------------------------------------------------------------------

    def _flush_edges(self):
        edges = self._drive_edges
        self._drive_edges = []
        while self._r != self._w:
            k = self._r % EDGE_CAPACITY
            edges.append((self._clock.extend(self._eb_t[k]), self._read_names[self._eb_sig[k]],
                          self._eb_lvl[k]))
            self._r += 1
        lost, self._lost = self._lost, 0
        if not self._watch:
            return
        if lost:
            self._send("! LOST " + str(lost))
        if len(edges) > 1:
            edges.sort()
        for t, name, level in edges:
            if name in self._last and self._last[name] == level:
                continue
            self._last[name] = level
            self._send(P.edge_line(self._seq, t, name, level))
            self._seq += 1

    def _send(self, line):
        self._port.write((line + "\n").encode())

    # --- loop -----------------------------------------------------------------------------

    def step(self):
        """One pass of the main loop: read commands, answer, run timers, report edges."""
        data = self._port.read()
        if data:
            for item in self._reader.feed(data):
                cmd = item if isinstance(item, tuple) else P.parse(item, self.wired_keys)
                try:
                    reply = self.execute(cmd)
                except Exception as exc:  # a firmware bug must cost one reply, not the rig
                    reply = P.err_line(P.error(P.ERR_INTERNAL, repr(exc)[:40]))
                self._send(reply)
        now = self._clock.now()
        self._service_timers(now)
        if self._heartbeat is not None and now >= self._beat_due:
            self._beat_due = now + HEARTBEAT_US
            self._heartbeat.value(1 - self._heartbeat.value())
        self._flush_edges()

    def run(self):
        """Announce the boot and loop until ``stop()`` (never, on the Pico)."""
        self._send("! BOOT " + str(P.PROTOCOL_MAJOR) + " " + P.FIRMWARE_VERSION)
        while not self._stopped:
            self.step()

    def stop(self):
        self._stopped = True
