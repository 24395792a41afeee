"""README.md's table of contents: every section listed, in order, each link landing on its
heading (GitHub's anchors: lower case, punctuation dropped, spaces as hyphens)."""

from __future__ import annotations

import re
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
ENTRY = re.compile(r"^( *)- \[(.+)\]\(#([^)]+)\)$")


def anchor(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def headings() -> list[tuple[int, str]]:
    """(level, text) of every ## and ### heading outside code blocks."""
    found, fenced = [], False
    for line in README.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (match := re.match(r"^(#{2,3}) (.+)$", line)):
            found.append((len(match.group(1)), match.group(2)))
    return found


def contents() -> list[tuple[int, str, str]]:
    """(level, text, anchor) of each entry of the contents, before the first section."""
    before = README.split("\n## ", 1)[0]
    return [(2 + len(m.group(1)) // 2, m.group(2), m.group(3))
            for line in before.splitlines() if (m := ENTRY.match(line))]


def test_every_section_is_in_the_contents_in_order() -> None:
    listed = contents()
    assert [(level, text) for level, text, _ in listed] == headings()


def test_every_entry_links_to_its_heading() -> None:
    anchors = {anchor(text) for _, text in headings()}
    for _, text, link in contents():
        assert link == anchor(text) and link in anchors, (text, link)
