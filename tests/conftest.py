"""Shared fixtures: the real Diia sandbox on loopback, and an off-screen display."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest

# Tests draw on SDL's dummy driver: a real pygame surface with no window.
os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["SDL_AUDIODRIVER"] = "dummy"

from kiosk.diia.sandbox import DiiaSandbox


@pytest.fixture
def sandbox() -> Iterator[DiiaSandbox]:
    with DiiaSandbox() as running:
        yield running


@pytest.fixture(autouse=True)
def _library_log_levels() -> Iterator[None]:
    """`kiosk.cli.main` run in-process quietens httpx and httpcore for good; undo that, so
    a test that reads their log lines does not depend on which tests ran before it."""
    loggers = [logging.getLogger(name) for name in ("httpx", "httpcore")]
    levels = [logger.level for logger in loggers]
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)
