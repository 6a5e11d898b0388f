"""Hydra entry points, tasks, results store and feature cache."""
