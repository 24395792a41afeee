"""A Debian bookworm root made by mmdebstrap, kept under .cache/ between runs.

The root holds what the package depends on (read from the .deb), systemd, and
unattended-upgrades, so the package installs with no network and the kiosk boots in it.
A root is keyed by what it was asked to hold: a change to the package's Depends makes a new
one (and the old one is removed). Made once per machine (about 2 minutes and 100 MB of
downloads), then only read: the tests boot an overlay of it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from tests.system.debs import REPO, field

CACHE = REPO / ".cache" / "debian-root"
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
# What the tests run in the root besides the package's dependencies (dbus: systemd-run).
EXTRA = ("systemd", "dbus", "unattended-upgrades")
# Documentation, manual pages and translations are not needed to boot; smaller, faster.
OPTIONS = ("--variant=apt",
           "--dpkgopt=path-exclude=/usr/share/man/*",
           "--dpkgopt=path-exclude=/usr/share/locale/*",
           "--dpkgopt=path-exclude=/usr/share/doc/*",
           "--dpkgopt=path-include=/usr/share/doc/*/copyright")


def depends(deb: Path) -> list[str]:
    """The package's Depends, each as its first alternative's name."""
    text = field(deb, "Depends")
    return sorted({re.split(r"[ (]", part.split("|")[0].strip())[0]
                   for part in text.split(",") if part.strip()})


def why_no_root() -> str | None:
    if shutil.which("mmdebstrap") is None:
        return "mmdebstrap is not installed (./dev.sh test installs it)"
    return None


def root_for(deb: Path) -> Path:
    """A directory holding a bookworm root with the package's dependencies installed."""
    packages = sorted({*depends(deb), *EXTRA})
    key = hashlib.sha256(json.dumps([SUITE, MIRROR, OPTIONS, packages]).encode()).hexdigest()
    root = CACHE / f"{SUITE}-{key[:16]}"
    if (root / "etc/os-release").exists():
        return root
    CACHE.mkdir(parents=True, exist_ok=True)
    for old in CACHE.iterdir():  # roots for other package lists, half-made ones
        shutil.rmtree(old, ignore_errors=True)
    making = CACHE / f".{root.name}.{os.getpid()}"
    try:
        result = subprocess.run(
            ["mmdebstrap", "--quiet", *OPTIONS, f"--include={','.join(packages)}", SUITE,
             str(making), MIRROR], capture_output=True, text=True, timeout=900, check=False)
        assert result.returncode == 0, f"mmdebstrap failed:\n{result.stderr[-3000:]}"
        making.rename(root)
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(making)
    return root
