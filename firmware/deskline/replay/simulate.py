"""``deskline simulate`` wiring: the project's meter, controller, phrase book and call record
around the replay engine (:mod:`deskline.replay.driver`), with the configuration in force.

- :func:`book_playback`: the phrase book's phrases on the replay's clock (each plays for the
  length of its assembled audio);
- :func:`simulate_samples` / :func:`simulate_file`: replay samples or a recording (+ events);
- :func:`with_example_desk`: a desk to greet with when no hotline and no agent are configured.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import numpy as np

from deskline.replay.driver import RecordingPlayback, Replay, ReplayResult

log = logging.getLogger(__name__)

#: Rate the phrase book assembles phrases at for a replay: their lengths, to 1/8000 s.
SIM_RATE_HZ = 8000


@dataclass
class Simulation:
    """A finished ``simulate`` run: the replay result, the call record, a title line."""

    result: ReplayResult
    summary: dict
    title: str
    records: list[dict] = field(default_factory=list)


def simulate_samples(rx: np.ndarray, *, rate_hz: int, tx: np.ndarray | None = None,
                     events: Iterable | None = None, config=None, journal=None,
                     source: str = "replay", keep_trace: bool = False, sinks=(),
                     on_call_closed=None) -> tuple[ReplayResult, list]:
    """Replay samples with the configured controller; returns the result and the call records.

    ``config`` is a :class:`deskline.config.Config` (None: built-in defaults); ``journal`` a
    :class:`deskline.record.journal.Journal` (None: an in-memory one, thrown away); ``sinks``
    follow the desk as well (the floor link), ``on_call_closed(call id)`` hears of each call
    the record closed.
    """
    from deskline.replay.driver import ArraySource
    return _simulate(ArraySource(rx, tx), rate_hz=rate_hz, events=events, config=config,
                     journal=journal, source=source, keep_trace=keep_trace, sinks=sinks,
                     on_call_closed=on_call_closed)


def _simulate(audio, *, rate_hz: int, events, config, journal, source: str,
              keep_trace: bool, sinks=(), on_call_closed=None) -> tuple[ReplayResult, list]:
    from deskline.config import HwConfig
    from deskline.dsp.meter import meter_factory
    from deskline.record.journal import Journal
    from deskline.call.edges import EdgeInterpreter
    from deskline.record.recorder import CallRecorder

    controller, playback, profile_name = _controller_and_playback(config)
    own_journal = journal is None
    if own_journal:
        journal = Journal(":memory:")
    try:
        recorder = CallRecorder(journal, source=source, profile=profile_name,
                                agent_no=controller.desk.agent_no,
                                dead_air_s=controller.profile.dead_air_s,
                                on_close=on_call_closed)
        plans = config.audio.tone_plans if config is not None else None
        hw = config.hw if config is not None else HwConfig()
        engine = Replay(controller=controller, playback=playback, meter_factory=meter_factory(plans),
                        recorder=recorder, keep_trace=keep_trace, settle_s=EdgeInterpreter.from_config(hw).settle_s,
                        sinks=sinks)
        result = engine.run_source(audio, rate_hz=rate_hz, events=events)
        records = [journal.call(i) for i in result.call_ids]
    finally:
        if own_journal:
            journal.close()
    return result, records


def simulate_file(wav_path, *, events_path=None, config_path=None, journal_path=None,
                  keep_trace: bool = False) -> Simulation:
    """``deskline simulate``: read the recording, events and config; replay; record the call."""
    from deskline.recordings.audiofile import AudioStream, check_line_rate
    from deskline.replay.eventsfile import clip_to, load_events
    from deskline.exc import AudioFileError
    from deskline.record.journal import Journal

    config = _load_config(config_path)
    with AudioStream(wav_path) as recording:
        check_line_rate(recording.path, recording.rate_hz)
        if recording.channels > 2:
            raise AudioFileError(f"{recording.path}: {recording.channels} channels; a call is "
                                 "mono (receive) or stereo (receive, transmit)")
        events = load_events(events_path) if events_path else None
        if events:
            events, note = clip_to(events, recording.duration_s, source=os.fspath(events_path))
            if note:
                log.warning("%s", note)
        journal = Journal(journal_path) if journal_path else None
        try:
            # read a block at a time: a recording of a whole shift is never held whole
            result, records = _simulate(_StreamSource(recording), rate_hz=recording.rate_hz,
                                        events=events, config=config, journal=journal,
                                        source=os.path.abspath(recording.path),
                                        keep_trace=keep_trace)
        finally:
            if journal is not None:
                journal.close()
    layout = "stereo (receive, transmit)" if recording.channels == 2 else "mono (receive)"
    desk = config.desk
    title = (f"{recording.path}: {recording.duration_s:.2f} s, {recording.rate_hz} Hz, {layout}; "
             f"profile {config.profile.name}; desk {desk.hotline_name} agent {desk.agent_no}"
             + (" (example desk: no [desk] configured)" if desk.agent_no == EXAMPLE_AGENT_NO
                and desk.hotline_name == EXAMPLE_HOTLINE_NAME else ""))
    summary = records[-1] if len(records) == 1 else {"calls": records}
    if not records:
        summary = {}
    return Simulation(result, summary, title, records)


class _StreamSource:
    """A recording's receive (and transmit) channels, decoded a block at a time."""

    def __init__(self, stream):
        self.stream = stream
        self.frames = stream.frames
        self.stereo = stream.channels == 2

    def read(self, n: int):
        block = self.stream.read(n)
        rx = np.ascontiguousarray(block[:, 0])
        return rx, (np.ascontiguousarray(block[:, 1]) if self.stereo else None)


