"""Command-line options shared by the whole suite (pytest reads them only from the root conftest)."""


def pytest_addoption(parser):
    group = parser.getgroup("deskline bench", "hardware-in-the-loop bench")
    group.addoption("--bench", default="sim", metavar="sim|serial://PORT",
                    help="what the bench scenarios run against: 'sim' (default, the fake desk "
                         "in-process) or 'serial:///dev/ttyACM0' (the bench rig and a real DUT)")
    group.addoption("--bench-audio", default=None, metavar="CARDNAME",
                    help="with --bench=serial://…: the bench host's sound card (ALSA name) that "
                         "plays the caller and records what the device says")


# --- the audio stack: one private PulseAudio daemon for the whole run ---------------------------

import pytest  # noqa: E402

import pulse_harness  # noqa: E402  (tests/ is on sys.path: this conftest's folder)


@pytest.fixture(scope="session")
def pulse():
    """A private PulseAudio daemon with the desk's null sinks and their keepalive streams
    (session-wide: starting one costs ~0.3 s plus sink warm-up); skips with the reason when
    PulseAudio is not installed."""
    reason = pulse_harness.available()
    if reason:
        pytest.skip(f"audio-stack test needs PulseAudio: {reason}")
    harness = pulse_harness.PulseHarness().start()
    yield harness
    harness.stop()


@pytest.fixture
def pulse_env(pulse, monkeypatch):
    """Point this process's PortAudio at the daemon (and rescan devices)."""
    import sounddevice as sd

    for key in ("HOME", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "PULSE_SERVER"):
        monkeypatch.setenv(key, pulse.env[key])
    sd._terminate()
    sd._initialize()
    yield pulse
    sd._terminate()
    sd._initialize()
