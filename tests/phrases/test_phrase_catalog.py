"""The catalog: every DESIGN §4 id, every seed item accounted for, and bad catalogs refused."""
import re
import shutil
from pathlib import Path

import pytest

from deskline.exc import CatalogError
from deskline.phrases.catalog import DESIGN_IDS, default_sounds_dir, load_catalog
from deskline.phrases.check import lint_catalog

SHIPPED = default_sounds_dir() / "catalog.toml"
DESIGN_MD = Path("/work/shared/DESIGN.md")


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def test_catalog_holds_every_design_id(cat):
    for pid in DESIGN_IDS:
        assert pid in cat, pid
    assert cat["greeting"].fields == ("hotline_name", "agent_no")
    assert "{hotline_name}" in cat["greeting"].text_zh and "{agent_no}" in cat["greeting"].text_zh


@pytest.mark.skipif(not DESIGN_MD.exists(), reason="DESIGN.md not on this machine")
def test_design_ids_are_the_ones_design_md_names():
    section = DESIGN_MD.read_text(encoding="utf-8").split("## 4.")[1].split("## 5.")[0]
    named = set(re.findall(r"`([a-z_]+)`", section)) - {"release", "alert", "far_end_hangup",
                                                        "blink_slow", "blink_fast", "gov",
                                                        "standard"}
    assert named == set(DESIGN_IDS)


def test_design_ids_mean_what_design_says(cat):
    assert "三声" in cat["greeting_late"].situation_zh and "久等" in cat["greeting_late"].text_zh
    assert "没有声音" in cat["no_sound_goodbye"].text_zh and "再见" in cat["no_sound_goodbye"].text_zh
    assert "大声" in cat["speak_louder"].text_zh
    assert "换一部电话" in cat["switch_phone_quiet"].text_zh
    assert "杂音" in cat["too_noisy_goodbye"].text_zh
    assert "拿起话筒" in cat["pick_up_handset"].text_zh
    assert "听清楚我的声音" in cat["can_you_hear_me"].text_zh
    assert "稍等" in cat["hold_ask"].text_zh and "久等" in cat["hold_resume"].text_zh
    assert "还有什么可以帮助您" in cat["anything_else"].text_zh
    assert "感谢您的来电" in cat["goodbye"].text_zh
    assert "挂线" in cat["hanging_up"].text_zh
    assert "服务范围" in cat["not_in_scope"].text_zh and "挂机" in cat["not_in_scope"].text_zh


def test_every_seed_item_has_a_phrase_or_a_reason(cat):
    used = {s for p in cat for s in p.source}
    assert len(cat.seeds["000"]) == 34
    for seed, items in cat.seeds.items():
        for item in items:
            key = f"{seed}:{item}"
            assert key in used or key in cat.unspoken, f"seed item {key} is not covered"
    for key in used:
        seed, item = key.split(":")
        assert item in cat.seeds[seed], f"{key} is not an item of seed {seed}"
    spoken, silent, total = cat.coverage()["000"]
    assert (spoken, total) == (32, 34) and silent == 2


def test_no_duplicate_wording(cat):
    for lang in ("zh", "en"):
        texts = [p.text(lang) for p in cat]
        assert len(texts) == len(set(texts)), lang


def test_variants_name_real_phrases(cat):
    for p in cat:
        if p.variant_of:
            assert p.variant_of in cat


def test_catalog_has_no_forbidden_expression(cat):
    assert lint_catalog(cat) == []


# --- bad catalogs: one line naming the file, the id and the problem ---------------------------

def _copy(tmp_path, edit):
    text = SHIPPED.read_text(encoding="utf-8")
    bad = tmp_path / "catalog.toml"
    bad.write_text(edit(text), encoding="utf-8")
    shutil.copy(SHIPPED.with_name("forbidden.toml"), tmp_path / "forbidden.toml")
    return bad


def _refused(path) -> str:
    with pytest.raises(CatalogError) as err:
        load_catalog(path)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg
    return msg


def test_duplicate_id_refused(tmp_path):
    bad = _copy(tmp_path, lambda t: t.replace('id = "hold_resume"', 'id = "hold_ask"'))
    msg = _refused(bad)
    assert "hold_ask" in msg and "duplicate id" in msg


def test_missing_field_refused(tmp_path):
    bad = _copy(tmp_path, lambda t: t.replace(
        'text_en = "Sorry to have kept you waiting."\n', ""))
    msg = _refused(bad)
    assert "hold_resume" in msg and "missing field 'text_en'" in msg


