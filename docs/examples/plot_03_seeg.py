"""
SEEG: where vision and language integrate
=========================================

The analysis of Subramaniam et al. (2024) on the SEEG simulator (``seeg_sim``: a
BIDS iEEG study of image-caption events with planted vision, language,
integration and noise sites, read back through the ``bids_ieeg`` loader).  One
ridge per electrode and time bin (:mod:`cogmodels.encoders.time_resolved`) for
vision, language, concatenated and multimodal features; bootstrap CIs shared by
every model; an electrode is an *integration site* when the multimodal model
beats every unimodal model and their concatenation (BH-FDR).
"""

# %%
# Simulate one subject (written as BIDS, then loaded like a real recording)
# -------------------------------------------------------------------------
import tempfile

import matplotlib.pyplot as plt
import numpy as np

import cogmodels
from cogmodels.runner.tasks.seeg import analyse

root = tempfile.mkdtemp(prefix="seeg_sim_")
ds = cogmodels.load_dataset("seeg_sim", root=root, n_subjects=1, n_events=120, n_pretrain=200, tmin=-0.4, tmax=2.0)
print(ds.responses.responses.shape, "(events, electrodes, time bins)")

# %%
# Time-resolved encoding of every feature set, then the site labels
# -----------------------------------------------------------------
result = analyse(ds, {"n_boot": 100, "vl": {"epochs": 100}}, seed=0)
labels = result["sites"]["label"]
truth = np.asarray(ds.ground_truth["classes"])
print("planted integration sites:", int((truth == "integration").sum()),
      "found:", int((labels == "integration").sum()),
      "of which planted:", int(((labels == "integration") & (truth == "integration")).sum()))

# %%
# The test r over time at one planted integration site
scores = result["scores"]
site = int(np.flatnonzero(truth == "integration")[0])
fig, ax = plt.subplots(figsize=(6, 3.5))
for model in ("vision", "language", "concat", "multimodal"):
    ax.plot(scores.times, scores.r[model][site], label=model)
    ax.fill_between(scores.times, scores.low[model][site], scores.high[model][site], alpha=0.15)
ax.axhline(0, color="k", lw=0.5)
ax.set(xlabel="time after image onset (s)", ylabel="test r",
       title=f"electrode {site}: planted {truth[site]}, labelled {labels[site]}")
ax.legend(fontsize=8)
