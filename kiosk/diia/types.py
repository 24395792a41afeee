"""The Diia library's own small types, at its edge.

`kiosk.diia` depends on nothing else in `kiosk`: what it is asked about comes in through the
structural types below (anything with these attributes fits: the kiosk's `Code` and
`HolderName` do), and what it needs to log in is its own `Credentials`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

BARCODE, QR = "barcode", "qr"  # the two kinds of Diia code


class DiiaCode(Protocol):
    """A one-time code to ask Diia about: its `text` as read, its `kind` "barcode" or "qr"."""

    @property
    def text(self) -> str: ...

    @property
    def kind(self) -> str: ...


class PersonName(Protocol):
    """A full name to match a document's holder against; `middle_name` may be ""."""

    @property
    def last_name(self) -> str: ...

    @property
    def first_name(self) -> str: ...

    @property
    def middle_name(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Credentials:
    """The two Diia secrets; kept out of repr so they cannot be logged by accident."""

    acquirer_token: str = field(repr=False)
    auth_token: str = field(repr=False)
