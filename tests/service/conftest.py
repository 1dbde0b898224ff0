"""Fixtures for the audio-stack tests: a private PulseAudio daemon with the desk's null sinks."""
import pytest

import pulse_harness


@pytest.fixture(scope="session")
def pulse():
    """The running daemon (session-wide: starting one costs ~0.3 s plus sink warm-up)."""
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
