"""The command line: sub-commands are found by listing the package, and each module is well-formed."""
import importlib

import pytest

from deskline import cli


def test_every_command_module_is_well_formed():
    names = cli.command_names()
    assert "measure" in names
    for name in names:
        mod = importlib.import_module(f"deskline.commands.{name}")
        assert mod.NAME == name, f"commands/{name}.py must define NAME = {name!r}"
        assert isinstance(mod.HELP, str) and mod.HELP and "\n" not in mod.HELP
        assert callable(mod.add_arguments) and callable(mod.run)


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for name in cli.command_names():
        assert name in out


def test_no_command_prints_help_and_fails(capsys):
    assert cli.main([]) == cli.EXIT_BAD_INPUT
    assert "usage" in capsys.readouterr().out


def test_unknown_command_is_refused(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["frobnicate"])
    assert done.value.code == 2


def test_logging_follows_the_current_stderr(monkeypatch):
    """main() runs many times in one process with the streams swapped; its log handler must
    write to the stream of the moment, not to the first (by then closed) one."""
    import io
    import logging

    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stderr", first)
    cli._log_to_stderr(logging.INFO)
    first.close()
    monkeypatch.setattr("sys.stderr", second)
    cli._log_to_stderr(logging.INFO)
    logging.getLogger("deskline.test").info("hello %s", "there")
    assert "hello there" in second.getvalue()
    assert sum(isinstance(h, cli._StderrHandler) for h in logging.getLogger().handlers) == 1
