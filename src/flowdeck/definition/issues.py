"""Problems found in a definition or in given inputs, each at a JSON path."""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from flowdeck.errors import FlowdeckError

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SHOWN = 20  # issues listed in the message; all of them stay in `.issues`


@dataclass(frozen=True)
class Issue:
    """One problem: where it is and a sentence a person can act on."""

    path: str  # "steps[2].with.url", "inputs.url.type", "" for the document itself
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class DefinitionError(FlowdeckError):
    """A definition (or the inputs given to one) has problems; `issues` holds all of them."""

    def __init__(self, issues: Sequence[Issue], *, subject: str = "the definition") -> None:
        self.issues = list(issues)
        self.subject = subject
        count = len(self.issues)
        if count == 1:
            summary = f"1 problem in {subject}: {self.issues[0]}"
        else:
            lines = [f"- {issue}" for issue in self.issues[:_SHOWN]]
            if count > _SHOWN:
                lines.append(f"- ... and {count - _SHOWN} more")
            summary = f"{count} problems in {subject}:\n" + "\n".join(lines)
        super().__init__(summary)


def join_path(base: str, *parts: str | int) -> str:
    """`base` extended by keys and indexes: ("steps", 2, "with") -> "steps[2].with".

    Keys that are not plain names are quoted: `with.headers["Content-Type"]`.
    """
    path = base
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            path += f".{part}" if path else part
        else:
            path += f"[{json.dumps(part)}]"
    return path


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'inputs'?)' when a choice is close to `word`, else ''."""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


_TOP_ORDER = ("goal", "inputs", "conditions", "steps", "outputs", "timeout")
_TOKEN = re.compile(r"\[(\d+)\]|\[(\"(?:[^\"\\]|\\.)*\")\]|([^.\[\]]+)")


def _path_key(path: str) -> list[tuple[int, int | str]]:
    """Sorts paths in document order: top-level keys as written, indexes as numbers."""
    key: list[tuple[int, int | str]] = []
    for number, quoted, plain in _TOKEN.findall(path):
        if number:
            key.append((0, int(number)))
        elif not key:
            name = json.loads(quoted) if quoted else plain
            rank = _TOP_ORDER.index(name) if name in _TOP_ORDER else len(_TOP_ORDER)
            key.append((0, rank))
        else:
            key.append((1, json.loads(quoted) if quoted else plain))
    return key


def sort_issues(issues: Iterable[Issue]) -> list[Issue]:
    """Issues in document order, without repeats."""
    unique = list(dict.fromkeys(issues))
    return sorted(unique, key=lambda issue: _path_key(issue.path))


def json_problems(value: object, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, problem) for each value YAML can express but JSON cannot hold (dates,
    non-text keys, NaN, binary): documents are stored as JSON, so such a value is refused
    at its path rather than failing when it is written."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                yield path or "(top)", f"key {key!r} must be text (quote it in the YAML)"
                continue
            yield from json_problems(item, join_path(path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from json_problems(item, join_path(path, index))
    elif isinstance(value, float) and not math.isfinite(value):
        yield path, f"{value} is not a JSON number"
    elif value is not None and not isinstance(value, str | int | float | bool):
        yield path, f"{type(value).__name__} is not a JSON value (quote it in the YAML)"
