"""Brain encoders: ridge, factorized readout, attention-routing transformer.

All follow the sklearn-style contract: ``__init__`` stores parameters, ``fit``
validates then calls ``_fit``, fitted attributes end in ``_``.
"""

from __future__ import annotations

from cogmodels.registry import Registry

#: Encoders register where they are defined (``@ENCODERS.register(name, example=...)``); the modules of this
#: folder are imported on first use; plugins: the ``cogmodels.encoders`` entry-point group.
ENCODERS = Registry("encoder", package=__name__, entry_point_group="cogmodels.encoders")


def __getattr__(name):  # lazy: `from cogmodels.encoders import RidgeCV` imports only ridge.py
    lazy = {"RidgeCV": "cogmodels.encoders.ridge",
            "FactorizedReadout": "cogmodels.encoders.factorized",
            "RoutingTransformerEncoder": "cogmodels.encoders.routing",
            "save_encoder": "cogmodels.encoders.persistence", "load_encoder": "cogmodels.encoders.persistence"}
    if name in lazy:
        import importlib

        return getattr(importlib.import_module(lazy[name]), name)
    raise AttributeError(f"module 'cogmodels.encoders' has no attribute {name!r}")
