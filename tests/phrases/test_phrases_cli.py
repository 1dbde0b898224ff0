"""`deskline phrases …` through cli.main: exit codes and what each action prints."""
import shutil

import numpy as np
import pytest
import soundfile as sf

from deskline.cli import main


@pytest.fixture(autouse=True)
def desk_config(tmp_path, monkeypatch):
    cfg = tmp_path / "deskline.toml"
    cfg.write_text('[desk]\nhotline_name = "榆林市残疾人服务热线"\nhotline_name_en = "Yulin hotline"\n'
                   'agent_no = "1"\n\n[phrases]\ndir = "%s"\n' % (tmp_path / "centre"), encoding="utf-8")
    monkeypatch.setenv("DESKLINE_CONFIG", str(cfg))
    return cfg


def test_list_and_coverage(capsys):
    assert main(["phrases", "list", "--coverage"]) == 0
    out = capsys.readouterr().out
    assert "greeting" in out and "您好，这里是{hotline_name}" in out
    assert "000        32           2     34" in out


def test_list_json_english(capsys):
    import json
    assert main(["phrases", "list", "--lang", "en", "--trigger", "key", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {"hold_ask", "hold_resume", "anything_else", "goodbye", "can_you_hear_me"} <= {r["id"] for r in rows}
    assert all(r["trigger"] == "key" for r in rows)


def test_check_shipped_files(capsys):
    assert main(["phrases", "check"]) == 0
    out = capsys.readouterr().out
    assert "0 problems, 0 missing" in out and "P.56 level -26" in out


def test_check_flags_a_bad_centre_recording(tmp_path, capsys):
    d = tmp_path / "centre" / "zh-CN"
    d.mkdir(parents=True)
    sf.write(d / "goodbye.wav", 0.9 * np.sin(np.arange(8000) * 0.3), 8000, subtype="PCM_16")
    assert main(["phrases", "check", "--lang", "zh"]) == 1
    out = capsys.readouterr().out
    assert "goodbye.wav: goodbye (zh): rate 8000 Hz, expected 16000" in out


def test_lint(tmp_path, capsys):
    assert main(["phrases", "lint"]) == 0
    assert "0 found" in capsys.readouterr().out
    mine = tmp_path / "mine.txt"
    mine.write_text("您好，很高兴为您服务\n喂，说话呀！再不说话我就挂了啊！\n", encoding="utf-8")
    assert main(["phrases", "lint", str(mine), "--text", "Hey, speak up!"]) == 1
    out = capsys.readouterr().out
    assert f"{mine}:2: contains forbidden 'hey_talk'" in out
    assert f"{mine}:2: contains forbidden 'hang_up_if_silent'" in out
    assert "--text:1: contains forbidden 'hey_speak_up'" in out


def test_bad_input_is_one_line_exit_2(capsys):
    assert main(["phrases", "play", "no_such_phrase"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no_such_phrase" in err and "\n" not in err
    assert main(["phrases", "lint", "/no/such/file.txt"]) == 2
    assert main(["phrases", "render", "--only", "no_such_phrase", "--out", "/tmp/x"]) == 2


def test_record_needs_a_directory(monkeypatch, tmp_path, capsys):
    cfg = tmp_path / "plain.toml"
    cfg.write_text('[desk]\nhotline_name = "热线"\n', encoding="utf-8")
    monkeypatch.setenv("DESKLINE_CONFIG", str(cfg))
    assert main(["phrases", "record", "greeting"]) == 78
    assert "[phrases] dir" in capsys.readouterr().err
    assert main(["phrases", "record", "nonsense", "--dir", str(tmp_path)]) == 2


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_render_only_one_phrase(tmp_path, capsys):
    assert main(["phrases", "render", "--lang", "en", "--only", "hold_ask", "--out", str(tmp_path)]) == 0
    assert [p.name for p in (tmp_path / "en").iterdir()] == ["hold_ask.flac"]
    assert "rendered 1 recordings" in capsys.readouterr().out
