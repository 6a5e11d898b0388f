"""Markers of the docs and browser tests (registered here, so no pyproject edit is needed)."""

from __future__ import annotations


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: opens a page in headless Chromium (skipped when it is not installed)")
