"""``deskline run``: the desk service (GPIO, sound card, controller, journal) until SIGTERM.

Exit status: 0 after SIGTERM/SIGINT (desk left safe), 78 for a configuration error (one line
naming the file, line and key), 2 when hardware is missing (one line naming the sound card or
the GPIO), 1 for anything unexpected.
"""
from __future__ import annotations

import logging
import os
import sys


NAME = "run"
HELP = "run the desk service: hook, line meter, phrases, hold, call record (for systemd)"

log = logging.getLogger(__name__)

#: Card blocks are this long whatever the analysis block: with the two blocks of buffering
#: DuplexAudio asks for, they set how soon a phrase starts after the event that asked for it.
#: Every block wakes PortAudio's card thread (and, through PulseAudio, libpulse's): 10 ms
#: blocks took 2.6 % of a core with the loop idle, 20 ms 1.7-2.4 %, 40 ms about 1.3 %, but
#: hook -> greeting went from about 105 ms to 130-170 ms (goal < 150 ms). The loop itself is
#: woken by the card once per analysis block (``[audio] block_s``), at once by a switch edge,
#: and by its own timeout when something falls due; each time it takes all the card has heard.
CARD_BLOCK_S = 0.02


def add_arguments(parser) -> None:
    parser.add_argument("--config", metavar="FILE", default=None,
                        help="settings file (default: $DESKLINE_CONFIG, else "
                             "/etc/deskline/deskline.toml, else built-in defaults)")


def _backend(cfg) -> str:
    return os.environ.get("DESKLINE_HW") or cfg.hw.backend


def _runtime_dir(cfg) -> str:
    for var in ("RUNTIME_DIRECTORY", "STATE_DIRECTORY"):
        if os.environ.get(var):
            return os.environ[var].split(":")[0]
    return os.path.dirname(os.path.abspath(cfg.journal.path))


def audio_backend(cfg) -> str:
    """"card" or "fake": ``[audio] backend``, where "auto" means the fake card on the fake desk
    when no card is named (a laptop has no desk card), else the card."""
    a = cfg.audio
    chosen = os.environ.get("DESKLINE_AUDIO") or a.backend
    if chosen == "auto":
        return "fake" if _backend(cfg) == "fake" and not (a.card or a.output_card) else "card"
    return chosen


def open_audio_role(cfg):
    """The line's audio role the config asks for (not yet open)."""
    a = cfg.audio
    backend = audio_backend(cfg)
    if backend == "fake":
        from deskline.hw.fakeaudio import FakeAudio

        return FakeAudio(rate_hz=a.rate_hz, block_s=CARD_BLOCK_S, deliver_s=a.block_s,
                         rx_channel=a.rx_channel, tx_channel=a.tx_channel,
                         caller=os.environ.get("DESKLINE_FAKE_CALLER") or a.fake_caller or None,
                         output=os.environ.get("DESKLINE_FAKE_OUTPUT") or a.fake_output or None)
    if backend != "card":
        from deskline.exc import HardwareError

        raise HardwareError(f"unknown audio backend {backend!r} (auto, card or fake)")
    from deskline.hw.duplex import DuplexAudio

    return DuplexAudio(a.card or None, output_card=a.output_card or None, rate_hz=a.rate_hz,
                       block_s=CARD_BLOCK_S, rx_channel=a.rx_channel, tx_channel=a.tx_channel,
                       deliver_s=a.block_s)


def keypad_is_fake(cfg) -> bool:
    """``[keypad] backend``: "fake", or "auto" on the fake desk (the socket presses it)."""
    chosen = cfg.keypad.backend
    return chosen == "fake" or (chosen == "auto" and _backend(cfg) == "fake")


def open_keypad(cfg, desk, *, fake: bool):
    """The USB keypad of ``[keypad]`` on ``desk`` (its presses onto the desk's edge queue);
    on the fake desk, a keypad its control socket presses. None without ``[keypad]``."""
    kp = cfg.keypad
    if not kp.enabled:
        return None
    from deskline.hw.keypad import KeypadRole

    role = KeypadRole(kp.device, kp.keymap(), desk.post, retry_s=kp.retry_s, open=not fake)
    desk.keypad = role
    return role


