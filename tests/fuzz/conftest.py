"""Report the examples each fuzz target ran (see `budget`)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tests.fuzz.budget import LONG_RUN, RAN


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not RAN:
        return
    mode = f"KIOSK_FUZZ_EXAMPLES={LONG_RUN}" if LONG_RUN else "CI budget, derandomized"
    terminalreporter.write_sep("-", f"fuzz examples run per target ({mode})")
    for target, count in sorted(RAN.items()):
        terminalreporter.write_line(f"{target:<40} {count:>8}")
    report = os.environ.get("KIOSK_FUZZ_REPORT")
    if report:
        Path(report).write_text(json.dumps({"mode": mode, "examples": dict(RAN)}, indent=2))
