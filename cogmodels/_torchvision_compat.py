"""Conditional compatibility shim for a torchvision build that does not match torch.

On CPU machines the only torchvision on PyPI pinned to torch 2.13.0 is a CUDA
build.  Its compiled ops fail to load next to the CPU torch, and its
``_meta_registrations`` then dies with ``operator torchvision::nms does not
exist`` because it registers fake kernels for ``nms``/``qnms`` without
checking that the ops exist.  timm imports torchvision, so timm would fail too.

:func:`import_torchvision` imports torchvision normally.  Only when exactly
that error occurs does it define the missing op schemas (no kernels: calling
``torchvision.ops.nms`` still fails loudly) and retry.  Where torch and
torchvision match it does nothing; defining the schemas unconditionally would
clash with the real ones and crash the process.

Import this module before timm (``cogmodels.backbones.timm_backbone`` does).
"""

from __future__ import annotations

import logging
import sys

log = logging.getLogger(__name__)

_MISSING_OP_MESSAGE = "operator torchvision::nms does not exist"
# The schemas torchvision's own C++ library would have defined for the two ops
# that _meta_registrations registers unconditionally.
_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_library = None  # keeps the torch.library.Library alive (it unregisters on deletion)
patched = False


def import_torchvision():
    """Import and return torchvision, patching the missing-op case only."""
    global _library, patched
    try:
        import torchvision
        return torchvision
    except RuntimeError as err:
        if _MISSING_OP_MESSAGE not in str(err):
            raise
    import torch

    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]
    _library = torch.library.Library("torchvision", "FRAGMENT")
    for schema in _SCHEMAS:
        _library.define(schema)
    patched = True
    log.info("torchvision's compiled ops do not match this torch build; defined placeholder schemas "
             "for torchvision::nms/qnms (detection ops are unavailable, models are unaffected)")
    import torchvision
    return torchvision


import_torchvision()