#: The example desk a replay uses when the configuration names no hotline and no agent.
EXAMPLE_HOTLINE_NAME = "12385热线"
EXAMPLE_HOTLINE_NAME_EN = "the 12385 hotline"
EXAMPLE_AGENT_NO = "1001"


def example_phrases_dir() -> str:
    """The override directory holding the example desk's recorded hotline name."""
    from importlib import resources
    return str(resources.files("deskline") / "data" / "demo" / "phrases")


def with_example_desk(config):
    """``config`` with the example desk's name and number where it has none (else unchanged).

    The greeting needs a hotline name and an agent number; a replay on a machine with no
    desk configured uses the example desk's (and its recorded name) rather than failing.
    """
    from dataclasses import replace
    d = config.desk_section
    if d.hotline_name or d.agent_no:
        return config
    desk = replace(d, hotline_name=EXAMPLE_HOTLINE_NAME, hotline_name_en=EXAMPLE_HOTLINE_NAME_EN,
                   agent_no=EXAMPLE_AGENT_NO)
    phrases = config.phrases
    if not phrases.dir:
        phrases = replace(phrases, dir=example_phrases_dir())
    return replace(config, desk_section=desk, phrases=phrases)


def _load_config(path):
    """The configuration in force (``path``, ``$DESKLINE_CONFIG``, /etc/deskline, built-in)."""
    from deskline.config import load_effective
    return with_example_desk(load_effective(path, system_optional=True))


def _controller_and_playback(config):
    """The controller for the config's profile and desk, and the phrase book's playback."""
    from deskline.call.controller import Controller
    from deskline.config import Config
    if config is None:
        config = with_example_desk(Config.default())
    profile, desk = config.profile, config.desk
    return Controller(profile, desk), _playback_for(config, desk), profile.name


_BOOKS: dict = {}


def _playback_for(config, desk) -> RecordingPlayback:
    """The phrase book's phrases on the replay's clock (books are kept: loading is slow)."""
    from deskline.phrases.book import PhraseBook
    from deskline.phrases.queue import PhraseQueue
    key = (config.phrases.dir, desk.language, desk.hotline_name, desk.hotline_name_en, desk.agent_no)
    book = _BOOKS.get(key)
    if book is None:
        book = PhraseBook(override_dir=config.phrases.dir or None, lang=desk.language,
                          hotline_name=desk.hotline_name, hotline_name_en=desk.hotline_name_en,
                          agent_no=desk.agent_no or None)
        _BOOKS[key] = book
    return book_playback(PhraseQueue(SIM_RATE_HZ, book, lang=desk.language),
                         fields_of=lambda phrase: book.catalog[phrase].fields)


def book_playback(queue, *, fields_of: Callable[[str], Sequence[str]] | None = None
                  ) -> RecordingPlayback:
    """A :class:`~deskline.replay.driver.RecordingPlayback` whose phrases last as long as the
    phrase queue's assembled audio (assembled once per phrase and values, then kept).

    The controller gives every greeting-like phrase the desk's values; a phrase takes only the
    fields its catalog entry names (``fields_of``), as the phrase book would.
    """
    def length_s(phrase: str, values) -> float:
        values = dict(values)
        if fields_of is not None:
            wanted = set(fields_of(phrase))
            values = {k: v for k, v in values.items() if k in wanted}
        return queue.duration_s(phrase, values)

    return RecordingPlayback(length_s)
