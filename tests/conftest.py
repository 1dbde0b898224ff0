"""Command-line options shared by the whole suite (pytest reads them only from the root conftest)."""


def pytest_addoption(parser):
    group = parser.getgroup("deskline bench", "hardware-in-the-loop bench")
    group.addoption("--bench", default="sim", metavar="sim|serial://PORT",
                    help="what the bench scenarios run against: 'sim' (default, the fake desk "
                         "in-process) or 'serial:///dev/ttyACM0' (the bench rig and a real DUT)")
    group.addoption("--bench-audio", default=None, metavar="CARDNAME",
                    help="with --bench=serial://…: the bench host's sound card (ALSA name) that "
                         "plays the caller and records what the device says")
