"""Metrics: pure functions returning one value per item (channel, scanpath pair, trial).

One module each, imported on demand (``from cogmodels.metrics import brain, rsa, gaze, saliency, search``):
``brain`` (encoding accuracy, noise ceilings), ``rsa`` (RDMs, their comparison, noise ceiling and
stimulus bootstrap), ``gaze`` (scanpath similarity), ``saliency`` (fixation-map metrics),
``search`` (visual-search asymmetry: fixations to target, RT map, slopes, asymmetry indices).
"""
