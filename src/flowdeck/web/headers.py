"""Security headers on every answer: the pages' Content-Security-Policy and friends, and
`X-Content-Type-Options: nosniff` on everything (API JSON included).

The pages run no inline script: app.js is their only script, loaded from /static. Style
comes from /static too; only style *attributes* are allowed inline, because the
execution timeline places its bars with `style="left: …%; width: …%"` — numbers the
server computes, in autoescaped templates. `<style>` elements and inline scripts are
refused. FastAPI's interactive API page (/api/docs) loads Swagger UI from a CDN with an
inline script; it is not one of our pages and keeps only nosniff.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    )
)
NOSNIFF = (b"x-content-type-options", b"nosniff")
PAGE_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
)
NOT_PAGES = ("/api/", "/hooks/")


class SecurityHeadersMiddleware:
    """Add the headers to every HTTP answer (those the app set itself are kept)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        extra = [NOSNIFF] if path.startswith(NOT_PAGES) else [NOSNIFF, *PAGE_HEADERS]

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(header for header in extra if header[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
