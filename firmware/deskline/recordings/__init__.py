"""Recordings for the tools: reading audio files, building call recordings, the built-in demo calls."""
