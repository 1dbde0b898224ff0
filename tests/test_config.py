"""The TOML configuration: defaults, profiles, and one-line errors naming file, line and key."""
import json
from importlib import resources

import pytest

from deskline.cli import main
from deskline.config import Config, load_config, load_effective, loads_config
from deskline.exc import ConfigError

EXAMPLE = resources.files("deskline") / "data" / "deskline.example.toml"


def write(tmp_path, text, name="deskline.toml"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_defaults_follow_the_design_pin_map_and_the_seeds():
    cfg = Config.default()
    hw = cfg.hw
    assert (hw.hook_pin, hw.ring_pin, hw.mute_led_pin, hw.mute_relay_pin, hw.line_release_pin) \
        == (17, 27, 22, 23, 24)
    assert (hw.hold_key_pin, hw.greet_key_pin, hw.anything_else_key_pin, hw.goodbye_key_pin,
            hw.supervisor_key_pin) == (5, 6, 13, 19, 26)
    assert cfg.profile.name == "standard" and cfg.profile.silence_timeout_s == 5.0
    gov = cfg.profiles["gov"]
    assert (gov.silence_timeout_s, gov.release_after_s, gov.quiet_louder_count,
            gov.noisy_louder_count) == (3.0, 2.0, 2, 2)
    assert cfg.desk.line_release is True


def test_the_shipped_example_is_valid_and_equals_the_defaults(tmp_path):
    path = write(tmp_path, EXAMPLE.read_text(encoding="utf-8"))
    cfg = load_config(path)
    default = Config.default()
    assert cfg.to_dict() == default.to_dict()


def test_a_file_sets_desk_and_extends_a_builtin_profile(tmp_path):
    path = write(tmp_path, """
[desk]
hotline_name = "榆林市残疾人服务热线"
agent_no = 7
profile = "night"

[profiles.night]
base = "gov"
silence_timeout_s = 4

[hw]
line_release_pin = "none"
tx_channel = "none"
""".replace("tx_channel", "louder_key_pin"))
    cfg = load_config(path)
    assert cfg.profile.name == "night"
    assert cfg.profile.silence_timeout_s == 4.0 and cfg.profile.quiet_louder_count == 2
    assert cfg.desk.agent_no == "7" and cfg.desk.line_release is False
    assert cfg.desk.template_values()["hotline_name"] == "榆林市残疾人服务热线"


def test_redefining_a_builtin_profile_changes_only_what_it_says():
    cfg = loads_config('[profiles.standard]\nmin_pause_s = 1.2\n')
    assert cfg.profile.min_pause_s == 1.2 and cfg.profile.silence_timeout_s == 5.0


def test_a_profile_based_on_a_user_profile():
    cfg = loads_config('[desk]\nprofile = "b"\n[profiles.a]\nbase = "gov"\nmin_pause_s = 1.0\n'
                       '[profiles.b]\nbase = "a"\nhold_warn_s = 30\n')
    assert (cfg.profile.min_pause_s, cfg.profile.hold_warn_s, cfg.profile.silence_timeout_s) \
        == (1.0, 30.0, 3.0)


BAD = [
    # (file text, line, key, words in the problem)
    ('[desk]\nhotline = "x"\n', 2, "desk.hotline", "unknown key"),
    ('[desk]\nlanguage = "fr"\n', 2, "desk.language", "not one of"),
    ('[desk]\nprofile = "nope"\n', 2, "desk.profile", "no profile"),
    ('[hw]\nhook_pin = 40\n', 2, "hw.hook_pin", "0-27"),
    ('[hw]\nhook_pin = -1\n', 2, "hw.hook_pin", "0-27"),
    ('[hw]\nhook_pin = "17"\n', 2, "hw.hook_pin", "not a string"),
    ('[hw]\n\nring_pin = 17\n', 3, "hw.ring_pin", "already used by hook_pin (its default)"),
    ('[hw]\nmute_led_pin = 5\n', 2, "hw.mute_led_pin", "already used by hold_key_pin"),
    ('[hw]\nhook_pin = 3\nring_pin = 3\n', 3, "hw.ring_pin", "already used by hook_pin"),
    ('[hw]\nflash_min_s = 1.0\n', 2, "hw.flash_min_s", "shorter than flash_max_s"),
    ('[hw]\nbackend = "rpi"\n', 2, "hw.backend", "not one of"),
    ('[audio]\nrate_hz = 12345\n', 2, "audio.rate_hz", "rate"),
    ('[audio]\nblock_s = 0\n', 2, "audio.block_s", "more than 0"),
    ('[journal]\npath = 3\n', 2, "journal.path", "must be a string"),
    ('[profiles.standard]\nsilence_timeout_s = -5\n', 2, "profiles.standard.silence_timeout_s",
     "cannot be negative"),
    ('[profiles.standard]\nquiet_threshold_dbov = 3\n', 2,
     "profiles.standard.quiet_threshold_dbov", "above 0 dBov"),
    ('[profiles.standard]\nmin_pause_s = "long"\n', 2, "profiles.standard.min_pause_s",
     "must be a number"),
    ('[profiles.standard]\nquiet_louder_count = 1.5\n', 2,
     "profiles.standard.quiet_louder_count", "integer"),
    ('[profiles.standard]\ngreet_without_ring = 1\n', 2,
     "profiles.standard.greet_without_ring", "true or false"),
    ('[profiles.x]\nsilence_timeout = 5\n', 2, "profiles.x.silence_timeout", "unknown key"),
    ('[profiles.x]\nbase = "y"\n', 2, "profiles.x.base", "no profile"),
    ('[profiles.x]\nbase = "y"\n[profiles.y]\nbase = "x"\n', 2, "profiles.x.base", "circular"),
    ('[profiles.x]\nhold_warn_s = 200\n', 2, "profiles.x.hold_warn_s", "longer than"),
    ('[profiles.x]\njudge_window_s = 0\n', 2, "profiles.x.judge_window_s", "more than 0"),
    ('[hw.phrase_keys]\nwrong_number = 17\n', 2, "hw.phrase_keys.wrong_number",
     "pin 17 is already used by hook_pin (its default)"),
    ('[hw]\nhook_pin = 20\n[hw.phrase_keys]\nwrong_number = 20\n', 4,
     "hw.phrase_keys.wrong_number", "pin 20 is already used by hook_pin"),
    ('[hw.phrase_keys]\nwrong_number = 20\njob_number_only = 20\n', 3,
     "hw.phrase_keys.job_number_only", "already used by phrase_keys.wrong_number"),
    ('[hw]\nlouder_key_pin = 21\n[hw.phrase_keys]\nwrong_number = 21\n', 4,
     "hw.phrase_keys.wrong_number", "already used by louder_key_pin"),
    ('[hw.phrase_keys]\nWrong-Number = 20\n', 2, "hw.phrase_keys.Wrong-Number",
     "not a phrase id"),
    ('[hw.phrase_keys]\n"phrase:wrong_number" = 20\n', 2,
     "hw.phrase_keys.phrase:wrong_number", "not a phrase id"),
    ('[hw.phrase_keys]\nwrong_number = 28\n', 2, "hw.phrase_keys.wrong_number", "0-27"),
    ('[hw.phrase_keys]\nwrong_number = "none"\n', 2, "hw.phrase_keys.wrong_number",
     "not a string"),
    ('[hw]\nphrase_keys = 20\n', 2, "hw.phrase_keys", "must be a table [hw.phrase_keys]"),
    ('[alarm]\nx = 1\n', 1, "alarm", "unknown section"),
    ('desk = 3\n', 1, "desk", "must be a table"),
]


@pytest.mark.parametrize("text, line, key, words", BAD, ids=[b[2] + ":" + b[3] for b in BAD])
def test_bad_values_are_refused_with_file_line_and_key(tmp_path, text, line, key, words):
    path = write(tmp_path, "# deskline\n" + text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}:{line + 1}: {key}: "), msg
    assert words in msg


def test_the_line_is_found_among_many_tables(tmp_path):
    text = EXAMPLE.read_text(encoding="utf-8").replace("late_after_rings = 3",
                                                       "late_after_rings = -3")
    path = write(tmp_path, text)
    expected = text.splitlines().index("late_after_rings = -3") + 1
    with pytest.raises(ConfigError, match=rf":{expected}: profiles.standard.late_after_rings: "):
        load_config(path)


def test_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, '[desk]\nagent_no = "1"\nlanguage = zh\n')
    with pytest.raises(ConfigError, match=rf"^{path}:3: syntax: "):
        load_config(path)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")