def open_desk(cfg, on_close: list, *, serve: bool = True, keypad: bool = True):
    """The GPIO roles the config asks for (fake: with its control socket when ``serve``), and
    the USB keypad when ``keypad`` (opened, and looked for again while it is missing)."""
    from deskline.exc import HardwareError
    from deskline.hw.roles import DeskPins

    pins = DeskPins.from_config(cfg.hw)
    backend = _backend(cfg)
    if backend == "fake":
        from deskline.hw import fake

        desk = fake.open_desk(pins)
        if serve:
            path = os.environ.get("DESKLINE_FAKE_SOCKET") or os.path.join(_runtime_dir(cfg),
                                                                          fake.SOCKET_NAME)
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            server = fake.FakeDeskServer(desk, path)
            on_close.append(server.close)
            log.warning("fake desk (no GPIO): control socket %s", path)
    elif backend == "gpiozero":
        from deskline.hw import gpio

        desk = gpio.open_desk(pins, cfg.hw.pin_factory or None)
    else:
        raise HardwareError(f"unknown [hw] backend {backend!r} (gpiozero or fake)")
    on_close.append(desk.close)
    if keypad:
        role = open_keypad(cfg, desk, fake=keypad_is_fake(cfg))
        if role is not None:
            on_close.insert(0, role.close)
    return desk


_FOR_CHILD: tuple = ()  # (cfg, prepare, rate_hz): inherited by the forked helper, not pickled


def _assemble():
    """(In the helper process) the audio of the prepared phrases, as the queue keeps it (int16)."""
    from deskline.phrases.book import PhraseBook
    from deskline.phrases.queue import to_int16

    cfg, prepare, rate_hz = _FOR_CHILD
    book = PhraseBook.from_config(cfg)
    lang = cfg.desk_section.language
    out, errors = {}, {}
    for phrase, values in prepare:
        key = (phrase, tuple(sorted(values.items())), lang)
        try:
            out[key] = to_int16(book(phrase, dict(values), lang, rate_hz))
        except Exception as exc:  # reported by the service when it prepares that phrase
            errors[key] = f"{type(exc).__name__}: {exc}"
    return out, errors


class LazyBook:
    """The phrase book, loaded at its first use.

    The service plays the phrases prepared in the helper process; the book (recordings read
    with soundfile, about 4 MB resident with its imports) is needed only for a phrase that was
    not prepared, such as one from the phrase pad.
    """

    def __init__(self, cfg):
        self.cfg, self.book = cfg, None

    def __call__(self, phrase_id, values, lang, rate_hz):
        if self.book is None:
            from deskline.phrases.book import PhraseBook

            self.book = PhraseBook.from_config(self.cfg)
        return self.book(phrase_id, values, lang, rate_hz)


class PreparedPhrases:
    """The playback queue's audio source: phrases assembled beforehand, else the phrase book.

    Assembling the built-in phrases synthesises the hotline name (espeak-ng through pypinyin,
    whose dictionaries take about 60 MB); done in a short-lived child process, none of that
    stays resident in the service. Each prepared phrase is handed over once (the queue keeps
    its own copy) and then forgotten here.
    """

    def __init__(self, book, prepared: dict, errors: dict, rate_hz: int):
        self.book, self.prepared, self.errors, self.rate_hz = book, prepared, errors, rate_hz

    def __call__(self, phrase_id, values, lang, rate_hz):
        key = (phrase_id, tuple(sorted((values or {}).items())), lang)
        if rate_hz == self.rate_hz:
            if key in self.prepared:
                return self.prepared.pop(key)
            if key in self.errors:
                raise RuntimeError(self.errors.pop(key))
        return self.book(phrase_id, values, lang, rate_hz)


def prepared_phrases(cfg, prepare, rate_hz):
    """Assemble ``prepare`` in a forked child; falls back to this process if that fails."""
    import multiprocessing

    global _FOR_CHILD
    _FOR_CHILD = (cfg, prepare, rate_hz)
    try:
        with multiprocessing.get_context("fork").Pool(1) as pool:
            return pool.apply(_assemble)
    except Exception as exc:  # no fork here, or the child died: assemble as needed instead
        log.warning("could not assemble phrases in a helper process (%s); doing it here", exc)
        return {}, {}
    finally:
        _FOR_CHILD = ()


def open_recorder_for(cfg, on_close=None):
    """The live call recorder over the configured record, and its closer (``on_close(call_id)``
    when a call's record is complete: the floor link).

    A damaged record is set aside by the journal and a fresh one started (the desk keeps
    recording); that is said once here, in the log, beside the journal's own line.
    """
    from deskline.record.journal import Journal
    from deskline.record.recorder import CallRecorder

    journal = Journal(cfg.journal.path)
    if journal.set_aside:
        log.warning("recording into a fresh call record; the damaged one is kept as %s",
                    journal.set_aside)
    return CallRecorder(journal, source="live", profile=cfg.profile.name,
                        agent_no=cfg.desk.agent_no, dead_air_s=cfg.profile.dead_air_s,
                        on_close=on_close), journal.close


def floor_link(cfg):
    """The desk's link to the floor's broker when ``[floor]`` is set (not started), else None."""
    if not cfg.floor.enabled:
        return None
    from deskline.floor.link import link_from_config

    return link_from_config(cfg)     # unreadable credentials: ConfigError, one line


