"""Signing in: tokens, browser sessions with CSRF, and what is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.api.conftest import Api, error_of


def test_me_with_a_token(api: Api) -> None:
    ada = api.person("ada")
    response = api.get("/api/me", ada)
    assert response.status_code == 200
    assert response.json() == {
        "id": str(ada.id),
        "email": "ada@example.com",
        "display_name": "Ada",
        "is_admin": False,
        "csrf_token": None,
    }


def test_no_credentials_is_401_with_the_error_shape(api: Api) -> None:
    response = api.get("/api/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert error_of(response)["code"] == "unauthorized"


def test_a_malformed_authorization_header_is_401(api: Api) -> None:
    for header in ("Basic abc", "Bearer", "fd_abc"):
        response = api.client.get("/api/me", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert "Bearer <token>" in error_of(response)["message"]


def test_an_unknown_token_is_401(api: Api) -> None:
    response = api.client.get("/api/me", headers={"Authorization": "Bearer fd_not-a-real-token"})
    assert response.status_code == 401
    assert "not valid" in error_of(response)["message"]


def test_a_revoked_token_is_refused(api: Api) -> None:
    ada = api.person("ada")
    created = api.post("/api/tokens", ada, json={"name": "laptop"}).json()
    laptop = {"Authorization": f"Bearer {created['token']}"}
    assert api.client.get("/api/me", headers=laptop).status_code == 200
    assert api.delete(f"/api/tokens/{created['id']}", ada).status_code == 204
    assert api.client.get("/api/me", headers=laptop).status_code == 401
    listed = {t["id"]: t for t in api.get("/api/tokens", ada).json()}
    assert listed[created["id"]]["revoked_at"] is not None


def test_an_expired_token_is_refused(api: Api) -> None:
    ada = api.person("ada")
    soon = datetime.now(UTC) + timedelta(hours=1)
    created = api.post(
        "/api/tokens", ada, json={"name": "short", "expires_at": soon.isoformat()}
    ).json()
    headers = {"Authorization": f"Bearer {created['token']}"}
    assert api.client.get("/api/me", headers=headers).status_code == 200
    api.sql(
        "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = %s",
        created["id"],
    )
    assert api.client.get("/api/me", headers=headers).status_code == 401


def test_tokens_are_shown_once_and_listed_by_prefix(api: Api) -> None:
    ada = api.person("ada")
    created = api.post("/api/tokens", ada, json={"name": "ci"})
    assert created.status_code == 201
    token = created.json()["token"]
    assert token.startswith("fd_") and len(token) > 40
    assert created.json()["prefix"] == token[:10]
    listed = api.get("/api/tokens", ada).json()
    assert [t["name"] for t in listed] == ["ci", "tests"]
    assert all("token" not in t for t in listed)
    stored = api.sql("SELECT token_hash FROM api_tokens WHERE id = %s", created.json()["id"])
    assert token not in stored[0]["token_hash"]


def test_token_use_is_recorded(api: Api) -> None:
    ada = api.person("ada")
    api.get("/api/me", ada)
    used = api.sql("SELECT last_used_at FROM api_tokens WHERE user_id = %s", ada.id)
    assert used[0]["last_used_at"] is not None


def test_another_users_token_cannot_be_revoked(api: Api) -> None:
    ada, bob = api.person("ada"), api.person("bob")
    bobs = api.get("/api/tokens", bob).json()[0]["id"]
    response = api.delete(f"/api/tokens/{bobs}", ada)
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    assert api.get("/api/me", bob).status_code == 200


def test_login_sets_a_protected_session_cookie(api: Api) -> None:
    ada = api.person("ada")
    response = api.post(
        "/api/auth/login", json={"email": "ADA@example.com", "password": ada.password}
    )
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("flowdeck_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert response.json()["email"] == "ada@example.com"
    assert len(response.json()["csrf_token"]) == 64


def test_wrong_password_and_unknown_email_look_the_same(api: Api) -> None:
    api.person("ada")
    wrong = api.post("/api/auth/login", json={"email": "ada@example.com", "password": "nope"})
    unknown = api.post("/api/auth/login", json={"email": "who@example.com", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert error_of(wrong) == error_of(unknown)
    assert "set-cookie" not in wrong.headers


def test_session_changes_need_the_csrf_token(api: Api) -> None:
    ada = api.person("ada")
    login = api.post("/api/auth/login", json={"email": ada.email, "password": ada.password})
    csrf = login.json()["csrf_token"]
    # The TestClient keeps the cookie, as a browser would.
    assert api.client.get("/api/me").json()["csrf_token"] == csrf
    refused = api.client.post("/api/tokens", json={"name": "forged"})
    assert refused.status_code == 403
    assert error_of(refused)["code"] == "csrf_failed"
    wrong = api.client.post(
        "/api/tokens", json={"name": "forged"}, headers={"X-CSRF-Token": "0" * 64}
    )
    assert wrong.status_code == 403
    allowed = api.client.post("/api/tokens", json={"name": "mine"}, headers={"X-CSRF-Token": csrf})
    assert allowed.status_code == 201


def test_logout_ends_the_session_everywhere(api: Api) -> None:
    ada = api.person("ada")
    login = api.post("/api/auth/login", json={"email": ada.email, "password": ada.password})
    cookie = api.client.cookies.get("flowdeck_session")
    assert cookie
    out = api.client.post("/api/auth/logout", headers={"X-CSRF-Token": login.json()["csrf_token"]})
    assert out.status_code == 204
    # Even a copy of the old cookie no longer works.
    replay = httpx.get(
        str(api.client.base_url.join("/api/me")), headers={"Cookie": f"flowdeck_session={cookie}"}
    )
    assert replay.status_code == 401


def test_a_tampered_session_cookie_is_401(api: Api) -> None:
    ada = api.person("ada")
    api.post("/api/auth/login", json={"email": ada.email, "password": ada.password})
    cookie = api.client.cookies.get("flowdeck_session")
    assert cookie
    api.client.cookies.set(
        "flowdeck_session", cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")
    )
    assert api.client.get("/api/me").status_code == 401
