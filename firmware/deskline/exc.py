"""The exceptions and warnings deskline raises.

Every error deskline raises on purpose derives from :class:`DesklineError`, and also from the
builtin it refines, so callers can catch either. Messages are one line and name the file, key,
id or line at fault.
"""


class DesklineError(Exception):
    """Root of every error deskline raises on purpose."""


class ConfigError(DesklineError, ValueError):
    """A configuration file, key or value is wrong."""


class AudioFileError(DesklineError, ValueError):
    """An audio file is missing, empty, truncated or not audio."""


class CatalogError(DesklineError, ValueError):
    """The phrase catalog or a phrase recording is wrong."""


class EventsError(DesklineError, ValueError):
    """An events file (JSONL) has a malformed line."""


class HardwareError(DesklineError, OSError):
    """A hardware part (sound card, GPIO pin, bench rig) is missing or failed."""


class JournalError(DesklineError, OSError):
    """The call record database cannot be opened or written."""


class DesklineWarning(Warning):
    """Root of warnings: deskline runs in a degraded mode (e.g. no line-release relay)."""
