"""Stand-ins that let the bench rig firmware run under CPython (CI, a laptop without a Pico)."""
