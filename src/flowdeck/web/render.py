"""Rendering pages: the Jinja2 environment, its filters, and one-time notices.

Templates live in `web/templates/`, autoescaped. A notice ("Workflow deleted.") set
by a form's redirect travels in a short-lived cookie and is shown once by the next
page, so URLs stay clean and a reload does not repeat it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from flowdeck import __version__
from flowdeck.humanize import took
from flowdeck.web.diagram import render_diagram
from flowdeck.web.session import CSRF_FIELD, Viewer

NOTICE_COOKIE = "flowdeck_notice"
NOTICE_KINDS = ("ok", "error")


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """'just now', '3 min ago', '5 h ago', '2 d ago', then the date; 'never' for None."""
    if moment is None:
        return "never"
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    if seconds < 0:
        return "in the future"
    for limit, size, unit in (
        (60, 1, "s"),
        (3600, 60, "min"),
        (86400, 3600, "h"),
        (86400 * 30, 86400, "d"),
    ):
        if seconds < limit:
            return (
                "just now" if unit == "s" and seconds < 5 else f"{int(seconds // size)} {unit} ago"
            )
    return moment.strftime("%Y-%m-%d")


def duration(start: datetime | None, end: datetime | None) -> str:
    """How long from start to end (or to now while running); '' when it has not started."""
    if start is None:
        return ""
    return took((end or datetime.now(UTC)) - start)


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=False, default=str, ensure_ascii=False)


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("flowdeck.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,  # a typo in a template fails its test, not silently
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ago"] = ago
    env.filters["pretty_json"] = pretty_json
    env.filters["took"] = took
    env.globals["duration"] = duration
    env.globals["diagram"] = render_diagram
    env.globals["version"] = __version__
    env.globals["csrf_field"] = CSRF_FIELD
    return env


ENV = _environment()


def page(
    request: Request,
    template_name: str,
    who: Viewer | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render a page template; the notice set by the last redirect is shown and cleared."""
    notice = request.cookies.get(NOTICE_COOKIE)
    kind, _, text = unquote(notice or "").partition(":")
    html = ENV.get_template(template_name).render(
        request=request,
        who=who,
        path=request.url.path,
        notice={"kind": kind, "text": text} if text and kind in NOTICE_KINDS else None,
        **context,
    )
    response = HTMLResponse(html, status_code=status_code)
    if notice is not None:
        response.delete_cookie(NOTICE_COOKIE, path="/")
    return response


def fragment(name: str, **context: Any) -> HTMLResponse:
    """A piece of a page (the live timeline), without the layout."""
    return HTMLResponse(ENV.get_template(name).render(**context))


def redirect(url: str, notice: str | None = None, *, kind: str = "ok") -> RedirectResponse:
    """303 to `url` (POST → GET), carrying a one-time notice for the next page."""
    response = RedirectResponse(url, status_code=303)
    if notice:
        response.set_cookie(
            NOTICE_COOKIE,
            quote(f"{kind}:{notice}"),
            max_age=60,
            httponly=True,
            samesite="lax",
            path="/",
        )
    return response
