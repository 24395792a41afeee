"""The package's wheelhouse: what to fetch, and the hash-pinned list postinst installs.

  wheelhouse.py wants PYPROJECT APT_PROVIDED      the requirements to fetch, one a line:
                                                  [project] dependencies and the zbar
                                                  extra, less what apt provides
  wheelhouse.py lock WHEELS APT_PROVIDED OUT      drops wheels apt provides (pulled in as
                                                  dependencies), writes OUT: name==version
                                                  --hash=sha256:… for every wheel left
"""

from __future__ import annotations

import hashlib
import re
import sys
import tomllib
from pathlib import Path

EXTRAS = ("zbar",)  # what the default config uses; the scanners extra comes from apt


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def apt_provided(path: Path) -> set[str]:
    lines = (line.split("#")[0].split() for line in path.read_text().splitlines())
    return {normal(fields[0]) for fields in lines if fields}


def wants(pyproject: Path, from_apt: set[str]) -> list[str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in EXTRAS:
        requirements += project["optional-dependencies"][extra]
    name = re.compile(r"[A-Za-z0-9._-]+")
    return [r for r in requirements if normal(name.match(r).group()) not in from_apt]


def lock(wheels: Path, from_apt: set[str], out: Path) -> None:
    lines = []
    for wheel in sorted(wheels.glob("*.whl")):
        name, version = wheel.name.split("-")[:2]
        if normal(name) in from_apt:
            wheel.unlink()
            continue
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        lines.append(f"{normal(name)}=={version} --hash=sha256:{digest}\n")
    out.write_text("".join(lines))


def main(argv: list[str]) -> None:
    if argv[:1] == ["wants"] and len(argv) == 3:
        print("\n".join(wants(Path(argv[1]), apt_provided(Path(argv[2])))))
    elif argv[:1] == ["lock"] and len(argv) == 4:
        lock(Path(argv[1]), apt_provided(Path(argv[2])), Path(argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
