"""An empty counter costs next to nothing: frames like the last decoded one are not decoded.

Most frames a kiosk sees show an empty counter, and decoding each costs a Pi 4 a fifth of a
core all day in a closed box. `ChangeGate` wraps a decoder: it decodes a frame only when the
view changed since the last decoded frame, when the last decode read a code (a phone held
still is decoded on every frame, so confirmation and rate are untouched), or when
`every` frames went by without a decode (so a change too small to see is missed for at most
that long). The change measure: the frame sampled every `step` pixels, pooled into
`cell`×`cell` blocks of samples, and the count of blocks whose mean moved by more than
`level` gray levels. Sensor noise moves a block mean by ~σ/`cell` (σ 6 → 1.5 levels at
`cell` 4); a phone's dark body or its bright screen entering a quiet scene moves dozens of
blocks by tens of levels. bench/idle.py measures the cost and the time to a read.
"""

from __future__ import annotations

import numpy as np

from kiosk.decoding.reads import FullDecoder, Read
from kiosk.model import Code, Frame


class ChangeGate:
    """Wraps a decoder; `decode` returns [] without decoding when nothing in view changed."""

    def __init__(
        self,
        decoder: FullDecoder,
        every: int = 8,
        step: int = 4,
        cell: int = 4,
        level: float = 10.0,
        min_blocks: int = 3,
    ) -> None:
        if every < 1 or step < 1 or cell < 1:
            raise ValueError(f"need every, step, cell >= 1, got {every}, {step}, {cell}")
        self.decoder = decoder
        self.every = every
        self.step = step
        self.cell = cell
        self.level = level
        self.min_blocks = min_blocks
        self._reference: np.ndarray | None = None  # block means of the last decoded frame
        self._skipped = 0
        self._reading = False  # the last decode read a code
        self.decoded = 0  # counters for the benchmark and the tests
        self.skipped = 0

    def decode(self, frame: Frame) -> list[Code]:
        blocks = self._blocks(frame.pixels)
        if (
            not self._reading
            and self._skipped + 1 < self.every
            and self._reference is not None
            and self._reference.shape == blocks.shape
            and not self._changed(blocks)
        ):
            self._skipped += 1
            self.skipped += 1
            return []
        codes = self.decoder.decode(frame)
        self._reference, self._skipped, self._reading = blocks, 0, bool(codes)
        self.decoded += 1
        return codes

    def read_all(self, frame: Frame) -> list[Read]:
        """Every read of the frame, always decoded (for `kiosk decode --all`)."""
        return self.decoder.read_all(frame)

    def _blocks(self, pixels: np.ndarray) -> np.ndarray:
        sampled = pixels[:: self.step, :: self.step]
        c = self.cell
        rows, cols = sampled.shape[0] // c, sampled.shape[1] // c
        sampled = sampled[: rows * c, : cols * c]
        # Block sums by adding strided slices: no temporary of the frame's size, no BLAS.
        across = sampled[:, 0::c].astype(np.int32)
        for i in range(1, c):
            across += sampled[:, i::c]
        sums = across[0::c].copy()
        for i in range(1, c):
            sums += across[i::c]
        return sums.astype(np.float32) / (c * c)

    def _changed(self, blocks: np.ndarray) -> bool:
        assert self._reference is not None
        moved = np.abs(blocks - self._reference) > self.level
        return int(np.count_nonzero(moved)) >= self.min_blocks
