"""``deskline demo``: the six built-in calls do what the standard says, and --plot / --save work."""
import json
from importlib import resources

import pytest

from deskline.recordings import democalls
from deskline.cli import main


@pytest.fixture(scope="module")
def demo_json():
    import contextlib
    import io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["demo", "--json"]) == 0
    calls, name = {}, None
    for line in buf.getvalue().splitlines():
        obj = json.loads(line)
        if "call" in obj:
            name = obj["call"]
            calls[name] = {"actions": [], "summary": None}
        elif "summary" in obj:
            calls[name]["summary"] = obj["summary"]
        else:
            calls[name]["actions"].append(obj)
    return calls


def _plays(call):
    return [a["phrase"] for a in call["actions"] if a["action"] == "play"]


def test_demo_material_ships_with_credits():
    base = resources.files("deskline") / "data" / "demo"
    credits = (base / "CREDITS.md").read_text(encoding="utf-8")
    flacs = [p.name for p in base.iterdir() if p.name.endswith(".flac")]
    assert len(flacs) >= 6
    for name in flacs:
        assert name in credits, f"{name} has no credit line"


def test_all_six_calls_behave(demo_json):
    assert list(demo_json) == list(democalls.NAMES)
    normal, silent, quiet, noisy, hold, hands_free = (demo_json[n] for n in democalls.NAMES)
    assert _plays(normal) == ["greeting", "anything_else", "goodbye"]
    assert normal["summary"]["end_reason"] == "agent_hangup"
    assert _plays(silent) == ["greeting", "greeting_repeat", "no_sound_goodbye"]
    assert any(a["action"] == "release" for a in silent["actions"]) and silent["summary"]["silent"]
    assert _plays(quiet) == ["greeting", "speak_louder", "switch_phone_quiet"]
    assert quiet["summary"]["quiet"]
    assert _plays(noisy) == ["greeting", "too_noisy_goodbye"] and noisy["summary"]["noisy"]
    # past two minutes the longer apology (seed 001 item 16)
    assert _plays(hold) == ["greeting", "hold_ask", "hold_resume_long", "goodbye"]
    leds = [a["pattern"] for a in hold["actions"] if a["action"] == "led"]
    assert leds == ["on", "blink_slow", "blink_fast", "off"]
    assert hold["summary"]["holds"][0]["length_s"] > 120.0
    assert _plays(hands_free) == ["greeting", "pick_up_handset"]
    asked = [p for p in hands_free["summary"]["prompts"] if p["phrase"] == "pick_up_handset"]
    assert asked[0]["reason"] == "speakerphone"


def test_text_timeline_plot_and_save(tmp_path, capsys):
    png, saved = tmp_path / "quiet.png", tmp_path / "calls"
    assert main(["demo", "--call", "quiet", "--plot", str(png), "--save", str(saved)]) == 0
    out = capsys.readouterr().out
    assert "== demo call 'quiet'" in out and "PLAY speak_louder" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    wav, events = saved / "quiet.wav", saved / "quiet.jsonl"
    assert wav.exists() and events.exists()
    # the saved call replays through `simulate` to the same actions
    assert main(["simulate", str(wav), "--events", str(events), "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [a["phrase"] for a in lines[:-1] if a["action"] == "play"] == [
        "greeting", "speak_louder", "switch_phone_quiet"]


def test_plot_to_an_unwritable_place_is_one_line(tmp_path, capsys):
    code = main(["demo", "--call", "silent", "--plot", str(tmp_path / "no" / "such" / "x.png")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "x.png" in err
