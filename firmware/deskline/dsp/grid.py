"""The analysis grid every part of the line meter shares: narrowband telephone audio in 10 ms hops.

The meter decimates whatever the card delivers to ``RATE_HZ`` (DESIGN §5) and reports one
:class:`~deskline.dsp.state.LineState` per hop of ``HOP_SAMPLES``; the controller's timers, the
replay's clock and the call record count in these hops.
"""
#: samples per second of the analysed line (narrowband telephone audio)
RATE_HZ = 8000
#: samples per analysis hop
HOP_SAMPLES = 80
#: hops per second
HOPS_PER_S = RATE_HZ // HOP_SAMPLES
#: seconds per hop
HOP_S = HOP_SAMPLES / RATE_HZ
