"""README.md's recipes, followed word for word in a copy of the checkout.

The copy holds the repository's tracked files only (what a clean clone has) and the
environment `./dev.sh setup` made, linked as `.venv`. The shell blocks run as written, with
one change made here in the open: the sandbox gets `--port 0` and its port replaces 8790 in
the blocks and in the copy's `config/demo.toml`, and a free port replaces the till's API port
8765, so that runs in parallel never meet on one port. "Trying it by hand": the exit status
each line's comment promises is checked against the one printed, and the verdict it names
against the event on stdout. "Trying it on a laptop": each terminal is a bash session the
blocks are typed into, and the code the recipe says to type is typed into the kiosk's.
Every other shell block of the README is listed below with why it is not run here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PORT = "8790"
PROMISE = re.compile(r'echo "exit \$\?"\s+# (\w+): exit (\d)$')


README = (ROOT / "README.md").read_text(encoding="utf-8")
API_PORT = "8765"
# Shell blocks no test here runs, by the heading they stand under, and why.
NOT_RUN = {
    "## Quick start": "CI runs `./dev.sh test` itself; the demo is `run_demo` in "
                      "test_attended.py; a second setup is tests/test_dev_sh.py",
    "## For POS developers: the till's API": "the event stream's format, with the call that "
                                             "opens it (the laptop recipe's last line)",
    "## Reading codes": "apt's picamera2: a Raspberry Pi only",
    "### Installing on a Pi": "sudo on a Pi: tests/system/test_appliance.py installs the "
                              "package offline in a booted bookworm root",
    "## Fleet": "Ansible and a fleet of Pis",
    "### Updating a fleet": "tests/system/test_appliance.py runs repo.sh and apt's daily "
                            "services with unattended-upgrades in a booted root",
    "### Rolling out a config": "the fleet's tools: their tests are test_remote_config*.py",
}
RUN = ("## Trying it by hand", "### Trying it on a laptop", "## The Diia sandbox")


def shell_blocks() -> list[tuple[str, str]]:
    """Every ```sh block of the README, with the heading it stands under."""
    found, heading = [], ""
    for part in re.split(r"^(#{2,3} .*)$", README, flags=re.M):
        if re.fullmatch(r"#{2,3} .*", part):
            heading = part
            continue
        found += [(heading, block) for block in re.findall(r"```sh\n(.*?)```", part, re.S)]
    return found


def section_blocks(heading: str) -> list[str]:
    return [block for under, block in shell_blocks() if under == heading]


def recipe_blocks() -> list[str]:
    return section_blocks("## Trying it by hand")


def clean_copy(target: Path) -> Path:
    """The tracked files as they are now (what CI's clean clone holds), and the venv."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                            check=True).stdout.decode().split("\0")
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
                               env=clean_environ, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        match = re.match(r"Diia sandbox listening on http://127\.0\.0\.1:(\d+) ", banner)
        assert match, banner
        yield match.group(1)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_every_shell_block_is_run_here_or_says_why_not() -> None:
    for heading, block in shell_blocks():
        assert heading in RUN or heading in NOT_RUN, (heading, block)
    assert {heading for heading, _ in shell_blocks()} == {*RUN, *NOT_RUN}


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
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr

    promises = [m.groups() for line in second.splitlines() if (m := PROMISE.search(line))]
    assert len(promises) == 5
    printed = re.findall(r"^exit (\d+)$", done.stdout, flags=re.M)
    assert printed == [status for _, status in promises], done.stdout + done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()
              if line.startswith("{") and '"event": "verdict"' in line]
    assert len(events) == len(promises)
    for (named, _), event in zip(promises, events, strict=True):
        assert named in (event["outcome"], event["reason"]), (named, event)
    assert [e["outcome"] for e in events] == ["pass", "fail", "fail", "unknown", "fail"]


def test_the_sandbox_sections_calls_work_as_written(
    sandbox_port: str, checkout: Path, clean_environ: dict[str, str]
) -> None:
    (block,) = section_blocks("## The Diia sandbox")
    done = subprocess.run(["bash", "-c", block.replace(DEFAULT_PORT, sandbox_port)],
                          cwd=checkout, env=clean_environ, capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr
    minted, fault = (json.loads(line) for line in done.stdout.splitlines())
    assert re.fullmatch(r"\d{13}", minted["code"]) and minted["age"] == 17
    assert fault["fault"] == "unavailable"


class Terminal:
    """A bash session a block is typed into, as a person types into a terminal; what it
    prints (stdout and stderr) is collected line by line as it comes."""

    MARK = "__block_done__"

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(["bash"], cwd=cwd, env=env, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, bufsize=1)
        self.lines: list[str] = []
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def type(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text)
        self.process.stdin.flush()

    def wait_for(self, found: Callable[[str], bool], timeout_s: float = 60) -> str:
        with self._changed:
            assert self._changed.wait_for(
                lambda: any(found(line) for line in self.lines), timeout_s), self.lines
            return next(line for line in self.lines if found(line))

    def run(self, block: str, timeout_s: float = 60) -> list[str]:
        """Types `block`; the lines it printed, once it has run."""
        start = len(self.lines)
        self.type(f"{block}\necho {self.MARK}\n")
        self.wait_for(lambda line: line == self.MARK, timeout_s)
        with self._changed:
            printed = self.lines[start:self.lines.index(self.MARK)]
            self.lines.remove(self.MARK)
        return printed

    def close(self) -> int:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def settled(api: str, timeout_s: float = 10) -> None:
    """The kiosk's loop has shown its first state."""
    deadline = time.monotonic() + timeout_s
    while httpx.get(f"{api}/v1/health").json()["state"] == "starting":
        assert time.monotonic() < deadline, "the kiosk's loop did not start"
        time.sleep(0.05)


def free_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


def test_the_laptop_recipe_for_the_till_works_word_for_word(
    checkout: Path, sandbox_port: str, clean_environ: dict[str, str]
) -> None:
    sandbox, kiosk_block, till_block, later_block = section_blocks("### Trying it on a laptop")
    assert sandbox == recipe_blocks()[0]  # the sandbox the fixture runs, as written
    api_port = free_port()

    def ported(block: str) -> str:
        return block.replace(DEFAULT_PORT, sandbox_port).replace(API_PORT, api_port)

    kiosk, till = Terminal(checkout, clean_environ), Terminal(checkout, clean_environ)
    try:
        kiosk.type(ported(kiosk_block))
        kiosk.wait_for(lambda line: "running: mode age" in line)
        settled(f"http://127.0.0.1:{api_port}")  # a person reads that line, then turns away
        health, armed, code = till.run(ported(till_block))
        assert json.loads(health)["state"] == "attended_wait"
        check = json.loads(armed)
        assert (check["state"], check["reference"]) == ("armed", "receipt-1042")
        assert re.fullmatch(r"\d{13}", code)
        kiosk.type(code + "\n")  # "type it in the kiosk's terminal"
        shown = json.loads(kiosk.wait_for(lambda line: '"event": "verdict"' in line))
        assert (shown["outcome"], shown["mode"]) == ("pass", "age")
        printed = till.run(ported(later_block))
    finally:
        till.close()
        status = kiosk.close()  # its stdin ends: the run ends after the last verdict
    assert status == 0, kiosk.lines
    answers = [json.loads(line) for line in printed if line.startswith("{")]
    done, waiting, acked, nothing, _policy, shared, acked_again, cancelled = answers
    assert (done["id"], done["state"], done["verdict"]["outcome"]) == (check["id"], "done",
                                                                        "pass")
    assert (waiting["error"], nothing["error"]) == ("verdict_waiting", "nothing_to_acknowledge")
    assert acked == acked_again == {"accepted": "acknowledge"}
    assert (shared["state"], shared["verdict"]["reason"]) == ("done", "shared")
    assert shared["verdict"]["request_id"] == shared["request_id"]
    assert cancelled["state"] == "cancelled" and cancelled["reference"] == "parcel-77"
    stream = [json.loads(line[6:]) for line in printed if line.startswith("data: ")]
    verdicts = [e.get("reference") for e in stream if e["event"] == "verdict"]
    assert verdicts == ["receipt-1042", "contract-6"]
    assert ("parcel-77", "cancelled") in {(e.get("reference"), e.get("state")) for e in stream}
    assert not any("Traceback" in line for line in kiosk.lines + till.lines)
