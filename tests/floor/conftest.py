import shutil

import pytest

from broker_harness import Broker

DESKS = ["desk-01", "desk-02", "desk-03"]


@pytest.fixture
def broker():
    if shutil.which("mosquitto") is None:
        pytest.fail("mosquitto is not installed (scripts/test.sh installs it)")
    b = Broker(DESKS).start()
    yield b
    b.close()
