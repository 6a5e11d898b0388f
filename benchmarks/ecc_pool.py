"""Eccentricity pooling: summed-area-table kernel vs the ring-mask reference at eccNET's largest resolution.

The largest paradigm display (615 px, intersection / T vs L) enters the model
as a 1,358-px canvas (2 x (615 + 64 corner pixels)).  VGG-16's five pooling
layers then see maps of 1358, 679, 340, 170 and 85 px with 64, 128, 256, 512
and 512 channels.  Windows are the original's rings for a central fixation
(faithful mode, :func:`cogmodels.search.ecc_windows.faithful_windows`): pool1
and pool2 have slope 0 (one window, the same plain TF-"same" pooling on both
sides), pool3-pool5 have 19 rings each.

Printed: max abs difference to the reference per layer (target <= 1e-5); the
error a plain float32 table would make (context); best-of-N wall times and
their ratios for pool3-pool5 and all five; peak extra memory of each method
(working memory: peak RSS growth of a fresh process while it pools the worst
single layer, minus the output both methods produce) against the original's
float32 per-channel ring-mask constants and against the merged-mask reference against the
original's float32 per-channel ring-mask constants (computed from its ring
loop, :func:`original_mask_bytes`) and against the merged-mask reference.

Run: ``python benchmarks/ecc_pool.py [--repeats 3] [--threads 2]``.  Numbers
depend on the machine and its load; say which.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time
from pathlib import Path

import torch

from cogmodels.kernels.ecc_pool import ecc_avg_pool
from cogmodels.kernels.ecc_pool_reference import ecc_avg_pool_reference, tf_same_avg_pool
from cogmodels.search.ecc_windows import (SLOPES, faithful_windows, layer_deg2px, original_mask_bytes,
                                          pool_input_sizes)

INPUT_SIZE = 1358
CHANNELS = (64, 128, 256, 512, 512)
PX_PER_DEG = 30.0
ECC_LAYERS = (2, 3, 4)
GIB = 2 ** 30


def layer_inputs(seed: int = 0):
    """Seeded VGG-like maps entering each pooling layer, and each layer's windows (central fixation)."""
    generator = torch.Generator().manual_seed(seed)
    layers = []
    for layer, (side, channels) in enumerate(zip(pool_input_sizes(INPUT_SIZE), CHANNELS)):
        # ReLU activations up to ~25 (the range of VGG-16 conv3-5 outputs on ImageNet-normalised input)
        # with a left-right ramp: the partial sums grow across the map, as with a bright image half.
        ramp = torch.linspace(0.0, 1.0, side).view(1, 1, 1, side)
        x = torch.randn(1, channels, side, side, generator=generator).mul_(4.0).add_(4.0 * ramp).relu_()
        out = -(-side // 2)
        windows = faithful_windows((out, out), (out // 2, out // 2), layer_deg2px(PX_PER_DEG, layer),
                                   slope=SLOPES[layer])
        layers.append((x, windows))
    return layers


def run_layer(method: str, x: torch.Tensor, windows: torch.Tensor) -> torch.Tensor:
    if windows.min() == windows.max():  # pool1/pool2: one window, plain pooling on both sides
        return tf_same_avg_pool(x, int(windows[0, 0]))
    if method == "kernel":
        return ecc_avg_pool(x, windows)
    return ecc_avg_pool_reference(x, windows)


def float32_table_error(x: torch.Tensor, windows: torch.Tensor) -> float:
    """Max abs error of the same algorithm with a plain float32 summed-area table (context only)."""
    from cogmodels.kernels.ecc_pool import window_bounds

    height, width = x.shape[-2:]
    table = torch.zeros(*x.shape[:2], height + 1, width + 1)
    table[:, :, 1:, 1:] = x
    table = table.cumsum(2).cumsum(3)
    r0, r1 = window_bounds(height, windows.long(), 2, 0)
    c0, c1 = window_bounds(width, windows.long(), 2, 1)
    sums = table[:, :, r1, c1] - table[:, :, r0, c1] - table[:, :, r1, c0] + table[:, :, r0, c0]
    return float((sums / ((r1 - r0) * (c1 - c0))).sub(ecc_avg_pool_reference(x, windows)).abs().max())


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def _peak_child(method: str, layer_ids, threads: int, queue) -> None:
    torch.set_num_threads(threads)
    layers = layer_inputs()
    peak = 0
    for layer in layer_ids:  # each layer on its own: the peak working memory of the worst layer
        Path("/proc/self/clear_refs").write_text("5")  # resets the peak RSS (VmHWM) to the current RSS
        before = _status_kib("VmRSS")
        out = run_layer(method, *layers[layer])
        # working memory: what the call needed beyond its output (which both methods produce)
        peak = max(peak, (_status_kib("VmHWM") - before) * 1024 - out.numel() * out.element_size())
        del out
    queue.put(peak)


def peak_extra_bytes(method: str, layer_ids, threads: int) -> int:
    """Working memory of ``method``: peak RSS growth of a fresh process while it pools one layer (inputs
    allocated before), minus the output's bytes, for the worst of ``layer_ids``.  Large blocks are mmapped (MALLOC_MMAP_THRESHOLD_) so that freed memory is
    returned and every allocation shows in the RSS."""
    os.environ["MALLOC_MMAP_THRESHOLD_"] = str(1 << 16)
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_peak_child, args=(method, tuple(layer_ids), threads, queue))
    process.start()
    value = queue.get()
    process.join()
    return max(int(value), 1 << 20)  # floor: 1 MiB, below the resolution of this measurement


def best_times(layers, layer_ids, repeats: int) -> tuple[float, float]:
    """Best-of-``repeats`` seconds of the kernel and of the reference, interleaved (kernel, reference, kernel,
    ...) so that a change in the machine's load hits both alike."""
    best = {"kernel": float("inf"), "reference": float("inf")}
    for _ in range(repeats):
        for method in best:
            start = time.perf_counter()
            for layer in layer_ids:
                run_layer(method, *layers[layer])
            best[method] = min(best[method], time.perf_counter() - start)
    return best["kernel"], best["reference"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    layers = layer_inputs()
    print(f"input {INPUT_SIZE} px, pool inputs {pool_input_sizes(INPUT_SIZE)} px, channels {CHANNELS}, "
          f"{args.threads} threads, best of {args.repeats}")
    for layer, (x, windows) in enumerate(layers):
        diff = float((run_layer("kernel", x, windows) - run_layer("reference", x, windows)).abs().max())
        print(f"pool{layer + 1}: map {tuple(x.shape)}, {len(torch.unique(windows))} window sizes "
              f"{torch.unique(windows).tolist()}, max |kernel - reference| = {diff:.2e}")
        assert diff <= 1e-5, f"pool{layer + 1}: kernel and reference differ by {diff}"
    x, windows = layers[2]
    exact = ecc_avg_pool_reference(x.double(), windows)
    print(f"pool3 against a float64 reference: kernel {float((ecc_avg_pool(x, windows) - exact).abs().max()):.2e}, "
          f"float32 reference {float((ecc_avg_pool_reference(x, windows) - exact).abs().max()):.2e}, "
          f"a plain float32 summed-area table {float32_table_error(x, windows):.2e}")
    all_layers = tuple(range(len(CHANNELS)))
    times = {}
    for name, ids in (("pool3-5", ECC_LAYERS), ("all five", all_layers)):
        kernel, reference = best_times(layers, ids, args.repeats)
        times[name] = reference / kernel
        print(f"time {name}: kernel {kernel:.3f} s, ring-mask reference {reference:.3f} s, "
              f"{reference / kernel:.1f}x faster")
    del layers
    original = original_mask_bytes(INPUT_SIZE, CHANNELS, PX_PER_DEG)
    # Working memory of the eccentricity-dependent pooling (pool3-pool5, worst layer) for each method, and of
    # the plain rf_min pooling of pool1/pool2, which both methods share (no masks are needed there).
    kernel = peak_extra_bytes("kernel", ECC_LAYERS, args.threads)
    reference = peak_extra_bytes("reference", ECC_LAYERS, args.threads)
    plain = peak_extra_bytes("kernel", (0, 1), args.threads)
    memory = {}
    for name, ids in (("pool3-5", ECC_LAYERS), ("all five", all_layers)):
        constants = sum(original[layer] for layer in ids)
        memory[name] = constants / kernel
        print(f"memory {name}: the original keeps {constants / GIB:.2f} GiB of float32 per-channel ring masks "
              f"(sum over layers of n_rings x out^2 x C x 4 bytes, all resident); the kernel's working memory for "
              f"eccentricity pooling is {kernel / 2**20:.0f} MiB (worst of pool3-5): {constants / kernel:.0f}x less")
    print(f"memory vs the merged-mask form (pool3-5, worst layer): reference {reference / 2**20:.0f} MiB, kernel "
          f"{kernel / 2**20:.0f} MiB: {reference / kernel:.1f}x less; plain pool1/pool2 pooling (same code for "
          f"both, no masks) peaks at {plain / 2**20:.0f} MiB")
    print(f"headline: pool3-5 {times['pool3-5']:.1f}x faster (all five {times['all five']:.1f}x), "
          f"{memory['all five']:.0f}x less memory than the original's 4.1 GiB ring masks "
          f"({memory['pool3-5']:.0f}x on pool3-5)")


if __name__ == "__main__":
    main()
