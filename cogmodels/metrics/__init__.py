"""Metrics: pure functions returning one value per item (channel, scanpath pair, trial)."""
