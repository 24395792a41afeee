"""How many examples each fuzz target runs, and how many it did.

The default run is modest, for CI (the whole folder in well under a minute) and
deterministic (`derandomize`), so a green main stays green. `KIOSK_FUZZ_EXAMPLES=N` scales
every target to N examples with fresh randomness, for long runs; `KIOSK_FUZZ_REPORT=FILE`
writes the examples run per target as JSON.
"""

from __future__ import annotations

import os
from collections import Counter

from hypothesis import HealthCheck, settings

LONG_RUN = int(os.environ.get("KIOSK_FUZZ_EXAMPLES", "0") or 0)
RAN: Counter[str] = Counter()


def fuzz_settings(default_examples: int) -> settings:
    """Settings for one target: its CI budget, or the long run's."""
    return settings(
        max_examples=LONG_RUN or default_examples,
        derandomize=not LONG_RUN,
        deadline=None,  # a shared 2-core machine: timing is not what is tested here
        database=None,  # nothing written into the work tree
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def ran(target: str) -> None:
    """One example of `target` ran (shrinking and replays included)."""
    RAN[target] += 1
