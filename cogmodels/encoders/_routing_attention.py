"""Cross-attention maps of a fitted routing transformer encoder (:meth:`RoutingTransformerEncoder.attention_maps`)."""

from __future__ import annotations

import torch

from cogmodels.encoders._tokens import image_sizes, looks_like_images, upsample_maps
from cogmodels.errors import ConfigError, format_problem


def routing_attention_maps(encoder, X, grid=None, layer: int = 0, queries=None):
    """Last-layer cross-attention of each query over the feature grid, averaged over heads and runs.

    See :meth:`cogmodels.encoders.routing.RoutingTransformerEncoder.attention_maps` for shapes.
    """
    names = list(encoder.query_names_ if queries is None else queries)
    unknown = [q for q in names if q not in encoder.query_names_]
    if unknown:
        raise ConfigError(format_problem("queries", f"names from query_names_ ({encoder.query_names_[:12]})",
                                         f"unknown {unknown[:10]}", "pick query names of this model"))
    selected = [encoder.query_names_.index(q) for q in names]
    images = X if looks_like_images(X) else None
    tokens = encoder._features(X, grid, "X")[layer]
    members = [m for m in encoder.members_ if m.layer == layer]
    batch = 4 * encoder.batch_size
    total = 0.0
    with torch.no_grad():
        for member in members:
            member.network.eval()
            total = total + torch.cat([member.network.encode(torch.from_numpy(tokens[i:i + batch]), True)[1]
                                       for i in range(0, len(tokens), batch)])[:, selected]
    maps = (total / len(members)).reshape(len(tokens), len(selected), *encoder.grids_[layer])
    return maps.numpy() if images is None else upsample_maps(maps, image_sizes(images))