def test_unknown_template_field_refused(tmp_path):
    bad = _copy(tmp_path, lambda t: t.replace("请您查证后再拨。", "请您查证后再拨{extension}。"))
    msg = _refused(bad)
    assert "wrong_number" in msg and "unknown template field {extension}" in msg


def test_fields_list_must_match_the_text(tmp_path):
    bad = _copy(tmp_path, lambda t: t.replace(
        'text_en = "Sorry, my operator number is {agent_no}."',
        'text_en = "Sorry, my operator number is secret."'))
    msg = _refused(bad)
    assert "job_number_only" in msg and "text_en" in msg


def test_unknown_trigger_and_key_refused(tmp_path):
    bad = _copy(tmp_path, lambda t: t.replace('trigger = "controller"\nsource = ["000:34"',
                                              'trigger = "robot"\nsource = ["000:34"'))
    assert "hanging_up" in _refused(bad)
    bad = _copy(tmp_path, lambda t: t.replace('id = "hanging_up"\n', 'id = "hanging_up"\ncolour = "red"\n'))
    assert "unknown key 'colour'" in _refused(bad)


def test_bad_default_refused(tmp_path):
    bad = _copy(tmp_path, lambda t: t.replace("defaults = { days = 5 }", "defaults = { hours = 5 }"))
    msg = _refused(bad)
    assert "complaint_deadline" in msg and "default for 'hours'" in msg


def test_english_count_without_its_unit_refused(tmp_path):
    bad = _copy(tmp_path, lambda t: t.replace("within {days} days. Goodbye!",
                                              "within {days} working days. Goodbye!"))
    msg = _refused(bad)
    assert "complaint_deadline" in msg and "{days} must be followed by the unit it counts" in msg


def test_broken_toml_refused(tmp_path):
    bad = _copy(tmp_path, lambda t: t + "\n[[phrase]\n")
    assert "not valid TOML" in _refused(bad)


def test_sounds_found_installed_or_in_a_checkout(tmp_path, monkeypatch):
    monkeypatch.delenv("DESKLINE_SOUNDS", raising=False)
    installed = tmp_path / "site" / "deskline"
    (installed / "sounds").mkdir(parents=True)
    (installed / "sounds" / "catalog.toml").write_text("", encoding="utf-8")
    assert default_sounds_dir(installed) == installed / "sounds"          # pip install .
    checkout = tmp_path / "repo"
    (checkout / "firmware" / "deskline").mkdir(parents=True)
    (checkout / "sounds").mkdir()
    (checkout / "sounds" / "catalog.toml").write_text("", encoding="utf-8")
    assert default_sounds_dir(checkout / "firmware" / "deskline") == checkout / "sounds"  # pip install -e .
    with pytest.raises(CatalogError, match="not installed"):
        default_sounds_dir(tmp_path / "nowhere" / "deskline")
    monkeypatch.setenv("DESKLINE_SOUNDS", str(tmp_path))
    assert default_sounds_dir() == tmp_path


def test_setup_ships_every_sound_file():
    """setup.py's package_data patterns for deskline.sounds match every file render writes."""
    import fnmatch
    import re as _re
    root = Path(__file__).resolve().parents[2]
    setup = (root / "setup.py").read_text(encoding="utf-8")
    assert '"deskline.sounds": "sounds"' in setup
    patterns = _re.findall(r'"deskline\.sounds": \[([^\]]*)\]', setup)
    assert patterns, "package_data has no entry for deskline.sounds"
    globs = _re.findall(r'"([^"]+)"', patterns[0])
    sounds = root / "sounds"
    for f in sounds.rglob("*"):
        if f.is_file() and f.suffix in (".toml", ".flac"):
            rel = f.relative_to(sounds).as_posix()
            assert any(fnmatch.fnmatch(rel, g) and rel.count("/") == g.count("/") for g in globs), rel


@pytest.mark.parametrize("raw, needle", [
    (b'[[phrase]]\nid = "x"\ntext = "\xff\xfe"\n', ":3: not UTF-8 text"),
    (b"a = " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested too deeply"),
], ids=["latin1", "deep"])
def test_a_damaged_catalog_is_one_line_naming_it(tmp_path, raw, needle):
    path = tmp_path / "catalog.toml"
    path.write_bytes(raw)
    with pytest.raises(CatalogError) as err:
        load_catalog(path)
    msg = str(err.value)
    assert str(path) in msg and needle in msg and "\n" not in msg
