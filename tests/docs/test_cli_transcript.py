"""docs/cli.md's "Getting started" transcript, run command by command against a real
server: each `$ flowdeck ...` must succeed and print what the page shows, ids, times and
durations aside."""

from __future__ import annotations

import difflib
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowdeck.cli import app
from tests.api.conftest import Api, Person
from tests.client.conftest import base_url
from tests.docs.markdown import DOCS, Block, block_after
from tests.docs.normalise import Ids, normalise

PAGE = DOCS / "cli.md"
HEADING = "Getting started: a transcript"
# What the transcript was run with, replaced by this test's server and config file.
DOC_URL = "http://127.0.0.1:18080"
DOC_CONFIG = "/tmp/fd-demo/config2.toml"
# A prompt and the answer typed after it: "Email: ada@example.com", "Password:".
PROMPT = re.compile(r"^(?P<label>[A-Z][\w ]*)(?: \[[^\]]*\])?:(?: (?P<answer>.*))?$")
# A finished step of `run --wait`: the steps may end in another order than the page's.
STEP = re.compile(r"^  [✓✗-] ")
# `run` prints the status the server answered with; the worker may have claimed it already.
STARTED = re.compile(r"^(Execution <id\d+> of .*): (queued|running)$")


@dataclass
class Command:
    """A `$ ...` line of the transcript (joined with its `\\` continuations) and what it
    printed; `offset` is its line in the block."""

    offset: int
    line: str
    output: list[str]

    @property
    def args(self) -> list[str]:
        return shlex.split(self.line)


def commands(block: Block) -> list[Command]:
    found: list[Command] = []
    lines = block.lines
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("$ "):
            offset, text = index, line[2:]
            while text.endswith("\\"):
                index += 1
                text = text[:-1].rstrip() + " " + lines[index].strip()
            found.append(Command(offset, text, []))
        else:
            assert found, f"{block.where(index)}: output before the first `$` command"
            found[-1].output.append(line)
        index += 1
    return found


def answers(command: Command, password: str) -> str:
    """What a person types at the command's prompts, as the transcript shows them."""
    typed: list[str] = []
    for line in command.output:
        match = PROMPT.match(line)
        if not match:
            break
        typed.append(password if match["label"] == "Password" else match["answer"] or "")
    return "".join(f"{answer}\n" for answer in typed)


def comparable(lines: list[str], ids: Ids) -> list[str]:
    """Normalised (see tests/docs/normalise.py), and each run of step lines sorted."""
    result: list[str] = []
    steps: list[str] = []
    for line in [*normalise(lines, ids), ""]:
        line = STARTED.sub(r"\1: <queued or running>", line)
        if STEP.match(line):
            steps.append(line)
            continue
        result.extend(sorted(steps))
        steps = []
        result.append(line)
    return result[:-1]


def test_the_getting_started_transcript(
    engine: Api, ada: Person, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    block = block_after(PAGE, HEADING, "console")
    assert DOC_URL in block.text and DOC_CONFIG in block.text, (
        f"{block.where()}: the transcript no longer uses {DOC_URL} and {DOC_CONFIG}; "
        "update this test's placeholders"
    )
    url, config = base_url(engine), tmp_path / "config2.toml"
    # As a new user would be: no token yet, only where to save one.
    monkeypatch.delenv("FLOWDECK_URL", raising=False)
    monkeypatch.delenv("FLOWDECK_TOKEN", raising=False)
    monkeypatch.setenv("FLOWDECK_CONFIG", str(config))
    runner = CliRunner()
    expected_ids, actual_ids = Ids(), Ids()
    for command in commands(block):
        shown = f"{block.where(command.offset)}: $ {command.line}"
        args = shlex.split(command.line.replace(DOC_URL, url))
        assert args[0] == "flowdeck", f"{shown}: not a flowdeck command"
        typed = answers(command, ada.password).replace(DOC_URL, url)
        result = runner.invoke(app, args[1:], input=typed)
        assert result.exit_code == 0, (
            f"{shown}: exit code {result.exit_code} ({result.exception!r})\n{result.output}"
        )
        documented = [
            line.replace(DOC_URL, url).replace(DOC_CONFIG, str(config)) for line in command.output
        ]
        expected = comparable(documented, expected_ids)
        actual = comparable(result.output.splitlines(), actual_ids)
        diff = "\n".join(difflib.unified_diff(expected, actual, "page", "printed", lineterm=""))
        assert actual == expected, f"{shown}: the output differs from the page's\n{diff}"
