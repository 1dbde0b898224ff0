"""``deskline simulate`` (and ``calls`` on what it recorded) through ``cli.main``."""
import json

import numpy as np
import pytest
import soundfile as sf

from deskline.call.events import Hook, Key, Ring
from deskline.recordings.callmix import CallBuilder, at_active_level, load_clip
from deskline.cli import main

FIX = __import__("pathlib").Path(__file__).resolve().parents[1] / "fixtures"


def _one_line_error(capsys, code, *needles):
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for n in needles:
        assert n in err, err
    return err


def test_missing_wav(tmp_path, capsys):
    missing = tmp_path / "nope.wav"
    _one_line_error(capsys, main(["simulate", str(missing)]), str(missing), "no such file")


def test_broken_wav(tmp_path, capsys):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x24\x00\x00\x00WAVEjunkjunkjunk" * 3)
    _one_line_error(capsys, main(["simulate", str(bad)]), str(bad))
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n")
    _one_line_error(capsys, main(["simulate", str(text)]), str(text))


def test_three_channels_refused(tmp_path, capsys):
    wav = tmp_path / "three.wav"
    sf.write(wav, np.zeros((8000, 3)), 8000)
    _one_line_error(capsys, main(["simulate", str(wav)]), str(wav), "3 channels")


def test_malformed_events_line(tmp_path, capsys):
    wav = tmp_path / "call.wav"
    sf.write(wav, np.zeros(8000), 8000)
    ev = tmp_path / "call.jsonl"
    ev.write_text('{"t": 0.0, "event": "hook", "state": "off"}\n\n{"t": 0.5, "event": "key"}\n')
    _one_line_error(capsys, main(["simulate", str(wav), "--events", str(ev)]),
                    f"{ev}:3: ", 'key "name" must be one of')
    _one_line_error(capsys, main(["simulate", str(wav), "--events", str(tmp_path / "none.jsonl")]),
                    "none.jsonl: no such file")


