"""What a decoder is and what it reads: the protocols every decoder and wrapper meets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kiosk.model import Code, Frame


class Decoder(Protocol):
    def decode(self, frame: Frame) -> list[Code]:
        """The Diia codes visible in `frame` (empty when there are none)."""
        ...


@dataclass(frozen=True, slots=True)
class Read:
    """One symbol read in a frame, Diia or not (`kiosk decode --all`): `diia` is whether it
    is a Diia code the kiosk would check (a 1D one only when corroborated)."""

    format: str
    text: str
    diia: bool


class FullDecoder(Decoder, Protocol):
    def read_all(self, frame: Frame) -> list[Read]:
        """Every symbol read in `frame`: the Diia codes `decode` gives, and all the others."""
        ...
