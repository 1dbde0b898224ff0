"""hw/ stays true: the pin map CSV, the README table, the config defaults and the rig agree."""
import csv
import dataclasses
import pathlib
import re
import xml.etree.ElementTree as ET

import pytest

from deskline.config import HwConfig
from sim.serve import load_main

HW = pathlib.Path(__file__).resolve().parents[2] / "hw"
MAIN = load_main()


def pinmap():
    with open(HW / "pinmap.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_pinmap_matches_the_config_defaults():
    defaults = {f.name: f.default for f in dataclasses.fields(HwConfig)}
    rows = pinmap()
    assert rows, "hw/pinmap.csv is empty"
    for row in rows:
        assert defaults[row["config_key"]] == int(row["bcm"]), row["signal"]
    fitted = {k for k, v in defaults.items() if k.endswith("_pin") and v is not None}
    assert fitted == {row["config_key"] for row in rows}


def test_pinmap_is_well_formed_and_unique():
    rows = pinmap()
    for row in rows:
        assert row["direction"] in ("in", "out")
        assert row["pull"] in (("up",) if row["direction"] == "in" else ("none",))
        assert row["active_level"] in ("low", "high")
    assert len({r["bcm"] for r in rows}) == len(rows)
    assert len({r["header_pin"] for r in rows}) == len(rows)


def test_readme_table_is_the_csv():
    text = (HW / "README.md").read_text(encoding="utf-8")
    table = {}
    for m in re.finditer(r"^\| (\w+) \| (\d+) \| (\d+) \| (in|out) \| (\w+) \| (\w+) \|", text, re.M):
        table[m.group(1)] = m.group(2, 3, 4, 5, 6)
    expected = {r["signal"]: (r["bcm"], r["header_pin"], r["direction"], r["pull"],
                              r["active_level"]) for r in pinmap()}
    assert table == expected


def test_the_rig_has_a_pin_for_every_desk_signal():
    rig_signals = set(MAIN.DRIVE_PINS) | set(MAIN.READ_PINS)
    assert rig_signals == {r["signal"] for r in pinmap()}
    assert all(r["direction"] == "in" for r in pinmap() if r["signal"] in MAIN.DRIVE_PINS)
    assert len(set(MAIN.DRIVE_PINS.values()) | set(MAIN.READ_PINS.values())) == len(rig_signals)


def test_bom_rows_are_complete():
    with open(HW / "bom.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {r["assembly"] for r in rows} == {"desk", "bench"}
    for r in rows:
        assert r["part"] and r["value_part_number"] and r["purpose"], r
        assert int(r["qty"]) >= 1


@pytest.mark.parametrize("name", ["line-interface.svg", "bench-rig/wiring.svg"])
def test_diagrams_are_well_formed_svg(name):
    root = ET.parse(HW / name).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
