"""The floor under load: many simulated desks, one Mosquitto, one ``deskline floor serve``.

Each desk is a :class:`deskline.floor.simdesk.SimDesk`: its real call record (SQLite, with the
floor outbox) and its real link (paho, QoS 1, outbox until PUBACK), fed a scripted call (rings,
answer, talk, a hold on every third call, the SUPERVISOR key on every fifth) on a compressed
clock: a call a minute of desk time is one call every ``60 / speed`` seconds here. Desks run
in worker processes (25 to a process); the broker is the shipped configuration
(``deskline floor setup-broker``) and the floor service runs as users start it.

Measured over the run:
- messages per second through the broker to the floor (an observer subscribed as the floor
  user counts every message under ``deskline/``);
- alert latency: the floor's clock when it stored an alert minus the desk's clock when it
  raised it (both this machine's clock; milliseconds), median and 99th percentile;
- calls and alerts stored against calls and alerts made (after the desks' outboxes emptied);
- the floor service's CPU (utime+stime over wall time, share of one core) and peak memory
  (VmHWM).

Desk records are kept in ``/dev/shm`` (a Pi's SD card is the desk's own cost, not the floor's).

Usage: ``python3 bench/floor_load.py [--desks 100 200 400] [--seconds 60] [--speed 10]
[--out bench/results/floor.md]``
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import pathlib
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "floor"))
sys.path.insert(0, str(REPO / "bench"))

from results_file import write_results  # noqa: E402

PER_WORKER = 25


def _worker(port, creds, desks, workdir, seconds, interval_s, offset_s, out):
    """Run ``desks`` (id -> agent) for ``seconds``, one call each per ``interval_s``."""
    from deskline.floor.link import LinkSettings
    from deskline.floor.simdesk import CallScript, SimDesk

    sims = {}
    for i, desk in enumerate(desks):
        user, pw = creds[desk]
        s = LinkSettings(host="127.0.0.1", port=port, site="f3", desk=desk, username=user,
                         password=pw, record_path=os.path.join(workdir, f"{desk}.db"),
                         agent_no=f"{1000 + int(desk.split('-')[1])}", version="bench")
        sims[desk] = SimDesk(s).start()
    made = {"calls": 0, "alerts": 0}
    owed = {d: 0 for d in desks}           # alerts and calls each desk's broker must have
    start = time.monotonic()
    # each desk's calls are spread evenly over the interval
    due = {d: start + offset_s + interval_s * i / len(desks) for i, d in enumerate(desks)}
    n = {d: 0 for d in desks}
    while time.monotonic() - start < seconds:
        desk = min(due, key=due.get)
        wait = due[desk] - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        k = n[desk] = n[desk] + 1
        hold = 30.0 if k % 3 == 0 else 0.0
        sup = k % 5 == 0
        sims[desk].call(CallScript(rings=1 + k % 5, talk_s=40.0, hold_s=hold, supervisor=sup))
        made["calls"] += 1
        made["alerts"] += int(sup) + int(hold >= 20.0)
        owed[desk] += 1 + int(sup) + int(hold >= 20.0)
        due[desk] += interval_s
    # the desks stay up until the broker has every alert and call
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and any(
            s.link.stats["acked"] < owed[d] or s.link.pending() for d, s in sims.items()):
        time.sleep(0.2)
    made["pending"] = sum(s.link.pending() for s in sims.values())
    for s in sims.values():
        s.close(2.0)
    out.put(made)


def _proc_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_kb(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


class Counter:
    """Counts every message under deskline/ per second (as the floor user, its own session)."""

    def __init__(self, port, user, pw):
        import paho.mqtt.client as mqtt

        self.n = 0
        self.per_s: dict[int, int] = {}
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-counter",
                        clean_session=True)
        c.username_pw_set(user, pw)
        ready = threading.Event()
        c.on_connect = lambda cl, u, f, rc, p: (cl.subscribe("deskline/+/+/+", qos=0),
                                                ready.set())
        c.on_message = self._on_message
        c.connect("127.0.0.1", port)
        c.loop_start()
        ready.wait(10)
        self.c = c

    def _on_message(self, client, userdata, msg):
        if msg.topic.endswith("/cmd"):
            return
        self.n += 1
        sec = int(time.monotonic())
        self.per_s[sec] = self.per_s.get(sec, 0) + 1

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def run_once(n_desks: int, seconds: float, speed: float) -> dict:
    from broker_harness import Broker
    from floor_harness import FloorService

    from deskline.floor import messages as m
    from deskline.floor.store import FloorStore

    desks = [f"desk-{i:03d}" for i in range(1, n_desks + 1)]
    broker = Broker(desks).start()
    work = tempfile.mkdtemp(prefix="floor-bench-")
    shm = tempfile.mkdtemp(prefix="floor-bench-desks-", dir="/dev/shm"
                           if os.path.isdir("/dev/shm") else None)
    floor = FloorService(broker, work).start()
    counter = Counter(broker.port, *broker.creds("floor"))
    interval_s = 60.0 / speed
    try:
        creds = {d: broker.creds(d) for d in desks}
        ctx = mp.get_context("spawn")
        out = ctx.Queue()
        groups = [desks[i:i + PER_WORKER] for i in range(0, len(desks), PER_WORKER)]
        procs = [ctx.Process(target=_worker, args=(broker.port, creds, g, shm, seconds,
                                                   interval_s, 3.0, out)) for g in groups]
        for p in procs:
            p.start()
        pid = floor.proc.pid
        time.sleep(3.0)                          # the desks connect
        cpu0, t0, n0 = _proc_cpu_s(pid), time.monotonic(), counter.n
        made = [out.get(timeout=seconds + 300) for _ in procs]
        cpu1, t1, n1 = _proc_cpu_s(pid), time.monotonic(), counter.n
        for p in procs:
            p.join(30)
        calls_made = sum(x["calls"] for x in made)
        alerts_made = sum(x["alerts"] for x in made)
        store = FloorStore(floor.store_path, readonly=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            c = store.counts()
            if c["calls"] >= calls_made and c["alerts"] >= alerts_made:
                break
            time.sleep(0.5)
        c = store.counts()
        lat = sorted((m.parse_iso(r).timestamp() - m.parse_iso(t).timestamp()) * 1000.0
                     for t, r in store._db.execute("SELECT t, received_at FROM alerts"))
        store.close()
        busy = sorted(counter.per_s.values())
        return {
            "desks": n_desks, "seconds": round(t1 - t0, 1), "speed": speed,
            "calls_made": calls_made, "calls_stored": c["calls"],
            "alerts_made": alerts_made, "alerts_stored": c["alerts"],
            "left_in_outboxes": sum(x["pending"] for x in made), "rejects": c["rejects"],
            "msg_per_s": round((n1 - n0) / (t1 - t0), 1),
            "msg_per_s_peak": busy[-1] if busy else 0,
            "alert_ms_median": round(statistics.median(lat), 1) if lat else None,
            "alert_ms_p99": round(lat[min(len(lat) - 1, int(0.99 * len(lat)))], 1) if lat else None,
            "alert_ms_max": round(lat[-1], 1) if lat else None,
            "floor_cpu_pct": round(100.0 * (cpu1 - cpu0) / (t1 - t0), 1),
            "floor_rss_mb": round(_proc_kb(pid, "VmRSS") / 1024, 1),
            "floor_hwm_mb": round(_proc_kb(pid, "VmHWM") / 1024, 1),
        }
    finally:
        counter.close()
        floor.stop()
        broker.close()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(shm, ignore_errors=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--desks", type=int, nargs="+", default=[100])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--speed", type=float, default=10.0,
                    help="clock compression: a call a minute of desk time every 60/speed s")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "floor.md"))
    args = ap.parse_args(argv)
    rows = []
    for n in args.desks:
        r = run_once(n, args.seconds, args.speed)
        print(r, flush=True)
        rows.append(r)
    cmd = "python3 bench/floor_load.py " + " ".join(sys.argv[1:] if argv is None else argv)
    lines = [
        "# The floor under load",
        "",
        f"`{cmd.strip()}` on {platform.machine()}, {os.cpu_count()} cores (shared with other "
        f"work), Python {platform.python_version()}, Mosquitto from Debian; desks, broker and "
        "floor service on this one machine. Each desk makes a call a minute of its own time, "
        f"compressed {args.speed:g}× (one call every {60 / args.speed:g} s), a hold of 30 s on "
        "every third call (an alert past 20 s) and the SUPERVISOR key on every fifth.",
        "",
        "| desks | s | calls made / stored | alerts made / stored | left in outboxes | "
        "msg/s (peak) | alert latency median / p99 / max (ms) | floor CPU (% of a core) | "
        "floor memory now / peak (MB) | rejects |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['desks']} | {r['seconds']} | {r['calls_made']} / {r['calls_stored']} | "
            f"{r['alerts_made']} / {r['alerts_stored']} | {r['left_in_outboxes']} | "
            f"{r['msg_per_s']} ({r['msg_per_s_peak']}) | {r['alert_ms_median']} / "
            f"{r['alert_ms_p99']} / {r['alert_ms_max']} | {r['floor_cpu_pct']} | "
            f"{r['floor_rss_mb']} / {r['floor_hwm_mb']} | {r['rejects'] or 0} |")
    lines += ["", "Alert latency is from the desk raising the alert (its link's clock) to the "
              "floor service storing it; the page is told at once (server-sent events).",
              "The simulated desks themselves (their SQLite records and links) run on the same "
              "two cores as the broker and the floor service."]
    write_results(args.out, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
