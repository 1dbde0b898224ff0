"""The call controller: events in, actions out, time given. Pure; no clocks, no hardware."""
