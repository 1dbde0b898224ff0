"""The ``deskline`` command: a function of argv that returns an exit status.

Sub-commands live in :mod:`deskline.commands`, one module each, found by listing that package,
so tests call ``main([...])`` directly and never spawn a process for a CLI check.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys

from deskline import __version__, commands
from deskline.exc import DesklineError

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_CONFIG = 78  # EX_CONFIG (sysexits.h); the unit's RestartPreventExitStatus=78 stops a restart loop


def command_names() -> list[str]:
    """Sub-command names: the modules of :mod:`deskline.commands` (listed, not imported)."""
    return sorted(m.name for m in pkgutil.iter_modules(commands.__path__)
                  if not m.name.startswith("_"))


def _command_modules(only: str | None = None):
    for name in command_names():
        if only is None or name == only:
            yield importlib.import_module(f"{commands.__name__}.{name}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; with ``only``, just that sub-command is imported (fast start)."""
    parser = argparse.ArgumentParser(
        prog="deskline",
        description="Desk-side hotline assistant: measures the line, speaks the standard "
        "phrases, holds and records calls.",
    )
    parser.add_argument("--version", action="version", version=f"deskline {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _command_modules(only):
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of each record.

    ``main()`` runs many times in one process under test, each time with the standard streams
    swapped; a handler holding the first stream would write into a closed one.
    """

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def _log_to_stderr(level: int) -> None:
    root = logging.getLogger()
    if not any(isinstance(h, _StderrHandler) for h in root.handlers):
        root.addHandler(_StderrHandler())
    root.setLevel(level)


def _one_thread_maths() -> None:
    """Keep numpy's BLAS on one thread unless told otherwise.

    The meter multiplies small matrices every block; a multi-threaded OpenBLAS spends far
    longer waking its threads than computing (several times slower on a busy two-core
    machine), and on the desk the service shares the Pi with nothing that could use them.
    Must run before numpy is first imported.
    """
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def main(argv: list[str] | None = None) -> int:
    _one_thread_maths()
    argv = sys.argv[1:] if argv is None else list(argv)
    # Import only the sub-command asked for: the DSP stack takes seconds to import on a Pi.
    first = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(first if first in command_names() else None)
    args = parser.parse_args(argv)
    _log_to_stderr(logging.WARNING - 10 * min(args.verbose, 2))
    if not getattr(args, "_run", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return int(args._run(args) or 0)
    except DesklineError as exc:
        print(f"deskline {args.command}: {exc}", file=sys.stderr)
        return EXIT_CONFIG if exc.__class__.__name__ == "ConfigError" else EXIT_BAD_INPUT
    except BrokenPipeError:
        return EXIT_OK
