"""Codes let through once per appearance, 1D ones only when read in enough recent frames."""

from __future__ import annotations

from collections import deque

from kiosk.model import Code, CodeKind


class Confirmation:
    """Lets a code through once it is trustworthy, and once per appearance.

    Both libraries misread a 1D symbol now and then into another text with a valid check
    digit (about 1 in 150–300 reads), so a barcode text passes only when it was read in
    `needed` of the last `window` frames. A QR passes on its first read: error correction H
    makes a misread that still matches the verify URL negligible.

    A text is returned once, on the frame it is confirmed, and not again while it stays in
    the window; once it has been absent from `window` frames in a row it may be confirmed
    anew. Call `feed` exactly once per frame, with an empty list when nothing was read.
    """

    def __init__(self, window: int = 3, needed: int = 2) -> None:
        if not 1 <= needed <= window:
            raise ValueError(f"need 1 <= needed <= window, got needed={needed}, window={window}")
        self.window = window
        self.needed = needed
        self._history: deque[frozenset[str]] = deque(maxlen=window)
        self._passed: set[str] = set()

    def feed(self, codes: list[Code]) -> list[Code]:
        """The codes confirmed by this frame (most frames: none)."""
        seen: dict[str, Code] = {}
        for code in codes:
            seen.setdefault(code.text, code)
        self._history.append(frozenset(seen))

        confirmed: list[Code] = []
        for text, code in seen.items():
            if text in self._passed:
                continue
            needed = 1 if code.kind is CodeKind.QR else self.needed
            if sum(text in frame for frame in self._history) >= needed:
                self._passed.add(text)
                confirmed.append(code)

        # Forget texts that left the window entirely, so a code shown again passes again.
        in_window = frozenset().union(*self._history)
        self._passed &= in_window
        return confirmed

    def reset(self) -> None:
        """Forget every frame seen so far (e.g. when the source restarts)."""
        self._history.clear()
        self._passed.clear()
