"""Bench rig firmware entry point: wires the Pico's pins to the rig and serves USB serial.

Copy ``main.py``, ``rig_core.py`` and ``rig_proto.py`` to the Pico (``mpremote cp``); it starts
at power-up. Under CPython the simulator calls ``main()`` with stand-ins for ``machine``, ``time``
and the port (``sim/serve.py``), so this very file is what CI runs.
"""
import machine
import time

import rig_core

# Pico GP numbers (hw/bench-rig/README.md). Driven pins light an optocoupler: 1 = asserted.
DRIVE_PINS = {
    "HOOK": 2,
    "RING": 3,
    "KEY_HOLD": 4,
    "KEY_GREET": 5,
    "KEY_ANYTHING_ELSE": 6,
    "KEY_GOODBYE": 7,
    "KEY_SUPERVISOR": 8,
}
# Read pins see the DUT's outputs through 1 kOhm; the pull-down reads an unplugged wire as 0.
READ_PINS = {"MUTE_LED": 10, "MUTE_RELAY": 11, "LINE_RELEASE": 12}


class UsbPort:
    """The Pico's USB serial (MicroPython's stdin/stdout) as a non-blocking byte port."""

    def __init__(self):
        import select
        import sys
        self._in = sys.stdin.buffer
        self._out = sys.stdout.buffer
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)

    def read(self):
        """Bytes that have arrived, waiting at most 1 ms for the first one."""
        data = b""
        if self._poll.poll(1):
            while len(data) < 64 and self._poll.poll(0):
                data += self._in.read(1)
        return data

    def write(self, data):
        self._out.write(data)


def build(machine, time, port, board="pico", drive_pins=None, read_pins=None):
    """A rig on ``machine``'s pins, its read pins' interrupts registered."""
    drive_pins = DRIVE_PINS if drive_pins is None else drive_pins
    read_pins = READ_PINS if read_pins is None else read_pins
    Pin = machine.Pin
    drive = {}
    for name, gp in drive_pins.items():
        drive[name] = Pin(gp, Pin.OUT, value=0)
    read = {}
    for name, gp in read_pins.items():
        read[name] = Pin(gp, Pin.IN, Pin.PULL_DOWN)
    # the board's own LED blinks at 1 Hz while the main loop runs ("LED" on Pico and Pico W)
    rig = rig_core.Rig(drive, read, time, port, board, heartbeat=Pin("LED", Pin.OUT, value=0))
    for name, pin in read.items():
        pin.irq(handler=rig.irq_handler(name), trigger=Pin.IRQ_RISING | Pin.IRQ_FALLING)
    return rig


def main(machine=machine, time=time, port=None, board="pico"):
    """Build the rig and run it forever."""
    rig = build(machine, time, port if port is not None else UsbPort(), board)
    rig.run()


if __name__ == "__main__":
    main()
