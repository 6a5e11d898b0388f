"""Tasks: what one run computes, registered by name (config key ``task``), one module per task.

- :mod:`.base`: the task contract (:class:`RunContext`, :class:`TaskOutput`, the
  :data:`TASKS` registry) and helpers shared by the brain tasks;
- :mod:`.encode`: ``encode``, brain encoding per backbone layer;
- :mod:`.fit_subject`: ``fit_subject``, a multi-subject routing transformer
  transferred to a new subject, against a from-scratch fit;
- :mod:`.scanpath`: ``scanpath``, a scanpath model (or the human ceiling) on held-out images.

A new task is a new module here registering ``@TASKS.register("<name>")``
(see :mod:`.base`); the package's modules are imported on the first lookup.
"""

from cogmodels.runner.tasks.base import (  # noqa: F401  (the contract, re-exported)
    INPUT_KINDS, TASKS, RunContext, TaskOutput, accuracy_items, ceiling_outputs, channel_items,
    estimated_noise_ceiling, fit_head, head_input, input_kind, load_brain_dataset, metric_rows, predict_head,
    split_rows, true_ceilings, weights_statement)

__all__ = ["INPUT_KINDS", "TASKS", "RunContext", "TaskOutput"]
