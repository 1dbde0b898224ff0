"""The phrase catalog, its recordings and the playback queue."""
