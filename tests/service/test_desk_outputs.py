"""The desk's outputs follow the controller: the supervisor call lights the desk beacon."""
from deskline.call.events import Alert, Hook, Led
from deskline.hw import fake
from deskline.hw.roles import DeskPins
from deskline.live.service import DeskOutputs


def test_beacon_lights_from_the_supervisor_key_to_the_end_of_that_call():
    desk = fake.open_desk(DeskPins(beacon=16))
    try:
        out = DeskOutputs(desk)
        out.on_actions([Alert(0.5, "supervisor")])            # between calls: no beacon
        assert not desk.beacon.on
        out.on_event(Hook(1.0, True))
        out.on_actions([Alert(3.0, "supervisor"), Led(3.0, "supervisor")])
        assert desk.beacon.on and desk.snapshot()["led"] == "supervisor"
        out.on_event(Hook(9.0, False))
        assert not desk.beacon.on
    finally:
        desk.close()


def test_no_beacon_fitted_is_no_error():
    desk = fake.open_desk(DeskPins())
    try:
        out = DeskOutputs(desk)
        out.on_event(Hook(1.0, True))
        out.on_actions([Alert(3.0, "supervisor")])
        out.on_event(Hook(9.0, False))
        assert desk.beacon is None
    finally:
        desk.close()
