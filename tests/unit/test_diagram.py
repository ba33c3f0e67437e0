"""The workflow diagram: what each step type shows, nesting, escaping, statuses, odd shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from importlib import resources
from typing import Any

import pytest
import yaml
from markupsafe import Markup

from flowdeck.catalog.loader import load_template_text
from flowdeck.web.diagram import render_diagram


@dataclass
class Node:
    """One element of the rendered HTML, with its children and the text directly in it."""

    tag: str
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    text: str = ""

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def find_all(self, css_class: str) -> list[Node]:
        """Every descendant with the class, in document order."""
        found: list[Node] = []
        for child in self.children:
            if css_class in child.classes:
                found.append(child)
            found.extend(child.find_all(css_class))
        return found

    def child(self, css_class: str) -> Node:
        """The one direct child with the class."""
        (match,) = [node for node in self.children if css_class in node.classes]
        return match

    def all_text(self) -> str:
        return self.text + "".join(child.all_text() for child in self.children)


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {name: value or "" for name, value in attrs})
        self.stack[-1].children.append(node)
        self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].text += data


def parse(html: str) -> Node:
    """The diagram as a tree; fails on unbalanced tags, so every test checks nesting too."""
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    assert builder.stack == [builder.root], "unclosed tags"
    (diagram,) = builder.root.children
    return diagram


def box(diagram: Node, step_id: str) -> Node:
    (step,) = [
        node for node in diagram.find_all("fd-step") if node.attrs.get("id") == f"fd-step-{step_id}"
    ]
    assert step.attrs["data-step-id"] == step_id
    return step


def summary(diagram: Node, step_id: str) -> str:
    return box(diagram, step_id).child("fd-box").child("fd-summary").all_text()


def ids_in(sequence: Node) -> list[str]:
    """The step ids directly in one `<ol>`, in order."""
    return [item.attrs["data-step-id"] for item in sequence.children if "fd-step" in item.classes]


def test_every_step_type_shows_what_it_does() -> None:
    steps: list[dict[str, Any]] = [
        {"id": "fetch", "type": "http", "with": {"method": "post", "url": "https://x.test/a"}},
        {"id": "plain_get", "type": "http", "with": {"url": "{{ inputs.url }}"}},
        {"id": "calc", "type": "set", "with": {"total": 1, "label": "x"}},
        {"id": "pause", "type": "delay", "with": {"for": "10m"}},
        {"id": "at_nine", "type": "delay", "with": {"until": "2030-01-31T09:00:00Z"}},
        {"id": "approval", "type": "wait", "with": {"signal": "approve", "timeout": "1d"}},
        {"id": "child", "type": "workflow", "with": {"workflow": "daily-report"}},
        {"id": "mail", "type": "email", "with": {"to": ["a@x.test", "b@x.test"], "subject": "Hi"}},
        {"id": "ask", "type": "llm", "with": {"model": "gpt-4o-mini", "prompt": "p"}},
        {"id": "note", "type": "log", "with": {"message": "hello"}},
        {"id": "warn", "type": "log", "with": {"message": "careful", "level": "warning"}},
        {"id": "stop", "type": "fail", "with": {"message": "too many"}},
        {"id": "check", "type": "branch", "if": "{{ inputs.n > 0 }}", "then": [], "else": []},
        {"id": "each", "type": "foreach", "items": "{{ inputs.urls }}", "concurrency": 4},
        {"id": "serial", "type": "foreach", "items": [1, 2], "steps": []},
        {"id": "both", "type": "parallel", "branches": {"eu": [], "us": []}},
    ]
    diagram = parse(render_diagram(steps))
    expected = {
        "fetch": "POST https://x.test/a",
        "plain_get": "GET {{ inputs.url }}",
        "calc": "total, label",
        "pause": "for 10m",
        "at_nine": "until 2030-01-31T09:00:00Z",
        "approval": "signal approve · up to 1d",
        "child": "run daily-report",
        "mail": "to a@x.test, b@x.test · Hi",
        "ask": "model gpt-4o-mini",
        "note": "hello",
        "warn": "warning: careful",
        "stop": "too many",
        "check": "if inputs.n > 0",
        "each": "for each item in inputs.urls · 4 at a time",
        "serial": "for each item in [1, 2] · one at a time",
        "both": "2 branches at the same time: eu, us",
    }
    assert {step_id: summary(diagram, step_id) for step_id in expected} == expected
    assert ids_in(diagram) == [step["id"] for step in steps]
    for step in steps:
        element = box(diagram, step["id"])
        assert f"fd-type-{step['type']}" in element.classes
        head = element.child("fd-box").child("fd-head")
        assert head.child("fd-id").all_text() == step["id"]
        assert head.child("fd-badge").all_text() == step["type"]


def test_name_markers_and_a_long_summary() -> None:
    url = "https://example.test/" + "a" * 200
    steps = [
        {
            "id": "call",
            "name": "Call the API",
            "type": "http",
            "when": "{{ inputs.go }}",
            "retry": {"attempts": 5},
            "continue_on_error": True,
            "with": {"url": url},
        },
        {"id": "always", "type": "log", "when": True, "with": {"message": "m"}},
    ]
    diagram = parse(render_diagram(steps))
    call = box(diagram, "call").child("fd-box")
    assert call.child("fd-name").all_text() == "Call the API"
    line = call.child("fd-summary")
    assert len(line.all_text()) <= 80 and line.all_text().endswith("…")
    assert line.attrs["title"] == f"GET {url}"  # the whole line on hover
    markers = [marker.all_text() for marker in call.find_all("fd-marker")]
    assert markers == ["conditional", "retry: 5 attempts", "continues on error"]
    assert call.find_all("fd-marker-when")[0].attrs["title"] == "when: {{ inputs.go }}"
    # `when: true` is no condition; no name, no marker, no status
    always = box(diagram, "always").child("fd-box")
    assert always.find_all("fd-marker") == [] and always.find_all("fd-name") == []


def test_nesting_draws_lanes_and_loops() -> None:
    steps: list[dict[str, Any]] = [
        {"id": "first", "type": "log", "with": {"message": "start"}},
        {
            "id": "gate",
            "type": "branch",
            "if": "{{ inputs.ok }}",
            "then": [
                {
                    "id": "fan",
                    "type": "parallel",
                    "branches": {
                        "left": [
                            {
                                "id": "loop",
                                "type": "foreach",
                                "items": "{{ inputs.xs }}",
                                "concurrency": 2,
                                "steps": [
                                    {"id": "ping", "type": "http", "with": {"url": "{{ item }}"}},
                                    {"id": "mark", "type": "set", "with": {"ok": True}},
                                ],
                            }
                        ],
                        "right": [{"id": "solo", "type": "delay", "with": {"for": "1s"}}],
                    },
                },
                {"id": "after_fan", "type": "log", "with": {"message": "joined"}},
            ],
        },
        {"id": "last", "type": "log", "with": {"message": "end"}},
    ]
    diagram = parse(render_diagram(steps))
    assert diagram.tag == "ol" and {"fd-diagram", "fd-seq"} <= diagram.classes
    assert ids_in(diagram) == ["first", "gate", "last"]

    gate_lanes = box(diagram, "gate").child("fd-lanes")
    assert [lane.attrs["data-lane"] for lane in gate_lanes.children] == ["then", "else"]
    then, otherwise = gate_lanes.children
    assert then.child("fd-lane-label").all_text() == "then"
    assert ids_in(then.child("fd-seq")) == ["fan", "after_fan"]
    # no else steps: the lane is drawn, saying so
    assert [item.all_text() for item in otherwise.child("fd-seq").children] == ["nothing"]

    fan_lanes = box(diagram, "fan").child("fd-lanes")
    left, right = fan_lanes.children
    assert [left.attrs["data-lane"], right.attrs["data-lane"]] == ["left", "right"]
    assert ids_in(left.child("fd-seq")) == ["loop"]
    assert ids_in(right.child("fd-seq")) == ["solo"]

    loop = box(diagram, "loop")
    assert summary(diagram, "loop") == "for each item in inputs.xs · 2 at a time"
    assert ids_in(loop.child("fd-loop-body")) == ["ping", "mark"]
    # nested steps belong to their container only, not to the sequence around it
    assert "ping" not in ids_in(left.child("fd-seq"))


def test_user_text_is_escaped() -> None:
    evil = '<script>alert("x")</script>'
    steps = [
        {
            "id": evil,
            "name": evil,
            "type": "http",
            "when": evil,
            "with": {"method": evil, "url": f"https://x.test/?q={evil}"},
        },
        {"id": "b", "type": "parallel", "branches": {evil: [{"id": "c", "type": "set"}]}},
    ]
    html = render_diagram(steps, statuses={evil: "failed"})
    assert isinstance(html, Markup)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    diagram = parse(html)
    (first, _) = diagram.children
    assert first.child("fd-box").child("fd-name").all_text() == evil
    assert first.attrs["data-step-id"] == evil
    lane = box(diagram, "b").child("fd-lanes").children[0]
    assert lane.attrs["data-lane"] == evil


def test_statuses_become_classes() -> None:
    steps: list[dict[str, Any]] = [
        {"id": "a", "type": "log", "with": {"message": "m"}},
        {"id": "b", "type": "foreach", "items": [1], "steps": [{"id": "c", "type": "set"}]},
        {"id": "d", "type": "log", "with": {"message": "m"}},
    ]
    statuses = {"a": "succeeded", "b": "running", "c": "waiting", "d": 'x" onclick="y'}
    diagram = parse(render_diagram(steps, statuses=statuses))
    assert "status-succeeded" in box(diagram, "a").classes
    assert "status-running" in box(diagram, "b").classes
    assert "status-waiting" in box(diagram, "c").classes
    head = box(diagram, "a").child("fd-box").child("fd-head")
    assert head.child("fd-status").all_text() == "succeeded"
    # a value that is not a plain status word never reaches the class attribute
    assert box(diagram, "d").classes == {"fd-step", "fd-type-log"}
    assert "onclick" not in box(diagram, "d").attrs
    for status in ("failed", "skipped", "cancelled", "queued"):
        one = parse(render_diagram(steps, statuses={"d": status}))
        assert f"status-{status}" in box(one, "d").classes
    # without statuses, no box has a status class
    assert not any(
        cls.startswith("status-")
        for node in parse(render_diagram(steps)).find_all("fd-step")
        for cls in node.classes
    )


@pytest.mark.parametrize(
    "steps",
    [
        [{"id": "no_type"}],
        [{"id": "odd", "type": "branch", "if": "x", "then": "not a list", "else": 5}],
        [{"id": "lone", "type": "branch", "then": {"id": "x", "type": "set"}}],
        [{"id": "p", "type": "parallel", "branches": ["a", "b"]}],
        [{"id": "f", "type": "foreach", "steps": None, "concurrency": "lots"}],
        [{"id": "h", "type": "http", "with": "GET /"}, {"id": 7, "type": ["x"]}],
        [{"id": "e", "type": "email", "with": {"to": {"a": 1}, "subject": None}}],
        [{"type": "mystery", "with": {1: object()}}, None, "text", 3],
        [],
    ],
)
def test_odd_shapes_render_without_raising(steps: list[Any]) -> None:
    diagram = parse(render_diagram(steps))
    assert diagram.tag == "ol"
    for step in steps:
        if isinstance(step, dict) and isinstance(step.get("id"), str):
            box(diagram, step["id"])


def test_an_unknown_type_is_a_plain_box() -> None:
    steps: list[Any] = [{"id": "no_type"}, {"id": "w", "type": "warp"}, 42]
    diagram = parse(render_diagram(steps))
    assert "fd-type-unknown" in box(diagram, "no_type").classes
    assert box(diagram, "w").child("fd-box").child("fd-head").child("fd-badge").all_text() == (
        "warp"
    )
    assert diagram.children[2].all_text() == "??42"  # no id, no type, the value itself


def test_self_referencing_yaml_stops_at_a_depth() -> None:
    document = yaml.safe_load("steps: &s [{id: deep, type: foreach, items: [1], steps: *s}]")
    diagram = parse(render_diagram(document["steps"]))
    assert "nested too deep to draw" in diagram.all_text()


TEMPLATE_FILES = sorted(
    entry.name
    for entry in resources.files("flowdeck.catalog").joinpath("builtin").iterdir()
    if entry.name.endswith(".yaml")
)


def _step_ids(steps: object) -> list[str]:
    """Every step id in a definition's steps, nested ones included."""
    ids: list[str] = []
    for step in steps if isinstance(steps, list) else []:
        ids.append(step["id"])
        ids.extend(_step_ids(step.get("then")) + _step_ids(step.get("else")))
        ids.extend(_step_ids(step.get("steps")))
        for branch in (step.get("branches") or {}).values():
            ids.extend(_step_ids(branch))
    return ids


@pytest.mark.parametrize("name", TEMPLATE_FILES)
def test_every_builtin_template_renders(name: str) -> None:
    folder = resources.files("flowdeck.catalog").joinpath("builtin")
    template = load_template_text(folder.joinpath(name).read_text(encoding="utf-8"), name)
    steps = template.definition()["steps"]
    diagram = parse(render_diagram(steps))
    drawn = [node.attrs["data-step-id"] for node in diagram.find_all("fd-step")]
    expected = _step_ids(steps)
    assert expected and drawn == expected
    assert not diagram.find_all("fd-type-unknown")
