"""
Representational similarity analysis
====================================

Representational dissimilarity matrices (:func:`cogmodels.metrics.rsa.rdm`) of
Gabor features and of simulated fMRI responses in two ROIs, compared with the
Spearman correlation of their upper triangles (:func:`cogmodels.metrics.rsa.compare`),
beside the Nili et al. (2014) noise ceiling of the repeats
(:func:`cogmodels.metrics.rsa.noise_ceiling`).
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

import cogmodels
from cogmodels.metrics import rsa

ds = cogmodels.load_dataset("nsd_sim", n_train=60, n_test=40, image_size=128, channels_per_roi=6, progress=False)
features = cogmodels.create_backbone("gabor", layers=["complex"]).extract(ds.stimuli, progress=False)["complex"]
model_rdm = rsa.rdm(features.flatten(), metric="correlation")               # (n_stimuli, n_stimuli)

# %%
# One brain RDM per ROI; the repeats give one RDM each, hence a noise ceiling
responses = ds.responses
scores = {}
fig, axes = plt.subplots(1, 3, figsize=(10, 3.4))
axes[0].imshow(model_rdm, cmap="viridis")
axes[0].set_title("Gabor features")
for ax, roi in zip(axes[1:], ["V1", "FFA"]):
    mask = responses.roi_mask(roi)
    brain_rdm = rsa.rdm(responses.responses[:, mask])
    repeat_rdms = np.stack([rsa.rdm(rep[:, mask]) for rep in np.moveaxis(responses.repeats, 1, 0)])
    lower, upper = rsa.noise_ceiling(repeat_rdms, method="spearman")
    scores[roi] = rsa.compare(model_rdm, brain_rdm, method="spearman")
    ax.imshow(brain_rdm, cmap="viridis")
    ax.set_title(f"{roi}: rho {scores[roi]:.2f} (ceiling {lower:.2f}-{upper:.2f})", fontsize=9)
for ax in axes:
    ax.set(xticks=[], yticks=[])
print(scores)
