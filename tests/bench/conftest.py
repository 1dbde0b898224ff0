"""Fixtures for the bench tests: the rig firmware under CPython behind a socat pty pair."""
import os
import pathlib
import shutil
import sys
import time

import pytest

RIG_DIR = pathlib.Path(__file__).resolve().parents[2] / "firmware" / "bench_rig"
if str(RIG_DIR) not in sys.path:
    sys.path.insert(0, str(RIG_DIR))

from ptys import PtyPair  # noqa: E402


@pytest.fixture
def pty_pair(tmp_path):
    if shutil.which("socat") is None:
        pytest.skip("socat is not installed (scripts/test.sh installs it)")
    pair = PtyPair(tmp_path)
    yield pair
    pair.close()


@pytest.fixture
def sim_rig(pty_pair):
    """The rig firmware (main.py, rig_core, rig_proto) running under CPython on the pty's rig end."""
    from sim.serve import SimRig

    rig = SimRig(pty_pair.rig).start()
    yield rig
    rig.stop()


@pytest.fixture
def rig(sim_rig, pty_pair):
    """The host driver, through real pyserial, talking to the simulated rig."""
    from host import BenchRig

    driver = BenchRig(pty_pair.host, timeout_s=1.0, reconnect_s=2.0)
    driver.open()
    yield driver
    driver.close()


# --- the `bench` the scenario suite runs over -------------------------------------------------

def pytest_generate_tests(metafunc):
    """``--bench=sim`` runs each scenario on the fake desk and through the pty rig; serial:// once."""
    if "bench" not in metafunc.fixturenames:
        return
    option = metafunc.config.getoption("--bench")
    if option == "sim":
        kinds = ["fake", "pty-rig"]
    elif option.startswith("serial://") and len(option) > len("serial://"):
        if not metafunc.config.getoption("--bench-audio"):
            raise pytest.UsageError("--bench=serial://… needs --bench-audio=CARDNAME (the bench "
                                    "host's sound card wired to the DUT's line interface)")
        kinds = ["serial"]
    else:
        raise pytest.UsageError(f"--bench={option!r}: use 'sim' or 'serial:///dev/ttyACM0'")
    metafunc.parametrize("bench", kinds, indirect=True)


@pytest.fixture
def bench(request, tmp_path):
    from benches import CardEar, FakeBench, RigBench, RigWiring

    kind = request.param
    if kind == "serial":
        from deskline.call.profile import Profile
        from deskline.config import load_config
        from host import BenchRig

        card = request.config.getoption("--bench-audio")
        driver = BenchRig(request.config.getoption("--bench"))
        driver.open()
        b = RigBench(driver, ear=CardEar(card))
        # the DUT runs the standard profile, or the one its config file (given here) names
        dut_config = os.environ.get("DESKLINE_BENCH_CONFIG")
        b.profile = load_config(dut_config).profile if dut_config else Profile.standard()
        b.slack_s = 15.0
        try:
            yield b
        finally:
            try:
                b.hang_up()
                b.close()           # RESET: every drive released, ring stopped
            finally:
                driver.close()
            time.sleep(1.0)         # let the DUT see the on-hook before the next scenario
        return

    from dut import BENCH_PROFILE, SimDut

    dut = SimDut(tmp_path).start()
    closers = [dut.stop]
    try:
        if kind == "fake":
            b = FakeBench(dut)
        else:
            from host import BenchRig
            from sim.serve import SimRig

            if shutil.which("socat") is None:
                pytest.skip("socat is not installed (scripts/test.sh installs it)")
            pair = PtyPair(tmp_path)
            closers.insert(0, pair.close)
            rig = SimRig(pair.rig).start()
            closers.insert(0, rig.stop)
            wiring = RigWiring(rig, dut)
            closers.insert(0, wiring.close)
            driver = BenchRig(pair.host, timeout_s=1.0)
            driver.open()
            closers.insert(0, driver.close)
            b = RigBench(driver, dut=dut)
        closers.insert(0, b.close)
        b.profile, b.slack_s = BENCH_PROFILE, 2.0
        yield b
    finally:
        for close in closers:
            close()
