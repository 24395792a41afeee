"""`./dev.sh setup` run again with nothing to do: quiet, and no pip (so no network).

dev.sh runs for real in a folder of its own, with two stand-ins at the outermost seam: the
venv's `python` records how it was called (it stands for pip), and `dpkg-query` says every
system package is installed (the machine's own apt state must not decide the test).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RECORDING_PYTHON = '#!/bin/sh\necho "$@" >> "$(dirname "$0")/../calls"\n'
INSTALLED = "#!/bin/sh\nprintf 'install ok installed'\n"


def _script(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    for name in ("dev.sh", "pyproject.toml"):
        shutil.copy2(ROOT / name, tmp_path / name)
    _script(tmp_path / ".venv" / "bin" / "python", RECORDING_PYTHON)
    _script(tmp_path / "tools" / "dpkg-query", INSTALLED)
    return tmp_path


def _setup(checkout: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PATH": f"{checkout / 'tools'}:{os.environ['PATH']}", **env}
    return subprocess.run(["./dev.sh", "setup"], cwd=checkout, env=environ,
                          capture_output=True, text=True, timeout=60)


def _pip_calls(checkout: Path) -> list[str]:
    calls = checkout / ".venv" / "calls"
    return calls.read_text().splitlines() if calls.exists() else []


def test_a_second_setup_with_nothing_to_do_is_quiet_and_leaves_pip_alone(
    checkout: Path,
) -> None:
    first = _setup(checkout)
    assert first.returncode == 0, first.stderr
    assert any("pip install" in call and ".[test,zbar]" in call for call in _pip_calls(checkout))
    calls = len(_pip_calls(checkout))

    second = _setup(checkout)
    assert second.returncode == 0, second.stderr
    assert (second.stdout, second.stderr) == ("", "")
    assert len(_pip_calls(checkout)) == calls  # pip was not asked: nothing to fetch

    with (checkout / "pyproject.toml").open("a") as changed:  # a new dependency, say
        changed.write("\n# changed\n")
    assert _setup(checkout).returncode == 0
    assert len(_pip_calls(checkout)) > calls


def test_setup_with_an_old_python_says_which_version_is_needed(checkout: Path) -> None:
    shutil.rmtree(checkout / ".venv")
    _script(checkout / "tools" / "python3.9", "#!/bin/sh\n"
            'case "$1" in -V) echo "Python 3.9.2";; *) exit 1;; esac\n')
    done = _setup(checkout, PYTHON="python3.9")
    assert done.returncode == 1
    assert "Python 3.11 or later" in done.stderr and "3.9.2" in done.stderr
    assert not (checkout / ".venv").exists()
