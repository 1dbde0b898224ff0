"""What a stand-in line meter needs for the engine's two-tap feed."""


class NoNetworkSteps:
    """``feed_steps`` and ``flush_steps`` of a stand-in meter that asks nothing of the speech
    network: its ``feed_all`` and ``flush`` as generators that yield no request."""

    def feed_steps(self, x):
        return self.feed_all(x)
        yield

    def flush_steps(self):
        return self.flush()
        yield
