"""
DiffEye: diffusion over raw gaze trajectories
=============================================

DiffEye (NeurIPS 2025) is a DDPM over raw gaze trajectories conditioned on image
patch features through the Corresponding Positional Embedding.  A tiny model is
trained here on trajectories synthesised from the object-search simulator's
fixations, then sampled with DDIM; fixations are detected in the sampled
trajectories (I-VT).
"""

# %%
import matplotlib.pyplot as plt

import cogmodels
from cogmodels.scanpaths import SCANPATH_MODELS

sim = cogmodels.load_dataset("object_search_sim", n_displays=16, n_subjects=3, grid=(2, 4), cell=48, seed=0)
train = sim.fixations.subset(stimulus_ids=sim.splits["train"])
params = {**SCANPATH_MODELS.example("diffeye"), "epochs": 80, "duration_ms": 1600.0, "seed": 0}  # small and fast
model = cogmodels.create_model("scanpath", "diffeye", **params).fit(train, sim.stimuli)

# %%
stimulus = sim.stimuli[sim.splits["test"][0]]
paths = model.sample(stimulus, n=4, seed=0)
fig, ax = plt.subplots(figsize=(6, 3))
ax.imshow(stimulus.image)
for p in paths:
    ax.plot(p.x, p.y, "o-", ms=4, lw=1)
ax.set(title="DiffEye samples (fixations detected in the sampled trajectories)", xticks=[], yticks=[])
print([len(p) for p in paths], "fixations per sampled scanpath")
