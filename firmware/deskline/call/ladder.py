"""The prompt ladders of the service standard as data: which phrase follows which, and why.

A ladder is a run of device prompts that ends in releasing the line. Each step waits for its
time, then (for a phrase) for a pause in the conversation; the next step is armed when the
phrase's playback ends (``PhraseDone``). Times below are the ``standard`` profile's
(``gov``: 3 s for the silent ladder, 2 s elsewhere).

Silent call (seed 000 item 2, 003 item 3)::

    greeting ▕▔▔▔▏ 5 s no caller speech ▕greeting_repeat▏ 5 s ▕no_sound_goodbye▏ 5 s ▶ release
              end ──────────────────────▶            end ───▶               end ───▶
    caller speech (≥ speech_confirm_s) before either prompt → ladder over, call goes on.

Quiet caller (seed 000 item 4; ``gov``: speak_louder twice, seed 001 item 8)::

    quiet speech ≥ quiet_min_speech_s ─pause─▶ ▕speak_louder▏ fresh hearing; still quiet
    ─pause─▶ ▕switch_phone_quiet▏ 5 s ▶ release

Noisy line (seed 000 item 5; ``gov``: speak_louder twice first, seed 001 item 6)::

    noisy speech ≥ noisy_min_speech_s ─pause─▶ ▕too_noisy_goodbye▏ 5 s ▶ release

Caller stays on after the agent's goodbye (seed 000 item 34)::

    ▕goodbye▏ 5 s caller silent ▕anything_else▏ 5 s caller silent ▕hanging_up▏ 5 s ▶ release
    (caller speech restarts the silence; agent speech or a key ends the ladder)

In every ladder an agent who speaks (transmit tap) or presses a key cancels the pending step and
the ladder stops: the agent has taken the call over.
"""
from __future__ import annotations

from dataclasses import dataclass

from deskline.call.profile import Profile

#: Phrase priorities: a playing phrase is never cut by one of lower or equal priority.
PRIORITY_LADDER = 1   # device prompts of the ladders
PRIORITY_GREETING = 2  # the automatic greeting on off-hook
PRIORITY_KEY = 3       # anything the agent asked for with a key

RELEASE = "release"


@dataclass(frozen=True, slots=True)
class Step:
    """One pending ladder step: a phrase (or :data:`RELEASE`) due ``wait_s`` after ``base_t_s``.

    ``silence_restarts``: caller speech moves the start to the end of that speech (the closing
    ladder waits for ``wait_s`` of caller silence). ``needs_pause``: a phrase waits for
    ``min_pause_s`` without speech on the line.
    """

    ladder: str      # "silent" | "quiet" | "noisy" | "closing"
    stage: int
    action: str      # a phrase id or RELEASE
    base_t_s: float
    wait_s: float
    silence_restarts: bool = False
    needs_pause: bool = True
    cancel_on_caller: bool = False  # caller speech ends the ladder (silent-call ladder)


def silent_steps(profile: Profile) -> tuple[str, ...]:
    """Phrases of the silent-call ladder, in order, before the release."""
    return ("greeting_repeat", "no_sound_goodbye")


def quiet_steps(profile: Profile) -> tuple[str, ...]:
    """Phrases of the quiet-caller ladder: ``speak_louder`` × N, then ``switch_phone_quiet``."""
    return ("speak_louder",) * profile.quiet_louder_count + ("switch_phone_quiet",)


def noisy_steps(profile: Profile) -> tuple[str, ...]:
    """Phrases of the noisy-line ladder: ``speak_louder`` × N, then ``too_noisy_goodbye``."""
    return ("speak_louder",) * profile.noisy_louder_count + ("too_noisy_goodbye",)


def closing_steps(profile: Profile) -> tuple[str, ...]:
    """Phrases after the agent's goodbye when the caller stays on the line."""
    return ("anything_else", "hanging_up")
