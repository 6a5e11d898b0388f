"""
NevaClip: fixations by gradient search on a foveated image
==========================================================

NevaClip / NeVA (2023-24) chooses each fixation by a gradient search for the
fovea position whose foveated image best matches a task embedding (free viewing
here), with a memory of the past fixations.  It is zero-shot: no fitting.  The
default encoder is the fixed Gabor bank (no weights); an open_clip model can be
loaded from a local file.
"""

# %%
import matplotlib.pyplot as plt

import cogmodels

scene = cogmodels.load_dataset("nsd_sim", n_train=20, n_test=4, image_size=128, channels_per_roi=2,
                               progress=False).stimuli[0].image
model = cogmodels.create_model("scanpath", "nevaclip", image_size=64, steps=5, n_fixations=5,
                               density_grid=(6, 6), seed=0)
paths = model.sample(scene, n=3, seed=0)
density = model.density(scene)                      # (H, W) probability map

fig, axes = plt.subplots(1, 2, figsize=(8, 3.8))
axes[0].imshow(scene)
for p in paths:
    axes[0].plot(p.x, p.y, "o-", ms=4)
axes[0].set_title("three sampled scanpaths")
axes[1].imshow(density, cmap="magma")
axes[1].set_title("density (from the loss landscape)")
for ax in axes:
    ax.set(xticks=[], yticks=[])
