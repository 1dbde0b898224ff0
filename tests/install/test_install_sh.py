"""install.sh into a scratch root: user and groups, venv, settings, unit; idempotent; --uninstall."""
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


def _install(root, *args):
    env = dict(os.environ, DESKLINE_ROOT=str(root), DESKLINE_NO_APT="1",
               DESKLINE_SYSTEM_PACKAGES="1", DESKLINE_FROM_SOURCE="1")
    return subprocess.run(["bash", str(REPO / "install.sh"), *args], env=env,
                          capture_output=True, text=True, timeout=120)


def _members(root, group):
    for line in (root / "etc/group").read_text().splitlines():
        name, _, _, members = line.split(":")
        if name == group:
            return set(filter(None, members.split(",")))
    return None


def test_install_is_idempotent_and_uninstall_keeps_settings(tmp_path):
    root = _root(tmp_path)
    res = _install(root)
    assert res.returncode == 0, res.stderr
    conf = root / "etc/deskline/deskline.toml"
    example = REPO / "firmware/deskline/data/deskline.example.toml"
    assert conf.read_text() == example.read_text()
    assert "deskline:" in (root / "etc/passwd").read_text()
    assert {"deskline"} <= _members(root, "audio") and {"deskline"} <= _members(root, "gpio")
    unit = root / "etc/systemd/system/deskline.service"
    assert unit.read_text() == (REPO / "systemd/deskline.service").read_text()
    assert (root / "etc/systemd/system/multi-user.target.wants/deskline.service").is_symlink()
    venv_py = root / "opt/deskline/venv/bin/python"
    ver = subprocess.run([str(venv_py), str(root / "opt/deskline/venv/bin/deskline"),
                          "--version"], capture_output=True, text=True)
    assert ver.stdout.startswith("deskline ")

    conf.write_text(conf.read_text().replace('agent_no = ""', 'agent_no = "1023"'))
    passwd = (root / "etc/passwd").read_text()
    res = _install(root)
    assert res.returncode == 0, res.stderr
    assert 'agent_no = "1023"' in conf.read_text() and "kept your" in res.stdout
    assert (root / "etc/passwd").read_text() == passwd            # no second user
    assert "created user" not in res.stdout

    res = _install(root, "--uninstall")
    assert res.returncode == 0, res.stderr
    assert not (root / "opt/deskline").exists() and not unit.exists()
    assert conf.exists() and "kept your settings" in res.stdout

    res = _install(root, "--uninstall", "--purge")
    assert res.returncode == 0, res.stderr
    assert not conf.exists() and "deskline:" not in (root / "etc/passwd").read_text()


def test_unknown_option_is_refused(tmp_path):
    res = _install(_root(tmp_path), "--frobnicate")
    assert res.returncode == 1 and "unknown option --frobnicate" in res.stderr
