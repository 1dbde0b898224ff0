"""install.sh into a scratch root: user and groups, venv, settings, unit; idempotent; --uninstall.

install.sh builds its own venv there, as on a Pi: deskline and its dependencies from the package
index (pip's cache makes the second run quick), nothing from the Python that runs the tests.
"""
import os
import pathlib
import shutil
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("useradd") is None,
                                reason="install.sh creates users: needs root and useradd")


def _root(tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    for f in ("passwd", "group", "shadow", "gshadow", "login.defs"):
        if os.path.exists(f"/etc/{f}"):
            shutil.copy(f"/etc/{f}", etc / f)
    # a clean slate: no deskline user or gpio group from an earlier install on this machine
    for f in ("passwd", "shadow", "group", "gshadow"):
        p = etc / f
        if p.exists():
            lines = [l for l in p.read_text().splitlines(True)
                     if not l.startswith(("deskline:", "gpio:"))]
            p.write_text("".join(l.replace(",deskline", "").replace(":deskline", ":")
                                 for l in lines))
    return tmp_path


def _install(root, *args, **env):
    env = dict(os.environ, DESKLINE_ROOT=str(root), DESKLINE_NO_APT="1", **env)
    # python3 on PATH is the system's, whatever interpreter runs the tests
    env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run(["bash", str(REPO / "install.sh"), *args], env=env,
                          capture_output=True, text=True, timeout=900)


def _ids(root, name):
    for f in ("passwd", "group"):
        for line in (root / "etc" / f).read_text().splitlines():
            if line.startswith(f"{name}:"):
                yield int(line.split(":")[2])


def _members(root, group):
    for line in (root / "etc/group").read_text().splitlines():
        name, _, _, members = line.split(":")
        if name == group:
            return set(filter(None, members.split(",")))
    return None


def test_install_is_idempotent_and_uninstall_keeps_settings(tmp_path):
    root = _root(tmp_path)
    res = _install(root, SUDO_USER="pi")
    assert res.returncode == 0, res.stderr
    conf = root / "etc/deskline/deskline.toml"
    example = REPO / "firmware/deskline/data/deskline.example.toml"
    assert conf.read_text() == example.read_text()
    assert "deskline:" in (root / "etc/passwd").read_text()
    assert {"deskline"} <= _members(root, "audio") and {"deskline"} <= _members(root, "gpio")
    uid, gid = _ids(root, "deskline")
    st = conf.stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (0, gid, 0o640)
    assert "sudo usermod -aG deskline pi" in res.stdout      # how the Pi's owner may read it
    state = (root / "var/lib/deskline").stat()                # the call record's directory
    assert (state.st_uid, state.st_gid, state.st_mode & 0o777) == (uid, gid, 0o750)
    unit = root / "etc/systemd/system/deskline.service"
    assert unit.read_text() == (REPO / "systemd/deskline.service").read_text()
    assert (root / "etc/systemd/system/multi-user.target.wants/deskline.service").is_symlink()
    dropin = root / "etc/systemd/system/deskline.service.d/floor.conf"
    assert not dropin.exists()                                # no [floor]: no network
    rule = root / "etc/udev/rules.d/70-deskline-keypad.rules"
    assert not rule.exists()                                  # no [keypad]: no input device
    venv = root / "opt/deskline/venv"
    assert "include-system-site-packages = false" in (venv / "pyvenv.cfg").read_text()
    ver = subprocess.run([str(venv / "bin/python"), str(venv / "bin/deskline"), "--version"],
                         capture_output=True, text=True)
    assert ver.stdout.startswith("deskline "), ver.stderr
    # the installed copy runs on its own: a demo call, with the package's data
    demo = subprocess.run([str(venv / "bin/python"), str(venv / "bin/deskline"), "demo",
                           "--call", "silent"], capture_output=True, text=True, cwd=tmp_path)
    assert demo.returncode == 0 and "silent" in demo.stdout, demo.stderr

    conf.write_text(conf.read_text().replace('agent_no = ""', 'agent_no = "1023"')
                    + '\n[floor]\nhost = "floor.lan"\ncredentials_file = "/etc/deskline/floor.cred"\n'
                      'site = "tj-3f"\ndesk_id = "desk-07"\n'
                    + '[keypad]\ndevice = "usb:1C4F:0002"\n')
    group = root / "etc/group"       # the owner did as told: usermod -aG deskline pi
    group.write_text("".join(l.rstrip("\n") + ("pi\n" if l.startswith("deskline:") else "\n")
                             for l in group.read_text().splitlines(True)))
    passwd = (root / "etc/passwd").read_text()
    res = _install(root, SUDO_USER="pi")
    assert res.returncode == 0, res.stderr
    assert 'agent_no = "1023"' in conf.read_text() and "kept your" in res.stdout
    assert "usermod" not in res.stdout
    assert (root / "etc/passwd").read_text() == passwd            # no second user
    assert "created user" not in res.stdout
    # a desk on a floor: its unit may reach the broker
    assert dropin.read_text() == (REPO / "systemd/deskline.service.d/floor.conf").read_text()
    assert "installed /etc/systemd/system/deskline.service.d/floor.conf" in res.stdout
    # a desk with a keypad: the udev rule gives that keypad (only) to the deskline group
    assert rule.read_text() == (
        "# deskline's USB keypad: readable by the deskline group (no other input device is),\n"
        "# with a stable name. Written by install.sh from [keypad] device.\n"
        'SUBSYSTEM=="input", KERNEL=="event*", ATTRS{id/vendor}=="1c4f", '
        'ATTRS{id/product}=="0002", GROUP="deskline", MODE="0640", '
        'SYMLINK+="input/deskline-keypad"\n')
    assert "wrote /etc/udev/rules.d/70-deskline-keypad.rules" in res.stdout

    res = _install(root, "--uninstall")
    assert res.returncode == 0, res.stderr
    assert not (root / "opt/deskline").exists() and not unit.exists() and not dropin.exists()
    assert not rule.exists()
    assert conf.exists() and "kept your settings" in res.stdout

    res = _install(root, "--uninstall", "--purge")
    assert res.returncode == 0, res.stderr
    assert not conf.exists() and "deskline:" not in (root / "etc/passwd").read_text()


def test_unknown_option_is_refused(tmp_path):
    res = _install(_root(tmp_path), "--frobnicate")
    assert res.returncode == 1 and "unknown option --frobnicate" in res.stderr