def keypad_prepare(cfg, values: dict) -> list:
    """The keypad's phrases that say the hotline name, with their values: assembling one
    synthesises the name, which is done before the first press rather than in the loop. (The
    others are one recording each and are read when pressed: all of them prepared would hold
    tens of MB of audio.)"""
    if not cfg.keypad.enabled:
        return []
    from deskline.call.controller import parse_pad_key
    from deskline.phrases.catalog import default_sounds_dir, load_catalog

    catalog = load_catalog(default_sounds_dir() / "catalog.toml")
    out = []
    for _, _, action in cfg.keypad.bindings():
        if action.startswith("phrase:"):
            pid, given = parse_pad_key(action)
            if pid in catalog and "hotline_name" in catalog[pid].fields:
                item = (pid, {**values, **given})
                if item not in out:
                    out.append(item)
    return out


def build(cfg):
    """Every part of the service from the configuration (hardware opened except the card)."""
    from deskline.call.controller import Controller
    from deskline.dsp.meter import meter_factory
    from deskline.call.edges import EdgeInterpreter
    from deskline.phrases.catalog import DESIGN_IDS, RATE_HZ
    from deskline.phrases.queue import PhraseQueue
    from deskline.live.sdnotify import Notifier, watchdog_interval_s
    from deskline.live.service import RecorderThread, ServiceParts
    from deskline.config import setting_error
    from deskline.exc import JournalError

    values = cfg.desk.template_values()
    # the phrases the controller asks for on its own, with the values it gives them
    prepare = [(pid, values if pid in ("greeting", "greeting_late") else {})
               for pid in DESIGN_IDS]
    # and the phrase pad's, with the desk's values as the controller gives them: the first
    # press then plays at once rather than assembling (and synthesising) in the loop
    prepare += [(pid, values) for pid in cfg.hw.phrase_keys if pid not in DESIGN_IDS]
    prepare += keypad_prepare(cfg, values)
    lang = cfg.desk_section.language
    card_rate = cfg.audio.rate_hz
    # phrases are kept at the recordings' own rate and brought to the card's as they play
    rate = min(card_rate, RATE_HZ) if card_rate else None
    # before any thread of ours exists: the helper process is a plain fork
    prepared, errors = prepared_phrases(cfg, prepare, rate) if rate else ({}, {})
    link = floor_link(cfg)      # None without [floor] (no socket); bad credentials: one line
    on_close: list = []
    desk = open_desk(cfg, on_close)
    try:
        source = PreparedPhrases(LazyBook(cfg), prepared, errors, rate)

        try:
            recorder = RecorderThread(lambda: open_recorder_for(
                cfg, on_close=link.call_closed if link else None))
        except JournalError as exc:
            # the record's place is a setting: exit 78 naming it, as for any setting
            raise setting_error(cfg, ("journal",), "path", str(exc)) from None
        on_close.append(lambda: recorder.finish(0.0))   # the service finishes it first
        if link is not None:
            link.start()
            on_close.append(link.close)   # after the record: the last call goes out too
        a = cfg.audio
        audio = open_audio_role(cfg)
        notifier = Notifier()
        on_close.append(notifier.close)
        return ServiceParts(
            desk=desk, audio=audio, controller=Controller(cfg.profile, cfg.desk),
            meter_factory=meter_factory(a.tone_plans),
            phrases=lambda rate: PhraseQueue(rate, source, lang=lang, store="int16",
                                             kept_rate_hz=min(rate, RATE_HZ)),
            recorder=recorder, notifier=notifier, edges=EdgeInterpreter.from_config(cfg.hw),
            watchdog_s=watchdog_interval_s(), analysis_s=a.block_s, prepare=prepare,
            on_close=on_close, sinks=[link] if link is not None else [])
    except BaseException:
        # in the order the service's shutdown uses (the fake desk's server reads the desk as
        # it closes); one failing closer does not hide the error that got us here
        for fn in on_close:
            try:
                fn()
            except Exception:
                log.exception("closing failed")
        raise


def run(args) -> int:
    from deskline.config import check_service, load_effective
    from deskline.live.service import Service

    # the service logs to stdout for journald: INFO, or DEBUG with -vv
    logging.basicConfig(level=logging.DEBUG if args.verbose > 1 else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stdout,
                        force=True)
    cfg = load_effective(args.config)        # ConfigError -> exit 78 with one line
    check_service(cfg)                       # likewise; the same checks as `config check`
    parts = build(cfg)                       # HardwareError (GPIO) -> exit 2 with one line
    service = Service(parts)
    for sink in parts.sinks:                 # the floor lead's acknowledgement: the LED says so
        if hasattr(sink, "on_ack"):
            from deskline.floor.link import ACK_CUE, ACK_CUE_S

            sink.on_ack = lambda alert_id: service.show_cue(ACK_CUE, ACK_CUE_S)
    return service.run()                     # HardwareError (card) -> exit 2 with one line
