"""The rig firmware's behaviour, stepped by hand on a simulated board with a manual tick clock."""
import pytest

from sim.machine import Machine
from sim.mptime import TICKS_PERIOD, ManualTicks
from sim.serve import load_main

MAIN = load_main()


class MemPort:
    """Bytes in from a list, lines out into a list."""

    def __init__(self):
        self.incoming = bytearray()
        self.out = []
        self._partial = b""

    def read(self):
        data, self.incoming = bytes(self.incoming), bytearray()
        return data

    def write(self, data):
        *done, self._partial = (self._partial + data).split(b"\n")
        self.out.extend(d.decode() for d in done)


class Bench:
    def __init__(self, start_us=0):
        self.machine = Machine()
        self.time = ManualTicks(start_us)
        self.port = MemPort()
        self.rig = MAIN.build(self.machine, self.time, self.port, board="sim")
        self.board = self.machine.board

    def send(self, line):
        """Send one command, run one loop pass, return the reply (reports stay in .port.out)."""
        self.port.incoming += line.encode() + b"\n"
        before = len(self.port.out)
        self.rig.step()
        replies = [l for l in self.port.out[before:] if not l.startswith("!")]
        assert len(replies) == 1, self.port.out[before:]
        return replies[0]

    def run_for(self, us, step_us=500):
        for _ in range(us // step_us):
            self.time.advance(step_us)
            self.rig.step()

    def edges(self):
        out = [l.split() for l in self.port.out if l.startswith("! EDGE")]
        return [(int(e[2]), int(e[3]), e[4], int(e[5])) for e in out]

    def out_level(self, signal):
        return self.board.output(MAIN.DRIVE_PINS[signal])


def test_hook_drives_the_optocoupler_pin_and_reports_when():
    b = Bench()
    b.time.advance(1234)
    assert b.send("HOOK OFF") == "OK HOOK OFF 1234"
    assert b.out_level("HOOK") == 1
    b.time.advance(10)
    assert b.send("hook on") == "OK HOOK ON 1244"
    assert b.out_level("HOOK") == 0


def test_ring_cadence_follows_the_rig_clock():
    b = Bench()
    b.send("WATCH ON")
    assert b.send("RING 100 200 2").startswith("OK RING")
    b.run_for(700_000)
    ring = [(t, lvl) for _, t, sig, lvl in b.edges() if sig == "RING"]
    assert [lvl for _, lvl in ring] == [1, 0, 1, 0]
    starts = [t for t, lvl in ring if lvl]
    ends = [t for t, lvl in ring if not lvl]
    assert starts[1] - starts[0] == pytest.approx(300_000, abs=500)
    assert ends[0] - starts[0] == pytest.approx(100_000, abs=500)
    assert b.out_level("RING") == 0


def test_chopped_ring_releases_the_pin_but_reports_one_burst():
    b = Bench()
    b.send("WATCH ON")
    b.send("RING 100 100 1 CHOP 25")
    levels = []
    for _ in range(440):  # 110 ms
        b.time.advance(250)
        b.rig.step()
        levels.append(b.out_level("RING"))
    gaps = sum(1 for a, c in zip(levels, levels[1:]) if a == 1 and c == 0)
    assert gaps >= 4  # a 25 Hz ringer: a release every 20 ms within the 100 ms burst
    assert [e[3] for e in b.edges() if e[2] == "RING"] == [1, 0]


def test_ring_stop_and_a_new_ring_replaces_the_old():
    b = Bench()
    b.send("RING 1000 1000 5")
    assert b.out_level("RING") == 1
    assert b.send("RING STOP").startswith("OK RING STOP")
    assert b.out_level("RING") == 0
    b.run_for(5000)
    assert b.out_level("RING") == 0


def test_key_press_releases_itself():
    b = Bench()
    b.send("WATCH ON")
    b.send("KEY HOLD 50")
    assert b.out_level("KEY_HOLD") == 1
    b.run_for(60_000)
    assert b.out_level("KEY_HOLD") == 0
    hold = [e for e in b.edges() if e[2] == "KEY_HOLD"]
    assert [e[3] for e in hold] == [1, 0]
    assert hold[1][1] - hold[0][1] == pytest.approx(50_000, abs=600)


def test_dut_outputs_are_stamped_in_the_interrupt_and_reported_in_order():
    b = Bench()
    b.send("WATCH ON")
    b.time.advance(100)
    b.board.set_input(MAIN.READ_PINS["MUTE_RELAY"], 1)
    b.time.advance(100)
    b.board.set_input(MAIN.READ_PINS["MUTE_LED"], 1)
    b.time.advance(5000)
    b.rig.step()
    edges = b.edges()
    assert [(e[2], e[3]) for e in edges] == [("MUTE_RELAY", 1), ("MUTE_LED", 1)]
    assert edges[1][1] - edges[0][1] == 100
    assert [e[0] for e in edges] == [0, 1]
    reply = b.send("READ").split()
    assert "MUTE_LED=1" in reply and "MUTE_RELAY=1" in reply and "LINE_RELEASE=0" in reply


def test_no_edges_before_watch_on():
    b = Bench()
    b.board.set_input(MAIN.READ_PINS["LINE_RELEASE"], 1)
    b.send("HOOK OFF")
    b.rig.step()
    assert b.edges() == []


def test_clock_keeps_counting_across_the_ticks_wrap():
    b = Bench(start_us=TICKS_PERIOD - 3000)
    t0 = int(b.send("TIME").split()[2])
    b.run_for(10_000)
    t1 = int(b.send("TIME").split()[2])
    assert t1 - t0 == 10_000


def test_edge_buffer_overflow_is_reported_not_hidden():
    b = Bench()
    b.send("WATCH ON")
    pin = MAIN.READ_PINS["MUTE_LED"]
    for i in range(200):
        b.time.advance(10)
        b.board.set_input(pin, i % 2 == 0)
    b.rig.step()
    lost = [l for l in b.port.out if l.startswith("! LOST")]
    assert lost and int(lost[0].split()[2]) == 200 - 64
    assert len(b.edges()) == 64


def test_reset_releases_everything():
    b = Bench()
    b.send("HOOK OFF")
    b.send("RING 1000 1000 3")
    b.send("KEY SUPERVISOR 5000")
    b.send("WATCH ON")
    assert b.send("RESET").startswith("OK RESET")
    for signal in MAIN.DRIVE_PINS:
        assert b.out_level(signal) == 0, signal
    b.board.set_input(MAIN.READ_PINS["MUTE_LED"], 1)
    b.run_for(2000)
    assert b.edges() == []


def test_ver_names_the_wired_keys():
    b = Bench()
    assert b.send("VER") == "OK VER 1 0.1.0 sim KEYS=HOLD,GREET,ANYTHING_ELSE,GOODBYE,SUPERVISOR"


def test_a_rig_without_key_pins_says_so():
    machine = Machine()
    port = MemPort()
    rig = MAIN.build(machine, ManualTicks(), port, board="sim",
                     drive_pins={"HOOK": 2, "RING": 3})
    port.incoming += b"VER\nKEY HOLD\n"
    rig.step()
    assert port.out == ["OK VER 1 0.1.0 sim KEYS=-", "ERR 5 not wired: KEY HOLD"]


def test_errors_leave_the_state_alone():
    b = Bench()
    b.send("HOOK OFF")
    assert b.send("HOOK SIDEWAYS").startswith("ERR 3")
    assert b.send("RING 1 1 1").startswith("ERR 3")
    assert b.out_level("HOOK") == 1 and b.out_level("RING") == 0


def test_the_board_led_blinks_while_the_loop_runs():
    b = Bench()
    led = []
    for _ in range(25):
        b.time.advance(100_000)
        b.rig.step()
        led.append(b.board.output("LED"))
    assert led.count(1) >= 10 and led.count(0) >= 10     # toggles every 0.5 s
