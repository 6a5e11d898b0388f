"""
OAT: object-level scanpaths on the object-search simulator
==========================================================

The object-level attention transformer (OAT, ECCV 2024) reads object tokens and
the search target and emits a sequence of fixated objects.  It is trained on the
train displays of the object-search simulator (``object_search_sim``: shelves of
drawn objects, a seeded searcher gives the ground-truth scanpaths) and sampled on
a test display, beside a simulated searcher's scanpath.
"""

# %%
import matplotlib.pyplot as plt

import cogmodels

sim = cogmodels.load_dataset("object_search_sim", n_displays=24, n_subjects=4, grid=(2, 4), cell=48, seed=0)
train = sim.fixations.subset(stimulus_ids=sim.splits["train"])
model = cogmodels.create_model("scanpath", "oat", grid=sim.meta["grid"], pe_grid=sim.meta["grid"], d_model=32,
                               d_position=8, n_heads=2, n_encoder_layers=1, n_decoder_layers=1,
                               dim_feedforward=64, epochs=20, density_samples=20, progress=False, seed=0)
model.fit(train, sim.stimuli)

# %%
# Sample three scanpaths on a test display (x, y in pixels, durations in ms)
stimulus = sim.stimuli[sim.splits["test"][0]]
paths = model.sample(stimulus, n=3, seed=0)
human = [p for p in sim.fixations.to_scanpaths() if p.stimulus_id == stimulus.id][0]

fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
for ax, shown, title in ((axes[0], [human], "simulated searcher"), (axes[1], paths, "OAT samples")):
    ax.imshow(stimulus.image)
    for p in shown:
        ax.plot(p.x, p.y, "o-", ms=4, lw=1.2)
    ax.set(title=title, xticks=[], yticks=[])
print([len(p) for p in paths], "fixations per sampled scanpath")
