"""The host driver (firmware/bench_rig/host.py) over real pyserial and a socat pty, and against scripted ports."""
import time

import pytest
import serial

from deskline.exc import HardwareError
from host import BenchRig, Edge, Refusal, Reply, Report, RigRefused, parse_line


# --- over the pty, against the firmware under CPython ------------------------------------------

def test_version_names_board_and_keys(rig):
    assert rig.version.protocol == 1
    assert rig.version.board == "sim"
    assert rig.version.keys == ("hold", "greet", "anything_else", "goodbye", "supervisor")


def test_hook_drives_the_pin_and_read_sees_it(rig, sim_rig):
    t = rig.hook(True)
    assert t > 0
    assert sim_rig.board.output(sim_rig.drive_pin("HOOK")) == 1
    levels = rig.read()
    assert levels["HOOK"] is True and levels["MUTE_LED"] is False
    rig.hook(False)
    assert rig.read()["HOOK"] is False


def test_dut_output_edges_arrive_with_rig_timestamps(rig, sim_rig):
    rig.watch(True)
    t0 = rig.time_us()
    sim_rig.board.set_input(sim_rig.read_pin("MUTE_RELAY"), 1)
    sim_rig.board.set_input(sim_rig.read_pin("MUTE_LED"), 1)
    relay = rig.wait_edge("MUTE_RELAY", True, 2.0)
    led = rig.wait_edge("MUTE_LED", True, 2.0)
    assert t0 <= relay.t_us <= led.t_us
    assert led.seq == relay.seq + 1
    sim_rig.board.set_input(sim_rig.read_pin("MUTE_LED"), 0)
    assert rig.wait_edge("MUTE_LED", False, 2.0).t_us >= led.t_us
    assert rig.lost_edges == 0


def test_ring_bursts_and_key_presses_are_reported(rig):
    rig.watch(True)
    rig.ring(0.05, 0.05, 2)
    on1 = rig.wait_edge("RING", True, 2.0)
    off1 = rig.wait_edge("RING", False, 2.0)
    on2 = rig.wait_edge("RING", True, 2.0)
    assert on1.t_us < off1.t_us < on2.t_us
    assert on2.t_us - on1.t_us >= 95_000  # one 100 ms cadence period on the rig clock
    rig.wait_edge("RING", False, 2.0)
    rig.key("hold", 0.03)
    down = rig.wait_edge("KEY_HOLD", True, 2.0)
    up = rig.wait_edge("KEY_HOLD", False, 2.0)
    assert up.t_us - down.t_us >= 29_000


def test_refused_commands_raise_with_code_and_port(rig, pty_pair):
    with pytest.raises(RigRefused) as err:
        rig.command("HOOK SIDEWAYS")
    assert err.value.code == 3
    assert pty_pair.host in str(err.value) and "HOOK SIDEWAYS" in str(err.value)
    with pytest.raises(RigRefused) as err:
        rig.command("FROB")
    assert err.value.code == 1
    rig.ping()  # still in step


def test_driver_refuses_to_send_control_bytes(rig):
    for line in ("PING\x03", "", "   ", "KEY HÖLD"):
        with pytest.raises(HardwareError, match="refusing"):
            rig.command(line)
    rig.ping()


def test_a_silent_rig_is_a_timeout_naming_port_and_command(rig, sim_rig, pty_pair):
    sim_rig.stop()
    rig.timeout_s = 0.3
    with pytest.raises(HardwareError) as err:
        rig.hook(True)
    assert pty_pair.host in str(err.value) and "'HOOK OFF'" in str(err.value)
    assert "0.3 s" in str(err.value)


def test_opening_a_missing_port_names_it(tmp_path):
    missing = str(tmp_path / "ttyNOPE")
    with pytest.raises(HardwareError, match="ttyNOPE"):
        BenchRig(f"serial://{missing}").open()


def test_reconnects_after_the_port_drops(rig_factory):
    drops = {"left": 0}

    class Flaky:
        def __init__(self, real):
            self._real = real

        def write(self, data):
            if data != b"\n" and drops["left"]:
                drops["left"] -= 1
                self._real.close()
                raise serial.SerialException("device reports readiness to read but returned no data")
            return self._real.write(data)

        def __getattr__(self, name):
            return getattr(self._real, name)

    driver = rig_factory(lambda port, baud: Flaky(serial.Serial(port, baud, timeout=0.02)))
    drops["left"] = 1
    assert driver.hook(True) > 0
    assert driver.reconnects == 1
    assert driver.read()["HOOK"] is True


@pytest.fixture
def rig_factory(sim_rig, pty_pair):
    made = []

    def make(opener):
        d = BenchRig(pty_pair.host, timeout_s=1.0, reconnect_s=2.0, opener=opener)
        d.open()
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()


# --- scripted ports: what a broken or future rig might say -------------------------------------

