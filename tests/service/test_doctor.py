"""``deskline doctor``: one line a check, in installer's words; the exit status says if any failed."""
import time

import numpy as np
import pytest

from deskline.cli import main


def _config(tmp_path, card, journal=True):
    path = tmp_path / "deskline.toml"
    path.write_text(
        f'[desk]\nhotline_name = "测试热线"\nagent_no = "1023"\n'
        f'[hw]\nbackend = "fake"\n'
        f'[audio]\ncard = "{card}"\nrate_hz = 48000\ntx_channel = "none"\n'
        f'[journal]\npath = "{tmp_path / "calls.db"}"\n', encoding="utf-8")
    return str(path)


def test_missing_card_and_bad_config_are_explained(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DESKLINE_HW", raising=False)
    rc = main(["doctor", "--config", _config(tmp_path, "no_such_card"), "--listen-s", "0"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "ok    hook switch (GPIO17) reads on-hook" in out
    card_line = next(line for line in out.splitlines() if "sound card" in line)
    assert card_line.startswith("FAIL") and "plugged in" in card_line
    assert "call record:" in out and "will create it" in out
    bad = tmp_path / "bad.toml"
    bad.write_text("[hw]\nbackend = \"fake\"\nhook_pin = 99\n")
    main(["doctor", "--config", str(bad), "--listen-s", "0"])
    out = capsys.readouterr().out
    assert "FAIL  settings:" in out and "bad.toml:3: hw.hook_pin" in out


@pytest.mark.audio
def test_receive_level_through_the_card(pulse_env, tmp_path, capsys):
    pulse = pulse_env
    cfg = _config(tmp_path, "deskline_card")
    rc = main(["doctor", "--config", cfg, "--listen-s", "0.5"])
    out = capsys.readouterr().out
    assert "dead silent" in out and rc == 1            # the line carries digital silence
    tone = 0.1 * np.sin(2 * np.pi * 1000 * np.arange(3 * 48000) / 48000)
    player = pulse.play_into_line(tone)
    time.sleep(0.3)
    main(["doctor", "--config", cfg, "--listen-s", "1"])
    player.wait(10)
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if "receive tap" in l)
    assert line.startswith("ok") and "-23.0 dBov" in line   # 0.1-peak sine = -23.01 dBov
    assert "ok    sound card: receive from 'deskline_card'" in out
