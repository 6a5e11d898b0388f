"""
Brain encoding on the NSD-like simulator
========================================

Fixed Gabor features and a ridge encoder with a per-channel alpha
(:class:`cogmodels.encoders.RidgeCV`), fitted on simulated fMRI responses
(``nsd_sim``: drawn scenes, retinotopic and category ROIs, 3 repeats per image).
Each channel's test Pearson r is compared with the noise ceiling estimated from
the repeats and with the simulator's true ceiling.
"""

# %%
# Simulate one subject and extract features
# -----------------------------------------
# The simulator draws its scenes from a seed; ``image_size=128`` is the Gabor
# bank's own input size, so the encoder sees the generating features.
import matplotlib.pyplot as plt
import numpy as np

import cogmodels
from cogmodels.encoders import RidgeCV
from cogmodels.metrics import brain

ds = cogmodels.load_dataset("nsd_sim", subject="subj01", n_train=200, n_test=50, image_size=128,
                            channels_per_roi=6, progress=False)
backbone = cogmodels.create_backbone("gabor", layers=["complex"])
X = backbone.extract(ds.stimuli, progress=False)["complex"].flatten()     # (n_stimuli, n_features)
Y = ds.responses.responses                                                  # (n_stimuli, n_channels)
train = [ds.stimuli.position(s) for s in ds.splits["train"]]
test = [ds.stimuli.position(s) for s in ds.splits["test"]]
print(f"X {X.shape}, Y {Y.shape}, {len(train)} train / {len(test)} test images")

# %%
# Fit, predict, score against the ceilings
# ----------------------------------------
encoder = RidgeCV(alphas=np.logspace(-1, 5, 7), cv=5).fit(X[train], Y[train])
r = brain.pearson_r(Y[test], encoder.predict(X[test]))                       # (n_channels,)
ceiling_r = np.sqrt(brain.noise_ceiling(ds.responses.repeats))               # estimated from the repeats
true_r = np.sqrt(ds.ground_truth["noise_ceiling"])

rois = [labels[0] for labels in ds.responses.channels["rois"]]
fig, ax = plt.subplots(figsize=(5, 4.5))
for roi in sorted(set(rois)):
    mask = np.array([x == roi for x in rois])
    ax.scatter(true_r[mask], r[mask], s=12, label=roi)
ax.plot([0, 1], [0, 1], "k--", lw=1)
ax.set(xlabel="true ceiling r (simulator)", ylabel="test r (ridge on Gabor features)", xlim=(0, 1), ylim=(-0.2, 1))
ax.legend(fontsize=7, ncol=2)
print(f"median test r {np.nanmedian(r):.2f}; median estimated ceiling r {np.nanmedian(ceiling_r):.2f}")
