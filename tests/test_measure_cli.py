"""``deskline measure``: figures per file, frames, tones, and one-line errors that lose nothing."""
import json
import pathlib

import numpy as np
import pytest
import soundfile as sf

from deskline.cli import main

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"


def json_lines(out):
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_json_record_of_real_speech(capsys):
    path = FIXTURES / "aishell1_BAC009S0724W0121.wav"
    assert main(["measure", "--json", str(path)]) == 0
    (rec,) = json_lines(capsys.readouterr().out)
    # sv56demo (ITU-T G.191) reads -30.104 dBov and 77.914 % for this file
    assert rec["active_level_dbov"] == pytest.approx(-30.104, abs=0.5)
    assert 100 * rec["activity"] == pytest.approx(77.914, abs=5)
    assert rec["rate_hz"] == 16000 and rec["tones"] == []
    assert rec["noise_floor_dbov"] < rec["active_level_dbov"] - 10
    assert rec["snr_db"] > 10
    assert rec["peak_dbov"] < 0 and rec["clipped_ratio"] == 0


def test_frames_and_stereo_channel_zero(tmp_path, capsys):
    x, rate = sf.read(FIXTURES / "cmu_arctic_us_aew_a0001.wav", dtype="float64")
    stereo = tmp_path / "call.wav"
    sf.write(stereo, np.column_stack([x, np.zeros_like(x)]), rate, subtype="PCM_16")
    assert main(["measure", "--json", "--frames", str(stereo)]) == 0
    (rec,) = json_lines(capsys.readouterr().out)
    assert rec["channels"] == 2
    assert rec["active_level_dbov"] == pytest.approx(-20.8, abs=0.5)  # the receive channel
    frames = rec["frames"]
    assert len(frames) == pytest.approx(len(x) / rate * 100, abs=2)
    assert {"t_s", "speech", "level_dbov", "noise_dbov"} <= set(frames[0])
    assert any(f["speech"] for f in frames) and not all(f["speech"] for f in frames)


def test_busy_tone_found_with_plan_kind_and_start(tmp_path, capsys):
    rate = 8000
    burst = 0.1 * np.sin(2 * np.pi * 450 * np.arange(int(0.35 * rate)) / rate)
    x = np.concatenate([np.zeros(rate)] + [burst, np.zeros_like(burst)] * 5)
    path = tmp_path / "busy.flac"
    sf.write(path, x, rate, subtype="PCM_16")
    assert main(["measure", "--json", str(path)]) == 0
    (rec,) = json_lines(capsys.readouterr().out)
    assert [(t["plan"], t["kind"]) for t in rec["tones"]] == [("cn", "busy")]
    assert rec["tones"][0]["t_s"] == pytest.approx(1.0, abs=0.03)


def test_bad_file_named_in_one_line_and_the_rest_still_measured(tmp_path, capsys):
    bad = tmp_path / "broken.wav"
    bad.write_text("not audio at all\n" * 10)
    good = FIXTURES / "cmu_arctic_us_axb_a0004.wav"
    missing = tmp_path / "missing.wav"
    assert main(["measure", "--json", str(bad), str(good), str(missing)]) == 2
    captured = capsys.readouterr()
    assert [r["file"] for r in json_lines(captured.out)] == [str(good)]
    errors = captured.err.strip().splitlines()
    assert len(errors) == 2
    assert str(bad) in errors[0] and "not a WAV/FLAC" in errors[0]
    assert str(missing) in errors[1] and "no such file" in errors[1]


def test_readable_text_by_default(capsys):
    assert main(["measure", str(FIXTURES / "freesound_fridge.wav")]) == 0
    out = capsys.readouterr().out
    assert "active speech level" in out and "noise floor" in out and "tones" in out
