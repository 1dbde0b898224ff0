"""Who may read the desk's settings, and what everyone else is told.

install.sh leaves /etc/deskline/deskline.toml root:deskline 0640. A user outside that group gets
one line naming the file, who may read it and the command that lets them; the commands that
work on recordings (``simulate``) go on with the built-in settings. Tests run as root, who reads
everything, so the file's refusal is made here: the system file's place points at a scratch
file, and reading it is refused as the kernel would refuse another user.
"""
import builtins
import errno
import grp
import os
from pathlib import Path

import pytest

import deskline.config
from deskline.cli import main

REPO = Path(__file__).resolve().parents[2]
CALL = REPO / "tests/fixtures/cmu_arctic_us_aew_a0001.wav"


@pytest.fixture
def settings(tmp_path, monkeypatch):
    """The system settings file, root:audio 0640 (a group the user is told to join)."""
    path = tmp_path / "deskline.toml"
    path.write_text('[desk]\nhotline_name = "测试热线"\nagent_no = "1023"\n'
                    '[hw]\nbackend = "fake"\n[audio]\ncard = "no_such_card"\n[journal]\n'
                    f'path = "{tmp_path / "calls.db"}"\n', encoding="utf-8")
    try:
        os.chown(path, os.getuid(), grp.getgrnam("audio").gr_gid)
    except (KeyError, PermissionError):
        pass
    path.chmod(0o640)
    monkeypatch.setattr(deskline.config, "SYSTEM_PATH", str(path))
    monkeypatch.delenv("DESKLINE_CONFIG", raising=False)
    monkeypatch.delenv("DESKLINE_HW", raising=False)
    return path


@pytest.fixture
def refused(settings, monkeypatch):
    """Reading the settings file is refused (EACCES), as for a user outside its group."""
    real_open, real_access = builtins.open, os.access

    def open_(file, *args, **kw):
        if isinstance(file, (str, os.PathLike)) and os.fspath(file) == str(settings):
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_open(file, *args, **kw)

    def access(path, mode, *args, **kw):
        if os.fspath(path) == str(settings) and mode & os.R_OK:
            return False
        return real_access(path, mode, *args, **kw)

    monkeypatch.setattr(builtins, "open", open_)
    monkeypatch.setattr(os, "access", access)
    return settings


def test_the_desk_commands_say_who_may_read_the_settings(refused, capsys):
    group = grp.getgrgid(refused.stat().st_gid).gr_name
    assert main(["config", "show"]) == 78
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert out == "" and len(lines) == 1, err
    assert str(refused) in lines[0] and "permission denied" in lines[0]
    if group != "root":
        assert f"only root and the {group} group may read" in lines[0]
        assert f"sudo usermod -aG {group} " in lines[0] and "log in again" in lines[0]
    else:
        assert "only root may read it" in lines[0]

    assert main(["doctor", "--listen-s", "0"]) == 1
    out = capsys.readouterr().out
    fail = [l for l in out.splitlines() if l.startswith("FAIL  settings:")]
    assert len(fail) == 1 and "permission denied" in fail[0] and "fix that line" not in fail[0]


def test_simulate_goes_on_with_the_built_in_settings(refused, capsys):
    assert main(["simulate", str(CALL), "--json"]) == 0
    out, err = capsys.readouterr()
    note = err.strip().splitlines()
    assert len(note) == 1 and str(refused) in note[0] and "built-in settings" in note[0], err
    assert '"summary"' in out


def test_simulate_uses_the_settings_it_may_read(settings, capsys):
    assert main(["simulate", str(CALL), "--json"]) == 0
    assert "built-in settings" not in capsys.readouterr().err


def test_demo_and_measure_never_read_the_settings(refused, capsys):
    assert main(["measure", str(CALL)]) == 0
    assert main(["demo", "--call", "silent"]) == 0
    assert "settings" not in capsys.readouterr().err


def _journal_line(tmp_path, journal_path, capsys):
    cfg = tmp_path / "deskline.toml"
    cfg.write_text(f'[desk]\nhotline_name = "测试热线"\nagent_no = "1023"\n[hw]\nbackend = '
                   f'"fake"\n[audio]\ncard = "no_such_card"\n[journal]\npath = "{journal_path}"\n',
                   encoding="utf-8")
    main(["doctor", "--config", str(cfg), "--listen-s", "0"])
    return next(l for l in capsys.readouterr().out.splitlines() if "call record" in l)


def test_doctor_says_how_to_make_the_call_records_folder(tmp_path, capsys, monkeypatch):
    from deskline.commands import doctor

    # the service's own state directory, not there yet: systemd or install.sh makes it
    state = tmp_path / "var/lib/deskline"
    monkeypatch.setattr(doctor, "STATE_DIR", str(state))
    line = _journal_line(tmp_path, state / "calls.db", capsys)
    assert line.startswith("FAIL") and "sudo systemctl start deskline" in line
    assert "install.sh" in line
    # a folder of the installer's choosing: the command that makes it, for the service's user
    elsewhere = tmp_path / "records"
    line = _journal_line(tmp_path, elsewhere / "calls.db", capsys)
    assert line.startswith("FAIL")
    assert f"sudo install -d -o deskline -g deskline -m 0750 {elsewhere}" in line
    elsewhere.mkdir()
    line = _journal_line(tmp_path, elsewhere / "calls.db", capsys)
    assert line.startswith("ok") and "will create it" in line


def test_doctor_names_a_gpio_driver_pip_can_install_here(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.delenv("DESKLINE_HW", raising=False)
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "lgpio")
    monkeypatch.setitem(sys.modules, "lgpio", None)       # as on a Pi without it: not importable
    cfg = tmp_path / "deskline.toml"
    cfg.write_text('[desk]\nhotline_name = "测试热线"\nagent_no = "1023"\n[hw]\nbackend = '
                   '"gpiozero"\n[audio]\ncard = "no_such_card"\n', encoding="utf-8")
    main(["doctor", "--config", str(cfg), "--listen-s", "0"])
    line = next(l for l in capsys.readouterr().out.splitlines() if "GPIO:" in l)
    assert line.startswith("FAIL") and f"{sys.executable} -m pip install lgpio" in line
    assert "python3-lgpio" not in line                     # bookworm has no such package
