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


# --- inputs that are not a line's audio: one line naming the file, JSON always valid ------------

def _one_error_line(err: str, *words: str) -> None:
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in lines[0], lines[0]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_sample_that_is_not_a_number_is_named_by_time(tmp_path, capsys, bad):
    x = np.full(16000, 0.01, dtype=np.float32)
    x[12000] = bad
    path = tmp_path / "nan.wav"
    sf.write(path, x, 8000, subtype="FLOAT")
    good = tmp_path / "good.wav"
    sf.write(good, 0.1 * np.sin(np.arange(16000) * 0.3), 8000)
    assert main(["measure", "--json", str(path), str(good)]) == 2
    out, err = capsys.readouterr()
    _one_error_line(err, str(path), "1.500 s", "not a number")
    (rec,) = [json.loads(line) for line in out.splitlines()]   # strict: no NaN anywhere
    assert rec["file"] == str(good)
    json.loads(out, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    assert main(["simulate", str(path)]) == 2
    _one_error_line(capsys.readouterr().err, str(path), "1.500 s")


def test_audio_below_the_line_rate_is_one_line(tmp_path, capsys):
    path = tmp_path / "low.wav"
    sf.write(path, np.zeros(6000), 6000)
    assert main(["measure", str(path)]) == 2
    _one_error_line(capsys.readouterr().err, str(path), "6000 Hz")
    assert main(["simulate", str(path)]) == 2
    _one_error_line(capsys.readouterr().err, str(path), "6000 Hz")


def test_silence_gives_figures_or_null_never_nan(tmp_path, capsys):
    path = tmp_path / "zero.wav"
    sf.write(path, np.zeros(8000), 8000)
    assert main(["measure", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    rec = json.loads(out, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    assert rec["peak_dbov"] == -100.0 and rec["activity"] == 0.0


def test_measure_reads_a_block_at_a_time(tmp_path):
    # 20 s of 8 channels at 48 kHz: 61 MB as float64 if read whole, ~3 MB a block
    import tracemalloc
    from deskline.commands.measure import measure_file
    rng = np.random.default_rng(1)
    path = tmp_path / "long.wav"
    with sf.SoundFile(path, "w", 48000, 8, subtype="PCM_16") as f:
        for _ in range(20):
            f.write(0.05 * rng.standard_normal((48000, 8)))
    tracemalloc.start()
    try:
        rec = measure_file(str(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rec["duration_s"] == 20.0 and rec["channels"] == 8
    assert peak < 20e6, f"peak {peak / 1e6:.0f} MB"


def test_a_header_claiming_an_absurd_rate_is_one_line(tmp_path, capsys):
    # a damaged header: 2 GHz would make the meters' buffers gigabytes long
    path = tmp_path / "fast.wav"
    sf.write(path, np.zeros(800), 8000)
    raw = bytearray(path.read_bytes())
    raw[24:28] = (2_000_000_000).to_bytes(4, "little")     # the fmt chunk's sample rate
    path.write_bytes(bytes(raw))
    assert main(["measure", str(path)]) == 2
    _one_error_line(capsys.readouterr().err, str(path), "2000000000 Hz")
    assert main(["simulate", str(path)]) == 2
    _one_error_line(capsys.readouterr().err, str(path), "2000000000 Hz")
