"""``deskline run`` refuses to start with one line: bad settings (78), missing card or GPIO (2)."""
import glob

import pytest

from deskline.cli import main


def _run(tmp_path, capsys, text, monkeypatch, hw=None):
    if hw:
        monkeypatch.setenv("DESKLINE_HW", hw)
    else:
        monkeypatch.delenv("DESKLINE_HW", raising=False)
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.setenv("DESKLINE_FAKE_SOCKET", str(tmp_path / "hw.sock"))
    cfg = tmp_path / "deskline.toml"
    cfg.write_text(text + f'\n[journal]\npath = "{tmp_path / "calls.db"}"\n', encoding="utf-8")
    rc = main(["run", "--config", str(cfg)])
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("deskline")]
    return rc, err


def test_config_error_exits_78_naming_the_key(tmp_path, capsys, monkeypatch):
    rc, err = _run(tmp_path, capsys, '[audio]\nrate_hz = "fast"\n', monkeypatch, hw="fake")
    assert rc == 78 and len(err) == 1
    assert "deskline.toml:2" in err[0] and "audio.rate_hz" in err[0]


def test_missing_sound_card_is_named(tmp_path, capsys, monkeypatch):
    rc, err = _run(tmp_path, capsys, '[audio]\ncard = "USB PnP Sound Device"\n', monkeypatch,
                   hw="fake")
    assert rc == 2 and len(err) == 1 and "'USB PnP Sound Device'" in err[0]
    assert not (tmp_path / "hw.sock").exists()       # nothing left behind


@pytest.mark.skipif(bool(glob.glob("/dev/gpiochip*")), reason="this machine has real GPIO")
def test_missing_gpio_is_named(tmp_path, capsys, monkeypatch):
    rc, err = _run(tmp_path, capsys, '[hw]\nbackend = "gpiozero"\n', monkeypatch)
    assert rc == 2 and len(err) == 1 and "no GPIO" in err[0]
