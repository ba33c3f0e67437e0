"""Sign in and out of the web UI (the same browser session the API accepts)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from flowdeck.http.origin import origin
from flowdeck.http.session import (
    ConnDep,
    check_password,
    end_session,
    session_principal,
    start_session,
)
from flowdeck.services.errors import Throttled
from flowdeck.web.render import page, redirect
from flowdeck.web.routing import PageRoute, page_status
from flowdeck.web.session import (
    LOGIN_CSRF_COOKIE,
    ViewerDep,
    checked_form,
    login_token_matches,
    new_login_token,
    safe_next,
)

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _login_page(
    request: Request, next_url: str, error: str | None, email: str = "", status_code: int = 0
) -> Response:
    token = new_login_token()
    response = page(
        request,
        "login.html",
        None,
        status_code=status_code or (401 if error else 200),
        login_token=token,
        next_url=next_url,
        error=error,
        email=email,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.cookie_secure or origin(request).https,
        path="/login",
    )
    return response


@router.get("/")
async def home() -> Response:
    return RedirectResponse("/workflows", status_code=303)


@router.get("/favicon.ico")
async def favicon() -> Response:
    return RedirectResponse("/static/favicon.svg", status_code=301)


@router.get("/login")
async def login_form(request: Request, conn: ConnDep, next: str = "/workflows") -> Response:
    """The sign-in form (straight on to `next` when already signed in)."""
    if await session_principal(request, conn) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, safe_next(next), None)


@router.post("/login")
async def login(request: Request, conn: ConnDep) -> Response:
    """Check the password, start a session, go where the person was going."""
    form = await request.form()
    next_url = safe_next(form.get("next"))
    email = form.get("email")
    password = form.get("password")
    if not login_token_matches(request, form.get("csrf_token")):
        return _login_page(request, next_url, "The form expired; please sign in again.")
    user = None
    shown = email if isinstance(email, str) else ""
    if isinstance(email, str) and isinstance(password, str) and email and password:
        try:
            user = await check_password(request, conn, email.strip(), password)
        except Throttled as refused:  # the form again, saying so
            response = _login_page(request, next_url, refused.message, shown, page_status(refused))
            response.headers["Retry-After"] = str(refused.retry_after)
            return response
    if user is None:
        return _login_page(request, next_url, "The email or the password is wrong.", shown)
    response = redirect(next_url)
    await start_session(request, response, conn, user)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, who: ViewerDep, conn: ConnDep) -> Response:
    """End the session everywhere and go back to the sign-in form."""
    await checked_form(request, who)
    response = redirect("/login", "You are signed out.")
    await end_session(response, conn, who.session_secret)
    return response
