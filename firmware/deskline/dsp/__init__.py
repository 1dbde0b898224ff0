"""Pure signal analysis of the telephone line: levels, speech activity, noise, tones.

Nothing in this package reads a clock, sleeps, starts threads or touches hardware; time is
always an argument (sample counts on the audio clock).
"""
