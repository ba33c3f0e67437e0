"""Find the examples in the docs: a fenced block by the heading it follows, with the line
it starts on, so that a test can say which line of which page to fix."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^(`{3,}|~{3,})\s*([\w+-]*)")


@dataclass(frozen=True)
class Block:
    """A fenced block: its language, its text, and where it is (`line` is the first line
    of its content, 1-based)."""

    path: Path
    language: str
    line: int
    text: str

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    def where(self, offset: int = 0) -> str:
        """`docs/page.md:N`, N being the block's line `offset` (0: its first line)."""
        return f"{_shown(self.path)}:{self.line + offset}"


def _shown(path: Path) -> str:
    root = DOCS.parent
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def blocks(path: Path) -> list[tuple[str, Block]]:
    """Every fenced block of the page, each with the title of the heading it is under."""
    found: list[tuple[str, Block]] = []
    heading = ""
    fence: str | None = None
    language = ""
    start = 0
    content: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if fence is None:
            if match := _FENCE.match(line):
                fence, language, start, content = match.group(1), match.group(2), number + 1, []
            elif match := _HEADING.match(line):
                heading = match.group(2)
        elif line.strip() == fence:
            found.append((heading, Block(path, language, start, "\n".join(content))))
            fence = None
        else:
            content.append(line)
    return found


def blocks_after(path: Path, heading: str, language: str | None = None) -> list[Block]:
    """The blocks under `heading` (up to the next heading), of `language` if given.

    Fails, naming the page, if there is no such heading or block: a renamed section must
    be noticed, not skipped."""
    under = [
        block
        for title, block in blocks(path)
        if title == heading and (language is None or block.language == language)
    ]
    assert under, f"{_shown(path)}: no {language or 'fenced'} block under the heading {heading!r}"
    return under


def block_after(path: Path, heading: str, language: str | None = None) -> Block:
    """The first block under `heading` (see `blocks_after`)."""
    return blocks_after(path, heading, language)[0]
