"""The gpiozero backend: the desk's roles over a real pin factory (lgpio on Pi 5 / Bookworm).

The factory is constructed here and passed to every device, never installed as gpiozero's
global default, so nothing else in the process can pick a different backend by accident.
"""
from __future__ import annotations

import importlib
import logging

from deskline.exc import HardwareError
from deskline.hw.roles import DeskIO, DeskPins

log = logging.getLogger(__name__)

#: Config name -> (module, class) of gpiozero's pin factories, in the order "auto" tries them.
FACTORIES = {
    "lgpio": ("gpiozero.pins.lgpio", "LGPIOFactory"),
    "rpigpio": ("gpiozero.pins.rpigpio", "RPiGPIOFactory"),
    "native": ("gpiozero.pins.native", "NativeFactory"),
}
#: Accepted by name but never tried by "auto": gpiozero's simulated pins.
MOCK = ("gpiozero.pins.mock", "MockFactory")


def make_factory(name: str | None):
    """A gpiozero pin factory by config name: "lgpio", "rpigpio", "native", "mock"; "" = auto.

    Auto tries the real factories in gpiozero's order and never falls back to the mock.

    Raises HardwareError naming what was tried when no GPIO can be opened.
    """
    if name == "mock":
        return getattr(importlib.import_module(MOCK[0]), MOCK[1])()
    names = [name] if name and name != "auto" else list(FACTORIES)
    if names[0] not in FACTORIES:
        raise HardwareError(f"unknown pin factory {name!r} (choose from {', '.join(FACTORIES)})")
    reasons = []
    for n in names:
        mod_name, cls_name = FACTORIES[n]
        try:
            cls = getattr(importlib.import_module(mod_name), cls_name)
            return cls()
        except Exception as exc:  # ImportError, PinUnknownPi, lgpio.error, RuntimeError ...
            reasons.append(f"{n}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
    raise HardwareError("no GPIO on this machine (" + "; ".join(reasons) + ")")


def open_desk(pins: DeskPins, pin_factory: str | None = None) -> DeskIO:
    """Open every role of the desk on real GPIO."""
    factory = make_factory(pin_factory)
    log.info("GPIO through %s", type(factory).__name__)
    return DeskIO(pins, factory, backend=f"gpiozero/{type(factory).__name__}")
