"""docs/client.md's scripts, run as documented (only the server's address changed) in a
subprocess against a real server: each must print what the ```text block after it shows,
ids and durations aside. A `...` line of the page stands for any lines."""

from __future__ import annotations

import difflib
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.api.conftest import Api, Person
from tests.client.conftest import base_url
from tests.docs.markdown import DOCS, Block, blocks_after
from tests.docs.normalise import Ids, normalise
from tests.helpers import flowdeck_env

PAGE = DOCS / "client.md"
# The address the scripts use, replaced by this test's server's.
DOC_URL = "http://127.0.0.1:8080"
# Each section with a script, and whether its lines come in a fixed order: events() looks
# at the execution four times a second, so steps that end between two looks come in the
# order they started in, and which ones do changes from run to run.
SCRIPTS = {"Ten lines": True, "The same with asyncio, following the steps live": False}


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether `actual` is `expected` line for line, a `...` line standing for any lines."""
    if not expected:
        return not actual
    if expected[0] == "...":
        return any(matches(expected[1:], actual[skip:]) for skip in range(len(actual) + 1))
    return bool(actual) and actual[0] == expected[0] and matches(expected[1:], actual[1:])


def matches_in_any_order(expected: list[str], actual: list[str]) -> bool:
    """Whether `actual` has the lines of `expected` in any order but the last line, and no
    others unless the page says `...`."""
    shown = Counter(line for line in expected if line != "...")
    printed = Counter(actual)
    enough = not shown - printed and (printed == shown or "..." in expected)
    return enough and expected[-1:] == actual[-1:]


@pytest.mark.parametrize(("heading", "ordered"), SCRIPTS.items())
def test_the_script_prints_what_the_page_shows(
    heading: str, ordered: bool, engine: Api, ada: Person, tmp_path: Path
) -> None:
    script, printed = _script_and_output(heading)
    url = base_url(engine)
    assert DOC_URL in script.text or "AsyncClient()" in script.text, (
        f"{script.where()}: the script names no server; update this test's DOC_URL"
    )
    path = tmp_path / "example.py"
    path.write_text(script.text.replace(DOC_URL, url), encoding="utf-8")
    env = flowdeck_env(url=url, token=ada.token, config=tmp_path / "absent-config.toml")
    ran = subprocess.run(
        [sys.executable, str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, (
        f"{script.where()}: the script under {heading!r} failed (exit code {ran.returncode})\n"
        f"{ran.stdout}{_on_the_page(ran.stderr, path, script)}"
    )
    expected = normalise(printed.text.replace(DOC_URL, url).splitlines(), Ids())
    actual = normalise(ran.stdout.splitlines(), Ids())
    diff = "\n".join(difflib.unified_diff(expected, actual, "page", "printed", lineterm=""))
    compare = matches if ordered else matches_in_any_order
    assert compare(expected, actual), (
        f"{printed.where()}: the script at {script.where()} printed other than this output"
        f"{'' if ordered else ' (its lines in any order)'}\n{diff}"
    )


def _script_and_output(heading: str) -> tuple[Block, Block]:
    """The section's python block and the text block after it (its output)."""
    found = blocks_after(PAGE, heading)
    languages = [block.language for block in found]
    assert languages[:2] == ["python", "text"], (
        f"{found[0].where()}: expected a python block then a text block under {heading!r}, "
        f"found {languages}"
    )
    return found[0], found[1]


def _on_the_page(traceback: str, path: Path, script: Block) -> str:
    """The traceback with the script's lines named as the page's (`docs/client.md:17`)."""
    return re.sub(
        rf'File "{re.escape(str(path))}", line (\d+)',
        lambda match: f"File {script.where(int(match.group(1)) - 1)}",
        traceback,
    )
