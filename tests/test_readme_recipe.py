"""README.md's "Trying it by hand", followed word for word in a copy of the checkout.

The copy holds the repository's tracked files only (what a clean clone has) and the
environment `./dev.sh setup` made, linked as `.venv`. The two shell blocks run as written,
with one change made here in the open: the sandbox gets `--port 0` and its port replaces 8790
in the second block and in the copy's `config/demo.toml`, so that runs in parallel never
meet on one port. The exit status each line's comment promises is checked against the one
printed, and the verdict it names against the event on stdout.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PORT = "8790"
PROMISE = re.compile(r'echo "exit \$\?"\s+# (\w+): exit (\d)$')


def recipe_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Trying it by hand\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


def clean_copy(target: Path) -> Path:
    """The tracked files as they are now (what CI's clean clone holds), and the venv."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                            check=True).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to(Path(sys.prefix))  # what `./dev.sh setup` made
    return target


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    return clean_copy(tmp_path / "checkout")


@pytest.fixture
def clean_environ() -> dict[str, str]:
    # Nothing of the test run's own setting may help the recipe along.
    return {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}


@pytest.fixture
def sandbox_port(checkout: Path, clean_environ: dict[str, str]) -> Iterator[str]:
    first, _ = recipe_blocks()
    assert first.strip() == ".venv/bin/kiosk sandbox"
    process = subprocess.Popen([*first.split(), "--port", "0"], cwd=checkout,
                               env=clean_environ, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        match = re.match(r"Diia sandbox listening on http://127\.0\.0\.1:(\d+) ", banner)
        assert match, banner
        yield match.group(1)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_recipe_has_a_sandbox_block_and_a_kiosk_block() -> None:
    first, second = recipe_blocks()  # exactly two: any other step would be unchecked
    assert "kiosk sandbox" in first
    assert "config/demo.toml" in second and "kiosk check" in second and "kiosk run" in second
    demo = (ROOT / "config" / "demo.toml").read_text(encoding="utf-8")
    assert f'base_url = "http://127.0.0.1:{DEFAULT_PORT}"' in demo  # what the README says


def test_the_recipe_works_word_for_word(
    checkout: Path, sandbox_port: str, clean_environ: dict[str, str]
) -> None:
    _, second = recipe_blocks()
    assert f"localhost:{DEFAULT_PORT}" in second
    demo = checkout / "config" / "demo.toml"
    demo.write_text(demo.read_text().replace(DEFAULT_PORT, sandbox_port))
    script = second.replace(DEFAULT_PORT, sandbox_port)
    done = subprocess.run(["bash", "-c", script], cwd=checkout, env=clean_environ,
                          capture_output=True, text=True, timeout=180)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr

    promises = [m.groups() for line in second.splitlines() if (m := PROMISE.search(line))]
    assert len(promises) == 5
    printed = re.findall(r"^exit (\d+)$", done.stdout, flags=re.M)
    assert printed == [status for _, status in promises], done.stdout + done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()
              if line.startswith("{") and '"event": "verdict"' in line]  # fmt: skip
    assert len(events) == len(promises)
    for (named, _), event in zip(promises, events, strict=True):
        assert named in (event["outcome"], event["reason"]), (named, event)
    assert [e["outcome"] for e in events] == ["pass", "fail", "fail", "unknown", "fail"]
