"""
Visual search asymmetry with eccNET
===================================

eccNET (Gupta et al., NeurIPS 2021): eccentricity-dependent pooling, top-down
modulation by the target's features, winner-take-all with inhibition of return.
Here on the fixed Gabor pyramid (no weights) and one of the six asymmetry
paradigms (``lighting``: a top-lit among bottom-lit discs and the reverse).
The number of fixations to the target grows with set size; the asymmetry index
compares the slopes of the two conditions
(:func:`cogmodels.metrics.search.slopes`, :func:`cogmodels.metrics.search.asymmetry_index`).
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

import cogmodels
from cogmodels.metrics import search

ds = cogmodels.load_dataset("search_asymmetry", paradigms=["lighting"], trials_per_condition=3)
searcher = cogmodels.create_model("search", "eccnet", backbone="gabor", max_fixations=30)
results = [searcher.search(trial) for trial in ds.trials]
n_fix = np.array([r.n_fixations for r in results], dtype=float)
sizes = np.array([t.set_size for t in ds.trials])
conditions = np.array([t.condition for t in ds.trials])
slopes = search.slopes(n_fix, sizes, conditions)
print("fixations per item:", {str(c): round(float(s), 3) for c, s in slopes.items()})

# %%
# The search of the largest display of each condition
fig, axes = plt.subplots(1, 2, figsize=(9, 4.5))
for ax, condition in zip(axes, sorted(set(conditions))):
    i = max(np.flatnonzero(conditions == condition), key=lambda k: sizes[k])
    fixations = np.asarray(results[i].fixations)
    ax.imshow(ds.trials[i].search_image)
    ax.plot(fixations[:, 0], fixations[:, 1], "o-", color="tab:red", ms=4)
    ax.set(title=f"{condition}, set size {sizes[i]}: {results[i].n_fixations} fixations", xticks=[], yticks=[])
