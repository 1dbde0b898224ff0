"""Replaying a recorded call through the engine: the driver, ``simulate``, events files, timelines, plots."""
