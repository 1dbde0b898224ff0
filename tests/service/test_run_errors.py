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
    if "[desk]" not in text:
        text = '[desk]\nhotline_name = "12345"\nagent_no = "7"\n' + text
    cfg.write_text(text + f'\n[journal]\npath = "{tmp_path / "calls.db"}"\n', encoding="utf-8")
    rc = main(["run", "--config", str(cfg)])
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("deskline")]
    return rc, err


def test_config_error_exits_78_naming_the_key(tmp_path, capsys, monkeypatch):
    rc, err = _run(tmp_path, capsys, '[audio]\nrate_hz = "fast"\n', monkeypatch, hw="fake")
    assert rc == 78 and len(err) == 1
    assert "deskline.toml:5" in err[0] and "audio.rate_hz" in err[0]


@pytest.mark.parametrize("desk, key", [('agent_no = "7"', "hotline_name"),
                                       ('hotline_name = "12345"', "agent_no")])
def test_a_desk_without_its_greeting_exits_78_naming_the_key(tmp_path, capsys, monkeypatch,
                                                              desk, key):
    rc, err = _run(tmp_path, capsys, f"[desk]\n{desk}\n", monkeypatch, hw="fake")
    assert rc == 78 and len(err) == 1
    assert f"desk.{key}: not set" in err[0] and "deskline.toml" in err[0]
    assert not (tmp_path / "hw.sock").exists()       # refused before any hardware is opened


def test_missing_sound_card_is_named(tmp_path, capsys, monkeypatch):
    rc, err = _run(tmp_path, capsys, '[audio]\ncard = "USB PnP Sound Device"\n', monkeypatch,
                   hw="fake")
    assert rc == 2 and len(err) == 1 and "'USB PnP Sound Device'" in err[0]
    assert not (tmp_path / "hw.sock").exists()       # nothing left behind


@pytest.mark.skipif(bool(glob.glob("/dev/gpiochip*")), reason="this machine has real GPIO")
def test_missing_gpio_is_named(tmp_path, capsys, monkeypatch):
    rc, err = _run(tmp_path, capsys, '[hw]\nbackend = "gpiozero"\n', monkeypatch)
    assert rc == 2 and len(err) == 1 and "no GPIO" in err[0]


FLOOR = '[floor]\nhost = "127.0.0.1"\nsite = "f3"\ndesk_id = "desk-01"\ncredentials_file = "{cred}"\n'


@pytest.mark.parametrize("content, problem", [
    (None, "cannot read the floor credentials"),
    ("desk-01\n", "want one line <user>:<password>"),
    ("desk-01:\n", "user and password must not be empty"),
])
def test_unusable_floor_credentials_exit_78_before_any_hardware(tmp_path, capsys, monkeypatch,
                                                                content, problem):
    cred = tmp_path / "floor.cred"
    if content is not None:
        cred.write_text(content, encoding="utf-8")
    rc, err = _run(tmp_path, capsys, FLOOR.format(cred=cred), monkeypatch, hw="fake")
    assert rc == 78 and len(err) == 1
    assert str(cred) in err[0] and problem in err[0]
    assert not (tmp_path / "hw.sock").exists()