def test_effective_config_comes_from_the_environment(tmp_path, monkeypatch):
    path = write(tmp_path, '[desk]\nprofile = "gov"\n')
    monkeypatch.setenv("DESKLINE_CONFIG", str(path))
    assert load_effective().profile.name == "gov"


# --- the command --------------------------------------------------------------------------------

def test_config_check_ok_and_bad(tmp_path, capsys):
    good = write(tmp_path, DESK + 'profile = "gov"\n', "good.toml")
    assert main(["config", "check", str(good)]) == 0
    assert "ok" in capsys.readouterr().out
    bad = write(tmp_path, '[hw]\nhook_pin = 99\n', "bad.toml")
    assert main(["config", "check", str(bad)]) == 78
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"{bad}:2: hw.hook_pin:" in err


def test_config_show_prints_a_file_that_loads_back_the_same(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DESKLINE_CONFIG", raising=False)
    src = write(tmp_path, '[desk]\nagent_no = "12"\n[profiles.mine]\nbase = "gov"\n'
                          'min_pause_s = 1.5\n[hw]\nline_release_pin = "none"\n', "src.toml")
    assert main(["config", "show", str(src)]) == 0
    shown = write(tmp_path, capsys.readouterr().out, "shown.toml")
    assert load_config(shown).to_dict() == load_config(src).to_dict()
    assert main(["config", "show", str(src), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["profiles"]["mine"]["min_pause_s"] == 1.5 and data["hw"]["line_release_pin"] == "none"


def test_phrase_keys_map_catalog_ids_to_pins_and_show_prints_them(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DESKLINE_CONFIG", raising=False)
    assert dict(Config.default().hw.phrase_keys) == {}
    src = write(tmp_path, '[hw]\nhold_key_pin = "none"\n\n[hw.phrase_keys]\n'
                          'wrong_number = 20\njob_number_only = 5\n', "src.toml")
    cfg = load_config(src)
    assert dict(cfg.hw.phrase_keys) == {"wrong_number": 20, "job_number_only": 5}
    assert cfg.hw.pins()["phrase_keys.job_number_only"] == 5   # the freed HOLD pin is usable
    assert main(["config", "show", str(src)]) == 0
    out = capsys.readouterr().out
    assert "[hw.phrase_keys]\nwrong_number = 20\njob_number_only = 5\n" in out
    assert load_config(write(tmp_path, out, "shown.toml")).to_dict() == cfg.to_dict()
    assert main(["config", "show", str(src), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["hw"]["phrase_keys"] == {"wrong_number": 20, "job_number_only": 5}


def test_tone_plans_are_checked_and_reach_the_meter(tmp_path):
    from deskline.config import load_config
    from deskline.dsp.meter import meter_factory
    from deskline.exc import ConfigError

    good = tmp_path / "cn.toml"
    good.write_text('[audio]\ntone_plans = ["cn"]\n')
    cfg = load_config(good)
    assert cfg.audio.tone_plans == ("cn",)
    assert meter_factory(cfg.audio.tone_plans)(8000).params.tone_plans == ("cn",)
    for bad, why in (('["cn", "xx"]', "unknown tone plan 'xx'"), ('"cn"', "must be a list"),
                     ('["cn", "cn"]', "twice")):
        path = tmp_path / "bad.toml"
        path.write_text(f'[audio]\ncard = "USB"\ntone_plans = {bad}\n')
        with pytest.raises(ConfigError) as err:
            load_config(path)
        assert f"{path}:3:" in str(err.value) and "tone_plans" in str(err.value) and why in str(err.value)


def test_the_examples_phrase_pad_loads_when_uncommented_and_names_catalog_phrases(tmp_path):
    from deskline.phrases.catalog import default_sounds_dir, load_catalog

    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    start = lines.index("# [hw.phrase_keys]")
    pad = [lines[start][2:]]
    for line in lines[start + 1:]:
        if not line.startswith("# ") or "=" not in line:
            break
        pad.append(line[2:])
    cfg = load_config(write(tmp_path, "\n".join(pad) + "\n"))
    assert len(cfg.hw.phrase_keys) >= 2
    catalog = load_catalog(default_sounds_dir() / "catalog.toml")
    assert all(pid in catalog for pid in cfg.hw.phrase_keys)


def test_config_check_refuses_a_phrase_key_not_in_the_catalog(tmp_path, capsys):
    good = write(tmp_path, DESK + '[hw.phrase_keys]\nwrong_number = 20\n', "good.toml")
    assert main(["config", "check", str(good)]) == 0
    bad = write(tmp_path, '[hw.phrase_keys]\nwrong_number = 20\n\nwrong_numbr = 21\n' + DESK,
                "bad.toml")
    assert load_config(bad).hw.phrase_keys["wrong_numbr"] == 21   # loading does not need it
    capsys.readouterr()
    assert main(["config", "check", str(bad)]) == 78
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert f"{bad}:4: hw.phrase_keys.wrong_numbr: no phrase 'wrong_numbr' in the catalog" in err


FLOOR = """
[floor]
host = "floor.lan"
credentials_file = "/etc/deskline/floor.cred"
site = "tj-3f"
desk_id = "desk-07"
"""


def test_a_floor_section_loads_and_shows_back_the_same(tmp_path):
    cfg = loads_config(FLOOR, "floor.toml")
    assert cfg.floor.enabled and (cfg.floor.site, cfg.floor.desk_id, cfg.floor.port) == (
        "tj-3f", "desk-07", 1883)
    again = loads_config(cfg.to_toml(), "shown.toml")
    assert again.floor == cfg.floor


def test_without_a_floor_section_the_desk_has_no_floor():
    cfg = loads_config("", "none.toml")
    assert not cfg.floor.enabled
    assert "[floor]" not in cfg.to_toml().replace("# [floor]", "")


@pytest.mark.parametrize("text, where", [
    (FLOOR.replace('desk_id = "desk-07"\n', ""), "floor.toml:2: floor: desk_id is needed"),
    (FLOOR.replace('"tj-3f"', '"tj/3f"'), "floor.toml:5: floor.site: 'tj/3f'"),
    (FLOOR.replace('"desk-07"', '"+"'), "floor.toml:6: floor.desk_id: '+'"),
    (FLOOR + "port = 0\n", "floor.toml:7: floor.port"),
])
def test_a_wrong_floor_section_is_one_line_naming_the_key(text, where):
    with pytest.raises(ConfigError) as got:
        loads_config(text, "floor.toml")
    assert str(got.value).startswith(where), str(got.value)
    assert "\n" not in str(got.value)


# --- one validation: what `config check` accepts, `run` accepts -----------------------------

DESK = '[desk]\nhotline_name = "12345"\nagent_no = "7"\n'


def _run_verdict(tmp_path, path, monkeypatch, capsys):
    """``deskline run``'s verdict on a file: 78 (refused) or what it did next (no card here)."""
    monkeypatch.setenv("DESKLINE_HW", "fake")
    monkeypatch.setenv("DESKLINE_FAKE_SOCKET", str(tmp_path / "hw.sock"))
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    from deskline.commands import run as run_cmd
    monkeypatch.setattr(run_cmd, "build", lambda cfg: (_ for _ in ()).throw(SystemExit(0)))
    try:
        code = main(["run", "--config", str(path)])
    except SystemExit as exc:   # got past every check to building the desk
        code = exc.code
    err = [x for x in capsys.readouterr().err.splitlines() if x.startswith("deskline")]
    return code, err


@pytest.mark.parametrize("text, key", [
    ("", "desk.hotline_name"),
    ('[desk]\nhotline_name = "12345"\n', "desk.agent_no"),
    (DESK + "[audio]\nrx_channel = 1\ntx_channel = 1\n", "audio.tx_channel"),
    (DESK + "[audio]\ntx_channel = 0\n", "audio.tx_channel"),
    (DESK + "[hw.phrase_keys]\nwrong_numbr = 21\n", "hw.phrase_keys.wrong_numbr"),
], ids=["empty", "no-agent", "same-channels", "tx-on-rx-default", "unknown-pad-phrase"])
def test_config_check_and_run_refuse_the_same_files(tmp_path, capsys, monkeypatch, text, key):
    path = write(tmp_path, text)
    assert main(["config", "check", str(path)]) == 78
    check_err = capsys.readouterr().err.strip()
    assert check_err.count("\n") == 0 and key in check_err and str(path) in check_err
    code, err = _run_verdict(tmp_path, path, monkeypatch, capsys)
    assert code == 78 and len(err) == 1 and key in err[0]
    assert err[0].split(": ", 1)[1] == check_err.split(": ", 1)[1]   # the same words


def test_config_check_and_run_accept_the_same_files(tmp_path, capsys, monkeypatch):
    path = write(tmp_path, DESK + "[audio]\ntx_channel = \"none\"\n[hw.phrase_keys]\n"
                                  "wrong_number = 20\n")
    assert main(["config", "check", str(path)]) == 0
    capsys.readouterr()
    code, err = _run_verdict(tmp_path, path, monkeypatch, capsys)
    assert code == 0 and err == []


@pytest.mark.parametrize("text, line", [
    ("a = " + "[" * 100000 + "]" * 100000 + "\n", 1),
    (DESK + "[hw]\nx = " + "[" * 3000 + "1" + "]" * 3000 + "\n", 5),
    (DESK + "y = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n", 4),
], ids=["array", "array-in-table", "inline-tables"])
def test_a_deeply_nested_config_is_one_line(tmp_path, capsys, text, line):
    path = write(tmp_path, text)
    assert main(["config", "check", str(path)]) == 78
    err = capsys.readouterr().err.strip()
    assert err == f"deskline config: {path}:{line}: syntax: arrays or tables nested too deeply"
