"""Measure the simulated rig's link: command round trip, edge report delay, ring cadence error.

    python3 firmware/bench_rig/sim/latency.py [N]

Runs the firmware under CPython behind a socat pty pair and drives it with the host driver
(firmware/bench_rig/host.py) through real pyserial. The figures describe this simulation on this machine
(a pty has no baud rate; a Pico's USB full-speed link and MicroPython loop are slower), so they
bound what the CI path adds, not what a bench measures.
"""
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from sim.serve import SimRig  # noqa: E402


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main(argv=None):
    from host import BenchRig

    argv = sys.argv[1:] if argv is None else argv
    n = int(argv[0]) if argv else 300
    tmp = pathlib.Path(tempfile.mkdtemp())
    host, rig_end = tmp / "ttyHOST", tmp / "ttyRIG"
    socat = subprocess.Popen(["socat", f"pty,raw,echo=0,link={host}",
                              f"pty,raw,echo=0,link={rig_end}"], stderr=subprocess.DEVNULL)
    try:
        while not (host.exists() and rig_end.exists()):
            time.sleep(0.01)
        sim = SimRig(str(rig_end)).start()
        driver = BenchRig(str(host))
        driver.open()
        rtt = []
        for _ in range(n):
            t0 = time.perf_counter()
            driver.ping()
            rtt.append((time.perf_counter() - t0) * 1e3)
        driver.watch(True)
        gp = sim.read_pin("MUTE_LED")
        delay = []
        for i in range(n):
            t0 = time.perf_counter()
            sim.board.set_input(gp, (i + 1) % 2)
            driver.wait_edge("MUTE_LED", bool((i + 1) % 2), 2.0)
            delay.append((time.perf_counter() - t0) * 1e3)
        driver.ring(0.1, 0.1, 10)
        starts = []
        for _ in range(10):
            starts.append(driver.wait_edge("RING", True, 2.0).t_us)
        period_err = [abs((b - a) - 200_000) / 1e3 for a, b in zip(starts, starts[1:])]
        print(f"load average {os.getloadavg()[0]:.1f}, {n} samples each")
        print(f"PING round trip ms: median {statistics.median(rtt):.2f}, p99 {pct(rtt, 0.99):.2f}")
        print(f"edge pin→host ms:   median {statistics.median(delay):.2f}, "
              f"p99 {pct(delay, 0.99):.2f}")
        print(f"ring period error ms (200 ms cadence): max {max(period_err):.2f}")
        driver.close()
        sim.stop()
    finally:
        socat.terminate()
        socat.wait(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
