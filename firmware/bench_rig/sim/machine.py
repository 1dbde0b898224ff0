"""A stand-in for MicroPython's ``machine`` module: pins on a simulated board, under CPython.

Only what the rig firmware uses: ``Pin`` (IN/OUT, pulls, ``value``, ``on``/``off``, ``irq``).
The far side of each pin (the device under test) is the :class:`Board`: ``board.set_input(gp,
level)`` drives an input pin from outside and fires its interrupt handler, as the RP2040 would;
``board.output(gp)`` reads what the firmware drives, and ``board.on_output(gp, fn)`` calls
``fn(level)`` whenever the firmware changes it.

``Machine()`` makes an independent board with its own ``Pin`` class, so several simulated rigs
can share a process; the module-level names are one default board, for ``import machine``.
"""
import threading


class Board:
    """The wires outside the simulated chip: external input levels and output watchers."""

    def __init__(self):
        self.pins = {}
        self._external = {}
        self._watchers = {}
        self._lock = threading.RLock()

    def set_input(self, gp, level):
        """Drive pin ``gp`` from outside; an input pin's interrupt fires on a matching edge."""
        level = 1 if level else 0
        with self._lock:
            self._external[gp] = level
            pin = self.pins.get(gp)
            if pin is not None:
                pin._external_changed()

    def release_input(self, gp):
        """Stop driving ``gp`` from outside (it floats to its pull)."""
        with self._lock:
            self._external.pop(gp, None)
            pin = self.pins.get(gp)
            if pin is not None:
                pin._external_changed()

    def external(self, gp):
        return self._external.get(gp)

    def output(self, gp):
        """The level the firmware drives on ``gp`` (None if it is not an output)."""
        pin = self.pins.get(gp)
        if pin is None or pin._mode != Pin.OUT:
            return None
        return pin._out

    def on_output(self, gp, fn):
        """Call ``fn(level)`` each time the firmware changes output ``gp``."""
        self._watchers.setdefault(gp, []).append(fn)

    def _notify(self, gp, level):
        for fn in self._watchers.get(gp, ()):
            fn(level)


class Pin:
    """MicroPython's ``machine.Pin``, enough of it for the rig."""

    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_FALLING = 4
    IRQ_RISING = 8

    board = None  # set on the per-machine subclass

    def __init__(self, id, mode=-1, pull=-1, *, value=None):
        self._id = id
        self._mode = self.IN
        self._pull = None
        self._out = 0
        self._handler = None
        self._trigger = 0
        self._level = 0
        self.init(mode, pull, value=value)
        self.board.pins[id] = self

    def init(self, mode=-1, pull=-1, *, value=None):
        if mode != -1:
            self._mode = mode
        if pull != -1:
            self._pull = pull
        if value is not None:
            self._write(value)
        self._level = self._read_level()

    def _read_level(self):
        if self._mode == self.OUT:
            return self._out
        ext = self.board.external(self._id)
        if ext is not None:
            return ext
        return 1 if self._pull == self.PULL_UP else 0

    def _write(self, value):
        value = 1 if value else 0
        changed = value != self._out
        self._out = value
        if self._mode == self.OUT and changed:
            self.board._notify(self._id, value)

    def _external_changed(self):
        before, self._level = self._level, self._read_level()
        if self._handler is None or before == self._level:
            return
        if (self._level and self._trigger & self.IRQ_RISING) or \
                (not self._level and self._trigger & self.IRQ_FALLING):
            self._handler(self)

    def value(self, x=None):
        if x is None:
            return self._read_level()
        self._write(x)
        self._level = self._read_level()
        return None

    __call__ = value

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    high = on
    low = off

    def irq(self, handler=None, trigger=IRQ_FALLING | IRQ_RISING, hard=False):
        self._handler = handler
        self._trigger = trigger

    def __repr__(self):
        return "Pin(%s)" % self._id


class Machine:
    """One simulated board: ``.Pin``, ``.board`` and the module functions the rig may call."""

    def __init__(self):
        self.board = Board()
        self.Pin = type("Pin", (Pin,), {"board": self.board})

    @staticmethod
    def freq():
        return 125_000_000

    @staticmethod
    def unique_id():
        return b"SIMRIG01"

    @staticmethod
    def disable_irq():
        return 0

    @staticmethod
    def enable_irq(state=0):
        return None


_default = Machine()
board = _default.board
Pin = _default.Pin
freq = Machine.freq
unique_id = Machine.unique_id
disable_irq = Machine.disable_irq
enable_irq = Machine.enable_irq
