"""The name a "name" check is made against, and where it comes from.

In mode "name" Diia is asked whether the holder's full name (ПІБ) matches names the
partner's own system holds for this check, for example the pickup order. The names never come
from a person typing at the kiosk: the POS supplies them through a `NameSource`.

`NameFile` is the first source: a small JSON file the POS writes (atomically: write a
temporary file, then rename it over the path) before the customer shows the code:

    {"last_name": "Шевченко", "first_name": "Тарас", "middle_name": "Григорович"}

The kiosk reads it at each name check, ignores it once it is older than `max_age_s`, and
deletes it after a pass or fail verdict, so one order's names serve one verdict and can never
be matched against the next customer. `FixedName` is the names given on the command line
(`kiosk check --last-name …`). A name is personal data: it stays out of `repr()`, logs and
events.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from kiosk.model import HolderName, InvalidName

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 4096


class NameSource(Protocol):
    """Where the expected names for the current check come from (the POS's side)."""

    def expected_name(self) -> HolderName | None:
        """The names for this check, or None when the partner's system supplied none."""
        ...

    def used(self, name: HolderName) -> None:
        """`name` got a pass or fail verdict: a source of one-time names forgets it."""
        ...


class NoName:
    """No source configured: every name check is "unknown" without asking Diia."""

    def expected_name(self) -> HolderName | None:
        return None

    def used(self, name: HolderName) -> None:
        pass


class FixedName:
    """The same names for every check (`kiosk check --last-name …`, tests)."""

    def __init__(self, name: HolderName) -> None:
        self._name = name

    def expected_name(self) -> HolderName | None:
        return self._name

    def used(self, name: HolderName) -> None:
        pass


class NameFile:
    """Names from a JSON file the POS writes; see the module docstring for the protocol."""

    def __init__(
        self, path: str | Path, *, max_age_s: float = 300.0, clock: Callable[[], float] = time.time
    ) -> None:
        self._path = Path(path)
        self._max_age_s = max_age_s
        self._clock = clock
        self._read: tuple[int, int, HolderName] | None = None  # (inode, mtime_ns, names)

    def expected_name(self) -> HolderName | None:
        self._read = None
        try:
            with self._path.open("rb") as file:
                stat = os.fstat(file.fileno())
                raw = file.read(MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            log.info("name check without names: the POS has not written %s", self._path)
            return None
        except OSError as exc:
            log.warning("cannot read the name file %s: %s", self._path, exc.strerror)
            return None
        age = self._clock() - stat.st_mtime
        if age > self._max_age_s:
            log.info("name file %s is %.0f s old (limit %.0f s): ignored",
                     self._path, age, self._max_age_s)
            return None
        try:
            if len(raw) > MAX_FILE_BYTES:
                raise InvalidName(f"larger than {MAX_FILE_BYTES} bytes")
            data = json.loads(raw.decode("utf-8"))
            if not isinstance(data, dict):
                raise InvalidName("not a JSON object")
            name = HolderName.parse(data)
        except (InvalidName, ValueError, RecursionError) as exc:  # never holds a name
            reason = exc if isinstance(exc, InvalidName) else "not JSON in UTF-8, or too deep"
            log.warning("name file %s refused: %s", self._path, reason)
            return None
        self._read = (stat.st_ino, stat.st_mtime_ns, name)
        return name

    def used(self, name: HolderName) -> None:
        """Delete the file, unless the POS has meanwhile written the next order over it."""
        read, self._read = self._read, None
        if read is None or read[2] != name:
            return
        try:
            stat = self._path.stat()
            if (stat.st_ino, stat.st_mtime_ns) == read[:2]:
                self._path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("cannot delete the used name file %s: %s", self._path, exc.strerror)
