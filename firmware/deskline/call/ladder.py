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
    (caller speech before "anything else?" restarts the silence; a caller who answers
    "anything else?" or "I'm hanging up" has more to say: the ladder ends, the call is back in
    talk until the agent closes it again)

In every ladder an agent who speaks (transmit tap) or presses a key cancels the pending step and
the ladder stops: the agent has taken the call over. No ladder releases the line while the
caller speaks, nor within ``release_quiet_s`` (5 s) after the caller last spoke; the silent and
closing ladders, whose callers were asked and did not answer, end instead when the caller does
answer before the release.

Wording: profile ``gov`` speaks seed 001's words (:data:`WORDINGS`): "您好，您的电话已接通，请讲！",
"对不起，听不到您的声音…", "对不起，我听不清您的声音，麻烦您声音大一点，好吗？" (twice), "请问您还需要什么帮助吗？",
"请您稍后挂机，并进行评价，谢谢！", "感谢您的耐心等待！".
"""
from __future__ import annotations

from dataclasses import dataclass

from deskline.call.profile import Profile

#: Phrase priorities: a playing phrase is never cut by one of lower or equal priority.
PRIORITY_LADDER = 1   # device prompts of the ladders
PRIORITY_GREETING = 2  # the automatic greeting on off-hook
PRIORITY_KEY = 3       # anything the agent asked for with a key

RELEASE = "release"

#: Phrase ids a wording speaks in place of the standard ones (catalog ``variant_of``); the
#: ids not listed keep their standard phrase ("我挂线了" has no seed 001 wording).
WORDINGS: dict[str, dict[str, str]] = {
    "standard": {},
    "gov": {
        "greeting_repeat": "greeting_repeat_gov",        # 001 cc5
        "no_sound_goodbye": "no_sound_goodbye_gov",      # 001 cc5
        "speak_louder": "speak_louder_gov",              # 001 cc6, cc8
        "switch_phone_quiet": "switch_phone_quiet_gov",  # 001 cc8
        "too_noisy_goodbye": "too_noisy_goodbye_gov",    # 001 cc6
        "anything_else": "anything_else_gov",            # 001 cc2
        "goodbye": "goodbye_gov",                        # 001 cc3
        "hold_resume": "hold_resume_thanks",             # 001 cc15 "感谢您的耐心等待！"
    },
}


def worded(profile: Profile, phrase: str) -> str:
    """The phrase ``profile``'s wording says for the standard phrase id ``phrase``."""
    return WORDINGS.get(profile.wording, {}).get(phrase, phrase)


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
    return tuple(worded(profile, p) for p in ("greeting_repeat", "no_sound_goodbye"))


def quiet_steps(profile: Profile) -> tuple[str, ...]:
    """Phrases of the quiet-caller ladder: ``speak_louder`` × N, then ``switch_phone_quiet``."""
    return tuple(worded(profile, p) for p in
                 ("speak_louder",) * profile.quiet_louder_count + ("switch_phone_quiet",))


def noisy_steps(profile: Profile) -> tuple[str, ...]:
    """Phrases of the noisy-line ladder: ``speak_louder`` × N, then ``too_noisy_goodbye``."""
    return tuple(worded(profile, p) for p in
                 ("speak_louder",) * profile.noisy_louder_count + ("too_noisy_goodbye",))


def closing_steps(profile: Profile) -> tuple[str, ...]:
    """Phrases after the agent's goodbye when the caller stays on the line."""
    return tuple(worded(profile, p) for p in ("anything_else", "hanging_up"))
