"""Run the bench rig firmware under CPython on a serial device (one end of a socat pty pair).

    socat pty,raw,echo=0,link=/tmp/ttyHOST pty,raw,echo=0,link=/tmp/ttyRIG &
    python3 firmware/bench_rig/sim/serve.py /tmp/ttyRIG
    picocom -b 115200 --omap crlf /tmp/ttyHOST        # or host.BenchRig("/tmp/ttyHOST")

The firmware's own ``main.py`` runs, with :mod:`sim.machine` as ``machine`` and
:mod:`sim.mptime` as ``time``; nothing in the firmware knows it is simulated.
"""
import importlib.util
import os
import pathlib
import select
import sys
import threading

RIG_DIR = pathlib.Path(__file__).resolve().parents[1]
if str(RIG_DIR) not in sys.path:
    sys.path.insert(0, str(RIG_DIR))

from sim import machine as sim_machine  # noqa: E402
from sim import mptime  # noqa: E402


class FdPort:
    """A serial device (a pty end) as the rig's port: ``read()`` waits at most 1 ms."""

    def __init__(self, path):
        self.path = str(path)
        self._fd = os.open(self.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)

    def read(self):
        try:
            ready, _, _ = select.select([self._fd], [], [], 0.001)
            if not ready:
                return b""
            return os.read(self._fd, 256)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError:  # the other end went away; keep the rig alive like a Pico with no host
            return b""

    def write(self, data):
        view = memoryview(data)
        while view:
            try:
                n = os.write(self._fd, view)
            except BlockingIOError:
                select.select([], [self._fd], [], 0.01)
                continue
            except OSError:
                return  # nobody is listening; a Pico drops output the same way
            view = view[n:]

    def close(self):
        os.close(self._fd)


def load_main():
    """The firmware's ``main.py`` as a module, with the stand-in ``machine`` importable."""
    sys.modules.setdefault("machine", sim_machine)
    spec = importlib.util.spec_from_file_location("bench_rig_main", RIG_DIR / "main.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class SimRig:
    """The firmware running in a thread on a simulated board, behind serial device ``path``.

    ``board`` is the far side of the rig's pins, keyed by Pico GP number (``main.DRIVE_PINS``,
    ``main.READ_PINS``): wire it to a device under test.
    """

    def __init__(self, path, *, offset_us=0):
        self.main = load_main()
        self.machine = sim_machine.Machine()
        self.time = mptime.TickClock(offset_us=offset_us)
        self.board = self.machine.board
        self.port = FdPort(path)
        self.rig = self.main.build(self.machine, self.time, self.port, board="sim")
        self._thread = threading.Thread(target=self._run, name="sim-bench-rig", daemon=True)
        self.error = None

    def _run(self):
        try:
            self.rig.run()
        except BaseException as exc:  # surfaced by stop(): a test must not pass over a dead rig
            self.error = exc

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        if self.port is None:
            return
        self.rig.stop()
        self._thread.join(timeout=2)
        self.port.close()
        self.port = None
        if self.error is not None:
            raise RuntimeError("simulated bench rig died: %r" % (self.error,))

    def drive_pin(self, signal):
        return self.main.DRIVE_PINS[signal]

    def read_pin(self, signal):
        return self.main.READ_PINS[signal]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: serve.py SERIAL_DEVICE", file=sys.stderr)
        return 2
    main_module = load_main()
    main_module.main(machine=sim_machine, time=mptime, port=FdPort(argv[0]), board="sim")
    return 0


if __name__ == "__main__":
    sys.exit(main())
