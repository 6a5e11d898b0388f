"""Metrics: pure functions returning one value per item (channel, scanpath pair, trial).

One module each, imported on demand (``from cogmodels.metrics import brain, rsa, gaze, saliency``):
``brain`` (encoding accuracy, noise ceilings), ``rsa`` (RDMs, their comparison, noise ceiling and
stimulus bootstrap), ``gaze`` (scanpath similarity), ``saliency`` (fixation-map metrics).
"""
