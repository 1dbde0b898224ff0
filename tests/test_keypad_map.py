"""The USB keypad's key map: the built-in one reaches every phrase the agent asks for, with its
values; a map with an unknown key, an unknown phrase, a bad or missing value or a clash is
refused at ``config check`` (and by ``run``: one shared check) with one line naming the file,
the line and the key."""
import pytest

from deskline.call.controller import parse_pad_key
from deskline.cli import main
from deskline.config import BUILTIN_KEYMAP, check_service, load_config
from deskline.exc import ConfigError
from deskline.phrases.catalog import default_sounds_dir, load_catalog

DESK = '[desk]\nhotline_name = "12385热线"\nagent_no = "7"\n'

#: the desk keys, and the catalog's "key" phrases each one plays (call/controller.py)
DESK_KEY_PHRASES = {"hold": {"hold_ask", "hold_resume"}, "louder": {"can_you_hear_me"},
                    "anything_else": {"anything_else"}, "goodbye": {"goodbye"},
                    "supervisor": {"not_in_scope"}, "greet": {"greeting"}}


def write(tmp_path, text, name="desk.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(default_sounds_dir() / "catalog.toml")


@pytest.fixture
def builtin(tmp_path):
    cfg = load_config(write(tmp_path, DESK + '[keypad]\ndevice = "usb:1c4f:0002"\n'))
    check_service(cfg)
    return cfg.keypad


def test_the_builtin_map_reaches_every_agent_phrase_of_the_catalog(builtin, catalog):
    assert builtin.map_path == BUILTIN_KEYMAP
    played: dict[str, list[dict]] = {}
    for _, _, action in builtin.bindings():
        if action.startswith("phrase:"):
            pid, values = parse_pad_key(action)
            played.setdefault(pid, []).append(values)
        else:
            for pid in DESK_KEY_PHRASES[action]:
                played.setdefault(pid, []).append({})
    agent = [p for p in catalog if p.trigger in ("key", "pad")]
    assert len(agent) > 100
    missing = [p.id for p in agent if p.id not in played]
    assert not missing, f"not on the keypad: {missing}"
    for p in agent:                                       # every title both ways
        if "title" in p.fields:
            titles = {v.get("title") for v in played[p.id]}
            assert {"先生", "女士"} <= titles, (p.id, titles)
    deadlines = {(v["title"], v["days"]) for v in played["complaint_deadline"]}
    assert deadlines == {("先生", "5"), ("女士", "5"), ("先生", "15"), ("女士", "15")}
    # the wrong number's hotline name is the desk's own, filled in when it plays
    assert "hotline_name" in catalog["wrong_number"].fields and played["wrong_number"] == [{}]


def test_the_builtin_map_leaves_the_modifier_free_and_binds_no_key_twice(builtin):
    km = builtin.keymap()
    assert km.modifiers and not (km.modifiers & (set(km.layers[0]) | set(km.layers[1])))
    assert len(km.layers[0]) == len(builtin.keys) and len(km.layers[1]) == len(builtin.shift)


@pytest.mark.parametrize("body, line, key, problem", [
    ('KEY_KP1 = "phrase:wrong_number"\nKEY_KPX = "hold"\n', 6, "keypad.keys.KEY_KPX",
     "is not a key name Linux knows"),
    ('KEY_KP1 = "phrase:wrong_numbr"\n', 5, "keypad.keys.KEY_KP1", "no phrase 'wrong_numbr'"),
    ('KEY_KP1 = "phrase:ask_surname?title=小姐"\n', 5, "keypad.keys.KEY_KP1",
     "must be 先生 or 女士"),
    ('KEY_KP1 = "phrase:complaint_deadline?days=500"\n', 5, "keypad.keys.KEY_KP1", "days"),
    ('KEY_KP1 = "phrase:wrong_number?colour=red"\n', 5, "keypad.keys.KEY_KP1",
     "has no field 'colour'"),
    ('KEY_KP1 = "phrase:wrong_number?title"\n', 5, "keypad.keys.KEY_KP1", "field=value"),
    ('KEY_KP1 = "hang_up"\n', 5, "keypad.keys.KEY_KP1", "must be phrase:<id>"),
    ('KEY_KP1 = "hold"\nkp1 = "greet"\n', 6, "keypad.keys.kp1",
     "the same key as KEY_KP1 above: two bindings on one key"),
    ('KEY_NUMLOCK = "hold"\n', 5, "keypad.keys.KEY_NUMLOCK", "is the modifier key"),
])
def test_a_bad_binding_is_refused_naming_file_line_and_key(tmp_path, capsys, body, line, key,
                                                           problem):
    path = write(tmp_path, DESK + '[keypad]\ndevice = "usb:1c4f:0002"\nmodifier = "KEY_NUMLOCK"\n'
                 "[keypad.keys]\n" + body)
    want_line = line + 3               # the table starts on line 7, after [desk] and [keypad]
    assert main(["config", "check", path]) == 78
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert err.startswith(f"deskline config: {path}:{want_line}: {key}: "), err
    assert problem in err


def test_a_clash_in_the_shift_layer_and_with_an_unwritten_default_modifier(tmp_path):
    path = write(tmp_path, DESK + '[keypad]\ndevice = "/dev/input/by-id/usb-x-event-kbd"\n'
                 '[keypad.shift]\nKEY_A = "hold"\nKEY_LEFTSHIFT = "greet"\n')
    with pytest.raises(ConfigError, match=rf"^{path}:8: keypad.shift.KEY_LEFTSHIFT: KEY_LEFTSHIFT "
                       r"is the modifier key"):
        load_config(path)


@pytest.mark.parametrize("body, key, problem", [
    ('[keypad]\nmodifier = "KEY_NUMLOCK"\n', "keypad", "device is needed"),
    ('[keypad]\ndevice = "keypad-1"\n', "keypad.device", "usb:VVVV:PPPP"),
    ('[keypad]\ndevice = "usb:1c4f:2"\n', "keypad.device", "usb:VVVV:PPPP"),
    ('[keypad]\ndevice = "usb:1c4f:0002"\nmodifier = ["KEY_NUMLOCK", "numlock"]\n',
     "keypad.modifier", "the same key as KEY_NUMLOCK"),
    ('[keypad]\ndevice = "usb:1c4f:0002"\nmodifier = []\n[keypad.shift]\nKEY_A = "hold"\n',
     "keypad.modifier", "needs a modifier key"),
    ('[keypad]\ndevice = "usb:1c4f:0002"\nkeys = 3\n', "keypad.keys", "must be a table"),
    ('[keypad]\ndevice = "usb:1c4f:0002"\nrepeat = 3\n', "keypad.repeat", "unknown key"),
])
def test_the_keypad_section_itself(tmp_path, body, key, problem):
    path = write(tmp_path, DESK + body)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    msg = str(exc.value)
    assert msg.startswith(f"{path}:") and f": {key}: " in msg and problem in msg, msg


def test_config_check_accepts_a_good_map_and_show_prints_it(tmp_path, capsys):
    path = write(tmp_path, DESK + '[keypad]\ndevice = "usb:1c4f:0002"\nmodifier = "KEY_NUMLOCK"\n'
                 '[keypad.keys]\nKEY_KP1 = "phrase:wrong_number"\n'
                 '[keypad.shift]\nKEY_KP1 = "phrase:ask_surname?title=女士"\n')
    assert main(["config", "check", path]) == 0
    capsys.readouterr()
    assert main(["config", "show", path]) == 0
    out = capsys.readouterr().out
    assert '[keypad]\ndevice = "usb:1c4f:0002"\nbackend = "auto"\nmodifier = ["KEY_NUMLOCK"]\n' in out
    assert '[keypad.keys]\nKEY_KP1 = "phrase:wrong_number"\n' in out
    assert '[keypad.shift]\nKEY_KP1 = "phrase:ask_surname?title=女士"\n' in out
    load_config(write(tmp_path, out, "shown.toml"))          # what show prints loads again


def test_the_builtin_map_shows_in_config_show(tmp_path, capsys):
    path = write(tmp_path, DESK + '[keypad]\ndevice = "usb:1c4f:0002"\n')
    assert main(["config", "show", path]) == 0
    out = capsys.readouterr().out
    assert f"# the built-in key map ({BUILTIN_KEYMAP})" in out
    assert 'KEY_F4 = "phrase:complaint_deadline?title=先生&days=15"' in out


def test_the_examples_keypad_loads_when_uncommented_and_passes_the_check(tmp_path):
    from importlib import resources

    lines = (resources.files("deskline") / "data" / "deskline.example.toml").read_text(
        encoding="utf-8").splitlines()
    start = lines.index("# [keypad]")
    block = []
    for line in lines[start:]:
        if not line.startswith("# ") or not ("=" in line or line.startswith("# [")):
            break
        block.append(line[2:])
    cfg = load_config(write(tmp_path, DESK + "\n".join(block) + "\n"))
    check_service(cfg)
    assert cfg.keypad.modifier == ("KEY_NUMLOCK",)
    assert len(cfg.keypad.keys) == 16 and len(cfg.keypad.shift) == 12


from hypothesis import given, settings, strategies as st  # noqa: E402

NAMES = st.sampled_from(["KEY_KP1", "kp1", "KEY_NUMLOCK", "KEY_A", "KEY_NOPE", "", "KEY_KP1 ",
                         "BTN_LEFT", "EV_KEY", "KEY_F4"])
ACTIONS = st.one_of(st.sampled_from([
    "hold", "phrase:wrong_number", "phrase:ask_surname?title=女士", "phrase:x?",
    "phrase:complaint_deadline?days=0", "phrase:complaint_deadline?days=15&days=5",
    "phrase:complaint_deadline?title=先生&days=abc", "phrase:", "phrase:greeting?agent_no=",
    "phrase:job_number_only?agent_no=12a"]), st.text(max_size=12), st.integers(), st.booleans())


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from(["keys", "shift"]), NAMES, ACTIONS), max_size=5),
       st.one_of(st.none(), NAMES, st.lists(NAMES, max_size=2)))
def test_any_map_is_taken_or_refused_in_one_line(tmp_path_factory, bindings, modifier):
    import json

    lines = [DESK, '[keypad]\ndevice = "usb:1c4f:0002"\n']
    if modifier is not None:
        lines.append(f"modifier = {json.dumps(modifier, ensure_ascii=False)}\n")
    for table in ("keys", "shift"):
        lines.append(f"[keypad.{table}]\n")
        seen = set()
        for t, name, action in bindings:
            if t == table and name not in seen:
                seen.add(name)
                lines.append(f"{json.dumps(name)} = {json.dumps(action, ensure_ascii=False)}\n")
    path = write(tmp_path_factory.mktemp("map"), "".join(lines))
    try:
        check_service(load_config(path))
    except ConfigError as exc:
        msg = str(exc)
        assert "\n" not in msg and msg.startswith(f"{path}:"), msg
