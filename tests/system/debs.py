"""The Debian package as `./dev.sh deb ARCH` builds it, once per test session and version."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def why_no_build() -> str | None:
    for tool in ("dpkg-buildpackage", "dh", "dpkg-deb"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (./dev.sh test installs debhelper and dpkg-dev)"
    return None


@functools.cache
def build(arch: str, version: str | None = None) -> Path:
    """dist/diia-kiosk_<version>_<arch>.deb, built now (the wheels fetched from PyPI)."""
    env = dict(os.environ)
    env.pop("DEB_VERSION", None)
    if version:
        env["DEB_VERSION"] = version
    result = subprocess.run([str(REPO / "dev.sh"), "deb", arch], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    built = [line.split()[1] for line in result.stderr.splitlines()
             if line.startswith("deb: dist/")]
    assert len(built) == 1, result.stderr[-2000:]
    return REPO / built[0]


def field(deb: Path, name: str) -> str:
    return subprocess.run(["dpkg-deb", "--field", str(deb), name], capture_output=True,
                          text=True, check=True).stdout.strip()
