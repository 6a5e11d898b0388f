"""Plotting primitives: arrays in, a matplotlib Figure out."""
