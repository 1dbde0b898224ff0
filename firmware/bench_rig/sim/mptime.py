"""A stand-in for MicroPython's ``time`` tick functions under CPython, wrapping like the Pico's.

``ticks_us`` wraps at 2**30 as on the RP2040 port, so the firmware's 64-bit clock extension is
exercised under CPython too. ``TickClock(offset_us=...)`` starts the ticks anywhere, e.g. just
before a wrap.
"""
import time as _time

TICKS_PERIOD = 1 << 30
_HALF = TICKS_PERIOD // 2


class TickClock:
    """MicroPython's tick API over CPython's monotonic clock."""

    def __init__(self, offset_us=0):
        self._offset_us = offset_us - _time.monotonic_ns() // 1000

    def ticks_us(self):
        return (_time.monotonic_ns() // 1000 + self._offset_us) % TICKS_PERIOD

    def ticks_ms(self):
        return (self.ticks_us() // 1000) % TICKS_PERIOD

    @staticmethod
    def ticks_diff(a, b):
        return ((a - b + _HALF) % TICKS_PERIOD) - _HALF

    @staticmethod
    def ticks_add(a, delta):
        return (a + delta) % TICKS_PERIOD

    @staticmethod
    def sleep_ms(ms):
        _time.sleep(ms / 1000)

    @staticmethod
    def sleep_us(us):
        _time.sleep(us / 1_000_000)

    @staticmethod
    def sleep(s):
        _time.sleep(s)


_default = TickClock()
ticks_us = _default.ticks_us
ticks_ms = _default.ticks_ms
ticks_diff = TickClock.ticks_diff
ticks_add = TickClock.ticks_add
sleep_ms = TickClock.sleep_ms
sleep_us = TickClock.sleep_us
sleep = TickClock.sleep


class ManualTicks(TickClock):
    """Ticks that move only when told (``advance(us)``), for step-by-step firmware tests."""

    def __init__(self, start_us=0):
        self._now_us = start_us

    def ticks_us(self):
        return self._now_us % TICKS_PERIOD

    def advance(self, us):
        self._now_us += us
