"""``DESKLINE_HW=fake deskline run`` on a machine with no sound server: the fake card plays a
recording as the caller and writes what the desk says to a WAV file, in real time."""
import os
import pathlib
import signal
import time

import numpy as np
import soundfile as sf

from deskline.record.journal import Journal

from live_harness import LiveService, write_short_phrases

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"

CONFIG = """\
[desk]
hotline_name = "测试热线"
agent_no = "1023"
language = "zh"

[hw]
backend = "fake"
hook_debounce_s = 0.02

[audio]
block_s = 0.05
tx_channel = "none"
fake_caller = "{caller}"
fake_output = "{output}"

[journal]
path = "{journal}"

[phrases]
dir = "{phrases}"
"""


def test_fake_desk_runs_with_no_sound_server(tmp_path):
    out = tmp_path / "said.wav"
    journal = tmp_path / "calls.db"
    cfg = tmp_path / "deskline.toml"
    cfg.write_text(CONFIG.format(caller=FIXTURES / "cmu_arctic_us_aew_a0001.wav", output=out,
                                 journal=journal, phrases=write_short_phrases(tmp_path / "ph")),
                   encoding="utf-8")
    # no sound server anywhere: a PulseAudio socket that is not there, no ALSA card
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULSE_", "DESKLINE_"))}
    env.update(PULSE_SERVER=f"unix:{tmp_path}/no-pulse", HOME=str(tmp_path))
    svc = LiveService(str(tmp_path), env, str(cfg)).start()
    try:
        svc.desk.send("hook off")
        state = svc.wait_state(lambda s: s["hook"] == "off", 3)
        assert state["hook"] == "off"
        time.sleep(1.5)                       # the greeting (0.6 s) into the output file
        svc.desk.send("hook on")
        time.sleep(1.2)                       # past the flash window: the call is over
    finally:
        rc = svc.stop(signal.SIGTERM)
        svc.close()
    assert rc == 0, svc.log()
    assert "card 'fake'" in svc.log()
    said, rate = sf.read(out)
    assert rate > 0 and said.size > 0
    loud = np.flatnonzero(np.abs(said) > 0.01)
    assert loud.size and (loud[-1] - loud[0]) / rate > 0.4      # the greeting, heard
    j = Journal(journal, readonly=True)
    try:
        calls = j.calls()
    finally:
        j.close()
    assert len(calls) == 1
    assert [p["phrase"] for p in calls[0]["prompts"]][:1] == ["greeting"]
    assert calls[0]["end_reason"] == "agent_hangup"
