"""The worst bug: a quality prompt to a caller who is fine. Over 30 minutes of ordinary calls
(real speech at ordinary levels, real background noise, the agent on the transmit tap with
sidetone on half of them, and half of those with the line's hybrid echo of the agent; standard and gov profiles in turn) the device must never ask to
speak louder, to switch phones, to pick up the handset, or say the line is too noisy."""
import numpy as np

from deskline.call.events import Hook, Key, Ring
from deskline.recordings.callmix import CallBuilder, line_echo
from scenario_kit import QUALITY_PROMPTS, greeting_s, noise, replay, speech

CALLER_CLIPS = ["silero_test.wav", "speechbrain_vad_valid.wav", "ami_pyannote_dev00.wav",
                "aishell1_BAC009S0724W0121.wav", "aishell1_BAC009S0764W0121.wav",
                "aishell1_BAC009S0764W0143.wav", "ami_ES2011a_headset0_40-46s.wav",
                "ljspeech_LJ002-0020.wav", "webrtcvad_leak_test_8k.wav",
                "cmu_arctic_us_axb_a0004.wav"]
AGENT_CLIPS = ["cmu_arctic_us_aew_a0001.wav", "cmu_arctic_us_axb_a0004.wav",
               "ljspeech_LJ002-0020.wav", "aishell1_BAC009S0724W0121.wav"]
NOISES = ["freesound_cafe.wav", "freesound_fridge.wav", "freesound_traffic.wav",
          "speechcommands_doing_the_dishes_20s.wav", "speechcommands_exercise_bike_20s.wav",
          "speechbrain_noise1.wav"]

CALLS = 20
CALL_S = 95.0


def _speech_onset(x: np.ndarray, level_dbov: float) -> int:
    """Sample index of the first 10 ms within 20 dB of the speech level."""
    hops = x[: x.size // 80 * 80].reshape(-1, 80)
    loud = np.flatnonzero(10 * np.log10(np.mean(hops ** 2, axis=1) + 1e-20) > level_dbov - 20.0)
    return int(loud[0]) * 80 if loud.size else 0


def ordinary_call(rng: np.random.Generator) -> CallBuilder:
    """One ordinary call: caller at -31..-19 dBov, background 20-35 dB below, turns with pauses."""
    level = float(rng.uniform(-31.0, -19.0))
    snr = float(rng.uniform(20.0, 35.0))
    b = CallBuilder(CALL_S)
    b.background(noise(NOISES[rng.integers(len(NOISES))]), level - snr, rng=rng)
    rings = int(rng.integers(1, 4))
    for i in range(rings):
        b.event(Ring(4.0 * i))
    answer = 4.0 * (rings - 1) + float(rng.uniform(1.0, 3.0))
    b.event(Hook(answer, True))
    with_agent = bool(rng.integers(2))
    replied = False
    # half the handset callers' lines return the agent's voice as one short hybrid echo
    hybrid = (line_echo(rng, delay_s=float(rng.uniform(0.01, 0.3)),
                        gain_db=float(rng.uniform(-25.0, -8.0))) if rng.random() < 0.5 else None)
    t = answer + float(rng.uniform(1.0, 3.0))       # "hello?" over the greeting, then turns
    greeting_end = answer + greeting_s()             # the recording's own length
    while t < CALL_S - 15.0:
        clip = speech(CALLER_CLIPS[rng.integers(len(CALLER_CLIPS))], level)
        seg_s = float(rng.uniform(2.0, 9.0))
        first_reply = greeting_end <= t and not replied
        if t < greeting_end:                         # stops talking when the greeting ends
            seg_s = min(seg_s, greeting_end - t)
        a = int(rng.integers(0, max(1, clip.size - int(seg_s * 8000))))
        seg = clip[a:a + int(seg_s * 8000)]
        if first_reply:                              # answers the greeting with words, not a pause
            seg, replied = seg[_speech_onset(seg, level):], True
        t = b.caller(seg, t) + float(rng.uniform(0.3, 2.5))
        if with_agent and rng.random() < 0.6:
            ag = speech(AGENT_CLIPS[rng.integers(len(AGENT_CLIPS))], float(rng.uniform(-26, -20)))
            t = b.agent(ag, t, sidetone_db=float(rng.uniform(-24, -14)),
                        echo_ir=hybrid) + float(rng.uniform(0.3, 1.5))
    b.event(Key(t + 0.5, "goodbye"))
    b.event(Hook(min(CALL_S - 0.1, t + 6.0), False))
    return b


def test_thirty_minutes_of_ordinary_calls_get_no_quality_prompt():
    rng = np.random.default_rng(20240611)
    total_s = 0.0
    prompted = []
    repeats = 0
    for n in range(CALLS):
        # every other call on the gov profile (its noisy ladder asks "speak louder" first)
        out = replay(ordinary_call(rng), profile="gov" if n % 2 else "standard")
        total_s += CALL_S
        prompted += [(n, p, round(t, 2)) for p, t in out.quality_prompts()]
        repeats += out.phrases().count("greeting_repeat")
        assert not out.record["quiet"] and not out.record["noisy"], (n, out.record)
    assert total_s >= 30 * 60
    assert prompted == [], f"quality prompts on ordinary calls: {prompted}"
    assert repeats == 0
