"""The CLI reads the person's files with the bounded parser (and the default limits): an
alias bomb typed in `workflows edit` or a deep `--inputs-file` is refused at once, naming
the limit, and nothing reaches the server."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from tests.api.conftest import Api, Person
from tests.cli.conftest import Cli
from tests.unit.test_documents import alias_bomb

DEFINITION: dict[str, Any] = {"steps": [{"id": "note", "type": "log", "with": {"message": "hi"}}]}


def _workflow(engine: Api, ada: Person) -> dict[str, Any]:
    made = engine.post("/api/workflows", ada, json={"name": "Editable", "definition": DEFINITION})
    assert made.status_code == 201, made.text
    body: dict[str, Any] = made.json()
    return body


def test_edit_refuses_an_alias_bomb_and_keeps_the_file(
    cli: Cli, engine: Api, ada: Person, tmp_path: Path
) -> None:
    workflow = _workflow(engine, ada)
    bomb = "name: Bombed\ndefinition:\n  steps: []\n" + alias_bomb()
    script = tmp_path / "editor.py"
    script.write_text(f"import pathlib, sys\npathlib.Path(sys.argv[1]).write_text({bomb!r})\n")
    cli.monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    cli.monkeypatch.delenv("VISUAL", raising=False)
    started = time.perf_counter()
    edited = cli("workflows", "edit", "Editable", input="n\n")
    assert time.perf_counter() - started < 5  # the editor is a Python process of its own
    assert edited.exit_code == 1, edited.output
    assert (
        "The edit was not saved: The document has more than 100000 nodes once its aliases "
        "are expanded (FLOWDECK_DOCUMENT_MAX_NODES) at line 9."
    ) in edited.stderr
    kept = Path(edited.stderr.split("Your edits are kept in ")[1].split()[0])
    assert kept.read_text() == bomb
    kept.unlink()
    now = engine.get(f"/api/workflows/{workflow['id']}", ada).json()
    assert (now["name"], now["definition"]) == ("Editable", workflow["definition"])


def test_a_deep_inputs_file_is_refused_naming_the_depth_limit(
    cli: Cli, engine: Api, ada: Person, tmp_path: Path
) -> None:
    _workflow(engine, ada)
    deep = tmp_path / "inputs.json"
    deep.write_text('{"payload": ' + "[" * 10_000 + "]" * 10_000 + "}")
    ran = cli("run", "Editable", "-f", str(deep))
    assert ran.exit_code != 0
    assert str(ran.exception) == (
        f"--inputs-file {deep}: The document is nested more than 64 levels deep "
        "(FLOWDECK_DOCUMENT_MAX_DEPTH)."
    )
    assert engine.sql("SELECT count(*) AS n FROM workflow_executions")[0]["n"] == 0
