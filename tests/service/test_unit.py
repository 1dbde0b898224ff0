"""The systemd unit: hardened (security score <= 2.0), clean under `systemd-analyze verify`."""
import configparser
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

UNIT = pathlib.Path(__file__).resolve().parents[2] / "systemd" / "deskline.service"
INSTALLED_EXEC = "/opt/deskline/venv/bin/deskline"

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                reason="systemd-analyze is not installed")


def _analyze(*args):
    return subprocess.run(["systemd-analyze", *args], capture_output=True, text=True, timeout=30)


def _copy_with_existing_exec(tmp_path, text=None):
    """verify needs ExecStart to exist: point the copy at this Python's deskline (or python)."""
    exe = shutil.which("deskline") or sys.executable
    text = (text or UNIT.read_text()).replace(INSTALLED_EXEC, exe)
    out = tmp_path / "deskline.service"
    out.write_text(text)
    return out


def test_security_exposure_at_most_2():
    res = _analyze("security", "--offline=true", str(UNIT))
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", res.stdout)
    assert m, res.stdout + res.stderr
    assert float(m.group(1)) <= 2.0, res.stdout


def test_verify_prints_nothing(tmp_path):
    res = _analyze("verify", str(_copy_with_existing_exec(tmp_path)))
    assert (res.returncode, res.stdout, res.stderr) == (0, "", "")


def test_verify_check_would_catch_a_typo(tmp_path):
    bad = UNIT.read_text().replace("Restart=on-failure", "Restrat=on-failure")
    res = _analyze("verify", str(_copy_with_existing_exec(tmp_path, bad)))
    assert "Restrat" in res.stderr


def test_unit_contract():
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str
    cp.read_string(re.sub(r"^(DeviceAllow|SystemCallFilter)=", r"#", UNIT.read_text(), flags=re.M))
    svc = cp["Service"]
    assert svc["Type"] == "notify" and svc["Restart"] == "on-failure"
    assert svc["User"] == "deskline" and set(svc["SupplementaryGroups"].split()) == {"audio", "gpio"}
    assert svc["StateDirectory"] == "deskline" and "WatchdogSec" in svc
    assert svc["PrivateNetwork"] == "yes" and svc["RestrictAddressFamilies"] == "AF_UNIX"
    assert svc["ExecStart"].startswith(INSTALLED_EXEC + " run")
    assert "78" in svc["RestartPreventExitStatus"].split()
