"""Shared fixtures: the real Diia sandbox on loopback, and an off-screen display."""

from __future__ import annotations

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