class ScriptedSerial:
    """A serial port whose rig answers from a dict: command line → reply lines."""

    def __init__(self, script, extra_before=()):
        self.script = script
        self.pending = bytearray()
        self.extra_before = list(extra_before)
        self.closed = False

    @property
    def in_waiting(self):
        return len(self.pending)

    def read(self, n=1):
        if not self.pending:
            time.sleep(0.005)
        data = bytes(self.pending[:n])
        del self.pending[:n]
        return data

    def write(self, data):
        for raw in data.decode().split("\n")[:-1]:
            if not raw:
                continue
            for line in self.extra_before:
                self.pending += line.encode() + b"\n"
            self.extra_before = []
            default = ["OK TIME 1"] if raw == "TIME" else ["ERR 1 unknown command: " + raw]
            for line in self.script.get(raw, default):
                self.pending += line.encode() + b"\n"

    def flush(self):
        pass

    def close(self):
        self.closed = True


GOOD_VER = "OK VER 1 0.1.0 pico KEYS=HOLD"


def scripted(script, **kw):
    port = ScriptedSerial(script, **kw)
    return BenchRig("scripted", timeout_s=0.3, opener=lambda p, b: port), port


def test_another_protocol_major_is_refused():
    driver, port = scripted({"VER": ["OK VER 2 9.0.0 pico KEYS=-"]})
    with pytest.raises(HardwareError, match="speaks protocol 2"):
        driver.open()
    assert port.closed


def test_reply_to_the_wrong_command_is_out_of_step():
    driver, _ = scripted({"VER": [GOOD_VER], "PING": ["OK TIME 5"]})
    driver.open()
    with pytest.raises(HardwareError, match="out of step"):
        driver.ping()


def test_garbage_from_the_rig_is_an_error_naming_the_port():
    driver, _ = scripted({"VER": [GOOD_VER], "PING": ["%%% noise"]})
    driver.open()
    with pytest.raises(HardwareError, match="scripted.*PING"):
        driver.ping()


def test_reports_before_a_reply_are_filed_and_gaps_counted():
    driver, _ = scripted({"VER": [GOOD_VER],
                          "PING": ["! BOOT 1 0.1.0", "! EDGE 0 10 MUTE_LED 1",
                                   "! EDGE 3 20 MUTE_LED 0", "! LOST 5", "! FUTURE x", "OK PING"]})
    driver.open()
    driver.ping()
    assert driver.edges() == [Edge(0, 10, "MUTE_LED", True), Edge(3, 20, "MUTE_LED", False)]
    assert driver.lost_edges == 2 + 5


def test_a_key_that_is_not_wired_is_refused_before_sending():
    driver, _ = scripted({"VER": [GOOD_VER]})
    driver.open()
    with pytest.raises(HardwareError, match="no key 'greet' wired"):
        driver.key("greet")


def test_wait_edge_times_out_with_a_clear_message():
    driver, _ = scripted({"VER": [GOOD_VER]})
    driver.open()
    with pytest.raises(HardwareError, match="MUTE_LED not asserted within 0.1 s"):
        driver.wait_edge("MUTE_LED", True, 0.1)


@pytest.mark.parametrize("line, record", [
    ("OK PING", Reply("PING", ())),
    ("OK HOOK OFF 12", Reply("HOOK", ("OFF", "12"))),
    ("ERR 3 bad argument: x", Refusal(3, "bad argument: x")),
    ("! EDGE 7 123 RING 1", Edge(7, 123, "RING", True)),
    ("! BOOT 1 0.1.0", Report("BOOT", ("1", "0.1.0"))),
])
def test_parse_line(line, record):
    assert parse_line(line) == record


@pytest.mark.parametrize("line", ["", "OK", "ERR", "ERR x text", "!", "! EDGE 1 2 RING",
                                  "! EDGE 1 2 RING 2", "! EDGE -1 2 RING 1", "HELLO",
                                  "OK PING\x00", "OK PÏNG"])
def test_parse_line_rejects_malformed(line):
    with pytest.raises(HardwareError):
        parse_line(line)


def test_a_late_reply_does_not_answer_the_next_command():
    driver, _ = scripted({"VER": [GOOD_VER], "PING": [],
                          "TIME": ["OK PING", "! EDGE 4 70 MUTE_LED 1", "OK TIME 7"],
                          "HOOK OFF": ["OK HOOK OFF 9"]})
    driver.open()
    with pytest.raises(HardwareError, match="no reply to 'PING'"):
        driver.ping()
    assert driver.hook(True) == 9           # the stale OK PING was skipped by a resync
    assert [e.seq for e in driver.edges()] == [4, 4]   # edges met on the way are kept


def test_a_rig_that_never_answers_fails_to_open_naming_the_port():
    driver, port = scripted({"TIME": []})
    with pytest.raises(HardwareError, match="scripted: no reply to 'TIME'.*firmware running"):
        driver.open()
    assert port.closed
