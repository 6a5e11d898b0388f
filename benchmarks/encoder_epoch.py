"""One routing-transformer training epoch: cached backbone features vs recomputing them every step.

The reference implementation of the transformer brain encoder (Adeli, Sun &
Kriegeskorte 2025) runs the frozen backbone inside every training step.
cogmodels extracts the features once (they are cached on disk by the runner)
and trains on the cached tokens.  This script runs both loops in the same
process on the same images, the same mini-batches (same order) and the same
initial weights, with the same network and optimiser, and reports:

- the one-time feature extraction (the cost the cache pays once),
- one epoch on cached features,
- one epoch recomputing the backbone features of each mini-batch,
- the largest weight difference between the two loops after the epoch (they do the same
  computation), next to the largest weight change of the epoch (so a zero difference is meaningful).

    python benchmarks/encoder_epoch.py                       # gabor and a random-init timm resnet18
    python benchmarks/encoder_epoch.py --n-stimuli 64 --backbones gabor
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import torch
from torch.nn import functional as F

import cogmodels
from cogmodels.encoders.routing_network import RoutingNetwork

BACKBONES = {"gabor": ("gabor", "complex"), "timm:resnet18": ("timm:resnet18", "layer3")}


def make_data(n_stimuli: int, image_size: int, n_channels: int, seed: int):
    """Random uint8 images (n, S, S, 3), responses (n, n_channels) and ROI labels for 4 ROIs."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n_stimuli, image_size, image_size, 3), dtype=np.uint8)
    Y = rng.normal(size=(n_stimuli, n_channels)).astype(np.float32)
    membership = np.zeros((n_channels, 4), dtype=bool)
    membership[np.arange(n_channels), np.arange(n_channels) % 4] = True
    return images, Y, membership


def train_epoch(network, batches, tokens_of, Y) -> float:
    """One AdamW epoch; returns the wall time in seconds."""
    optimizer = torch.optim.AdamW(network.parameters(), lr=1e-3)
    start = time.perf_counter()
    for idx in batches:
        tokens = tokens_of(idx)
        loss = F.mse_loss(network(tokens, "subject"), torch.from_numpy(Y[idx]))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def compare(name: str, images, Y, membership, batch_size: int, seed: int) -> dict:
    backbone_name, layer = BACKBONES[name]
    backbone = cogmodels.create_backbone(backbone_name, layers=[layer], seed=seed)
    start = time.perf_counter()
    cached = backbone.extract(list(images), layers=[layer], batch_size=batch_size, progress=False)[layer]
    extract_s = time.perf_counter() - start
    tokens = np.ascontiguousarray(cached.as_tokens())

    torch.manual_seed(seed)
    network = RoutingNetwork(tokens.shape[2], membership.shape[1], cached.grid, d_model=64, n_heads=4, n_layers=1,
                             mlp_ratio=2.0, self_attention=True, dropout=0.0)
    network.add_readout("subject", membership)
    twin = copy.deepcopy(network)
    initial = copy.deepcopy(network)
    batches = [np.sort(b) for b in np.array_split(np.random.default_rng(seed).permutation(len(images)),
                                                    max(1, len(images) // batch_size))]

    def recomputed(idx):
        fmap = backbone.extract_batch([images[i] for i in idx], [layer])[layer]
        return torch.from_numpy(np.ascontiguousarray(fmap.as_tokens()))

    cached_s = train_epoch(network, batches, lambda idx: torch.from_numpy(tokens[idx]), Y)
    recompute_s = train_epoch(twin, batches, recomputed, Y)
    with torch.no_grad():
        max_diff = max(float((a - b).abs().max()) for a, b in zip(network.parameters(), twin.parameters()))
        update = max(float((a - b).abs().max()) for a, b in zip(network.parameters(), initial.parameters()))
    return dict(backbone=f"{backbone_name} [{layer}]", grid=cached.grid, channels=tokens.shape[2],
                extract_s=extract_s, cached_s=cached_s, recompute_s=recompute_s, max_diff=max_diff, update=update)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbones", nargs="+", default=list(BACKBONES), choices=list(BACKBONES))
    parser.add_argument("--n-stimuli", type=int, default=128)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--n-channels", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    images, Y, membership = make_data(args.n_stimuli, args.image_size, args.n_channels, args.seed)
    rows = [compare(name, images, Y, membership, args.batch_size, args.seed) for name in args.backbones]

    print(f"{args.n_stimuli} images of {args.image_size}px, {args.n_channels} channels, batch {args.batch_size}, "
          f"{args.threads} thread(s), torch {torch.__version__}")
    print(f"{'backbone':<26} {'grid x C':>12} {'extract once':>13} {'cached epoch':>13} {'recompute epoch':>16} "
          f"{'ratio':>7} {'loops |dw|':>11} {'epoch |dw|':>11}")
    for row in rows:
        grid = f"{row['grid'][0]}x{row['grid'][1]}x{row['channels']}"
        print(f"{row['backbone']:<26} {grid:>12} {row['extract_s']:>12.2f}s {row['cached_s']:>12.2f}s "
              f"{row['recompute_s']:>15.2f}s {row['recompute_s'] / row['cached_s']:>6.1f}x "
              f"{row['max_diff']:>11.1e} {row['update']:>11.1e}")
    print("epoch time, recompute / cached: " + ", ".join(
        f"{row['backbone']} {row['recompute_s'] / row['cached_s']:.1f}x" for row in rows))


if __name__ == "__main__":
    main()
