"""The live desk: the service loop that drives the engine from the sound card and GPIO."""