def _silent_line(path, rate_hz=8000):
    rng = np.random.default_rng(3)
    fridge = load_clip(FIX / "freesound_fridge.wav", rate_hz=rate_hz)
    n = int(70.0 * rate_hz)   # the whole ladder at the standard's 120 characters a minute
    x = np.tile(fridge, n // fridge.size + 1)[:n]
    x = x * (10 ** (-62 / 20) / np.sqrt(np.mean(x ** 2))) + rng.normal(0, 1e-5, n)
    sf.write(path, x, rate_hz, subtype="PCM_16")


def test_json_lines_and_summary_for_a_silent_line(tmp_path, capsys):
    wav = tmp_path / "silent.wav"
    _silent_line(wav, rate_hz=16000)
    assert main(["simulate", str(wav), "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert set(lines[-1]) == {"summary"}
    actions = lines[:-1]
    assert all(set(a) >= {"t", "action"} for a in actions)
    plays = [(a["phrase"], a["t"]) for a in actions if a["action"] == "play"]
    assert [p for p, _ in plays] == ["greeting", "greeting_repeat", "no_sound_goodbye"]
    assert plays[0][1] == 0.05          # off-hook at 0, believed once settled (50 ms debounce)
    assert plays[2][1] - plays[1][1] > 5.0                  # 5 s after the repeat has ended
    assert any(a["action"] == "release" for a in actions)
    summary = lines[-1]["summary"]
    assert summary["silent"] and summary["end_reason"] == "device_release"
    assert summary["answered_t_s"] == 0.0
    assert [p["phrase"] for p in summary["prompts"]] == [p for p, _ in plays]


def test_readable_timeline_stereo_with_events_and_journal(tmp_path, capsys):
    b = CallBuilder(30.0, rate_hz=8000)
    b.background(load_clip(FIX / "freesound_cafe.wav"), -58.0, rng=np.random.default_rng(1))
    b.event(Ring(0.0))
    b.event(Hook(3.0, True))
    t = b.caller(at_active_level(load_clip(FIX / "silero_test.wav")[: 8000 * 9], -24.0), 5.0)
    t = b.agent(at_active_level(load_clip(FIX / "cmu_arctic_us_aew_a0001.wav"), -22.0), t + 0.5)
    b.event(Key(t + 0.5, "goodbye"))
    b.event(Hook(29.0, False))
    wav, ev, db = tmp_path / "call.wav", tmp_path / "call.jsonl", tmp_path / "calls.db"
    b.write(wav, ev)
    assert sf.info(str(wav)).channels == 2
    png = tmp_path / "call.png"
    assert main(["simulate", str(wav), "--events", str(ev), "--journal", str(db),
                 "--plot", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    out = capsys.readouterr().out
    assert "stereo (receive, transmit)" in out.splitlines()[0]
    assert "    3.00  off-hook" in out and "PLAY greeting" in out and "PLAY goodbye" in out
    assert "record: 1 ring(s), answered after 3.00 s" in out
    assert main(["calls", "--db", str(db), "--json"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(rows) == 1 and rows[0]["rings"] == 1 and rows[0]["end_reason"] == "agent_hangup"
    assert rows[0]["source"].endswith("call.wav")


def test_any_rate_gives_the_same_decisions(tmp_path, capsys):
    """The same silent line at 8 kHz and at 22.05 kHz (a rate with no whole 10 ms hop)."""
    plays = {}
    for rate in (8000, 22050):
        wav = tmp_path / f"silent_{rate}.wav"
        _silent_line(wav, rate_hz=rate)
        assert main(["simulate", str(wav), "--json"]) == 0
        lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
        plays[rate] = [(a["phrase"], a["t"]) for a in lines[:-1] if a["action"] == "play"]
    assert [p for p, _ in plays[8000]] == [p for p, _ in plays[22050]]
    for (_, a), (_, b) in zip(plays[8000], plays[22050]):
        assert abs(a - b) <= 0.05


def test_events_without_a_call_and_with_two_calls(tmp_path, capsys):
    wav = tmp_path / "line.wav"
    _silent_line(wav)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    assert main(["simulate", str(wav), "--events", str(empty)]) == 0
    assert "record: no call" in capsys.readouterr().out
    two = tmp_path / "two.jsonl"
    two.write_text('{"t": 0.5, "event": "hook", "state": "off"}\n{"t": 8, "event": "hook", "state": "on"}\n'
                   '{"t": 20, "event": "ring"}\n{"t": 22, "event": "hook", "state": "off"}\n'
                   '{"t": 30, "event": "hook", "state": "on"}\n')
    assert main(["simulate", str(wav), "--events", str(two)]) == 0
    out = capsys.readouterr().out
    assert "call 1:" in out and "call 2:" in out
    assert main(["simulate", str(wav), "--events", str(two), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])["summary"]
    assert [c["rings"] for c in summary["calls"]] == [0, 1]


# --- events a replay cannot reach, and events files no parser should choke on ------------------

@pytest.mark.parametrize("late_t", ["36000", "1e300"])
def test_events_past_the_recording_are_taken_at_its_end_with_one_warning(tmp_path, capsys,
                                                                         late_t):
    wav = tmp_path / "call.wav"
    sf.write(wav, 0.01 * np.sin(np.arange(16000) * 0.3), 8000)
    ev = tmp_path / "ev.jsonl"
    ev.write_text('{"t": 0, "event": "hook", "state": "off"}\n'
                  f'{{"t": {late_t}, "event": "hook", "state": "on"}}\n')
    # run as its own process: before, a far event ticked the replay for hours (or forever)
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", "deskline", "simulate", str(wav), "--events",
                           str(ev), "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    warnings = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(warnings) == 1 and str(ev) in warnings[0] and "after the recording's end" \
        in warnings[0]
    lines = [json.loads(l) for l in proc.stdout.splitlines()]
    summary = lines[-1]["summary"]
    assert summary["end_reason"] == "agent_hangup" and summary["ended_t_s"] == pytest.approx(2.0)
    assert all(l["t"] <= 2.0 + 1e-9 for l in lines[:-1] if "t" in l)


@pytest.mark.parametrize("line, needle", [
    ('{"t": 1' + "0" * 400 + ', "event": "ring"}', '"t" must be a number of seconds'),
    ('{"t": 1' + "0" * 5000 + ', "event": "ring"}', "not JSON"),
    ("[" * 100000 + "]" * 100000, "nested too deeply"),
    ('{"t": ' + "[" * 5000 + "]" * 5000 + ', "event": "ring"}', "nested too deeply"),
], ids=["huge-int", "huge-int-digits", "deep-array", "deep-in-t"])
def test_events_file_with_absurd_values_is_one_line(tmp_path, capsys, line, needle):
    wav = tmp_path / "call.wav"
    sf.write(wav, np.zeros(8000), 8000)
    ev = tmp_path / "ev.jsonl"
    ev.write_text('{"t": 0, "event": "ring"}\n' + line + "\n")
    err = _one_line_error(capsys, main(["simulate", str(wav), "--events", str(ev)]),
                          f"{ev}:2:", needle)
    assert len(err) < 300
