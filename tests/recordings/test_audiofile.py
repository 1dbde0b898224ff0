"""Reading recordings: good files decode; bad ones give one line naming the file and reason."""
import numpy as np
import pytest
import soundfile as sf

from deskline.recordings.audiofile import AudioStream, read_audio
from deskline.exc import AudioFileError


@pytest.fixture
def wav(tmp_path):
    x = 0.25 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    path = tmp_path / "tone.wav"
    sf.write(path, x, 16000, subtype="PCM_16")
    return path


def test_reads_mono_wav_as_float(wav):
    rec = read_audio(wav)
    assert rec.rate_hz == 16000 and rec.channels == 1
    assert rec.duration_s == pytest.approx(1.0)
    assert np.abs(rec.channel(0)).max() == pytest.approx(0.25, abs=1e-3)


def test_reads_stereo_flac_channel_zero(tmp_path):
    left = 0.5 * np.ones(800)
    right = -0.25 * np.ones(800)
    path = tmp_path / "st.flac"
    sf.write(path, np.column_stack([left, right]), 8000, subtype="PCM_16")
    rec = read_audio(path)
    assert rec.channels == 2
    assert rec.channel(0).mean() == pytest.approx(0.5, abs=1e-3)
    assert rec.channel(1).mean() == pytest.approx(-0.25, abs=1e-3)


@pytest.mark.parametrize("make, reason", [
    (lambda p, good: None, "no such file"),
    (lambda p, good: p.write_bytes(b""), "empty file"),
    (lambda p, good: p.write_text("hello, not audio\n" * 20), "not a WAV/FLAC"),
    (lambda p, good: p.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2]), "truncated"),
    (lambda p, good: sf.write(p, np.zeros(0), 8000, subtype="PCM_16"), "no audio frames"),
])
@pytest.mark.parametrize("reader", [read_audio, AudioStream])
def test_bad_files_name_file_and_reason(tmp_path, wav, make, reason, reader):
    bad = tmp_path / "bad.wav"
    make(bad, wav)
    with pytest.raises(AudioFileError) as err:
        reader(bad)
    msg = str(err.value)
    assert str(bad) in msg and reason in msg and "\n" not in msg


def test_a_stream_gives_the_same_samples_a_block_at_a_time(tmp_path):
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (12345, 2))
    path = tmp_path / "st.flac"
    sf.write(path, x, 8000, subtype="PCM_16")
    whole = read_audio(path).samples
    with AudioStream(path) as stream:
        assert (stream.rate_hz, stream.channels, stream.frames) == (8000, 2, 12345)
        assert stream.duration_s == pytest.approx(12345 / 8000)
        parts = [stream.read(1000) for _ in range(13)]
    assert [p.shape[0] for p in parts] == [1000] * 12 + [345]
    assert np.array_equal(np.concatenate(parts), whole)
