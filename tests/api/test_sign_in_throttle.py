"""Sign-in throttling: failures per account and per client address, counted in the
database, answered 429 with Retry-After; client addresses and HTTPS from a trusted proxy
only. Real servers on a real database; the window ends by setting the stored times back."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from flowdeck.api.app import create_app
from flowdeck.config import Settings
from tests.api.conftest import Api, error_of, running_server

LOGIN = "/api/auth/login"
ACCOUNT_LIMIT = 3


@contextmanager
def serving(db_url: str, tmp_path: Path, **settings: Any) -> Iterator[Api]:
    """A server with these settings (low limits by default) on the test's database."""
    chosen = {
        "signin_max_failures_per_account": ACCOUNT_LIMIT,
        "signin_max_failures_per_address": 100,
        **settings,
    }
    config = Settings(database_url=db_url, data_dir=tmp_path, **chosen)
    with (
        running_server(create_app(config, database_url=db_url)) as base_url,
        httpx.Client(base_url=base_url, timeout=30) as client,
    ):
        yield Api(client, db_url)


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[Api]:
    with serving(db_url, tmp_path) as served:
        yield served


def login(api: Api, email: str, password: str, **headers: str) -> httpx.Response:
    response: httpx.Response = api.client.post(
        LOGIN, json={"email": email, "password": password}, headers=headers
    )
    return response


def assert_throttled(response: httpx.Response, window_seconds: int = 900) -> None:
    assert response.status_code == 429, response.text
    assert error_of(response)["code"] == "too_many_attempts"
    assert 0 < int(response.headers["retry-after"]) <= window_seconds
    assert "set-cookie" not in response.headers


def test_failures_past_the_limit_are_429_even_with_the_right_password(api: Api) -> None:
    ada = api.person("ada")
    for _ in range(ACCOUNT_LIMIT):
        assert login(api, ada.email, "wrong").status_code == 401
    refused = login(api, ada.email, "wrong")
    assert_throttled(refused)
    assert "try again in 15 minutes" in error_of(refused)["message"]
    assert_throttled(login(api, ada.email, ada.password))
    # Another account from the same address is not held back by Ada's.
    bob = api.person("bob")
    assert login(api, bob.email, bob.password).status_code == 200


def test_an_unknown_email_is_answered_exactly_like_a_known_one(api: Api) -> None:
    ada = api.person("ada")
    answers: dict[str, list[httpx.Response]] = {"ada@example.com": [], "nobody@example.com": []}
    for _ in range(ACCOUNT_LIMIT):
        for email, seen in answers.items():
            seen.append(login(api, email, "wrong"))
    # Both windows end at the same moment, so that Retry-After is the same second.
    api.sql("UPDATE sign_in_failures SET window_start = now() WHERE kind = 'account'")
    for email, seen in answers.items():
        seen.append(login(api, email, "wrong"))
        seen.append(login(api, email, ada.password))
    known, unknown = answers.values()
    for one, other in zip(known, unknown, strict=True):
        assert one.status_code == other.status_code
        assert one.json() == other.json()
        assert {k: v for k, v in one.headers.items() if k != "date"} == {
            k: v for k, v in other.headers.items() if k != "date"
        }
    assert [r.status_code for r in known] == [401] * ACCOUNT_LIMIT + [429, 429]
    counted = api.sql("SELECT key, failures FROM sign_in_failures WHERE kind = 'account'")
    assert {row["key"]: row["failures"] for row in counted} == {
        "ada@example.com": ACCOUNT_LIMIT + 2,
        "nobody@example.com": ACCOUNT_LIMIT + 2,
    }


def test_letter_case_and_spaces_are_the_same_account(api: Api) -> None:
    ada = api.person("ada")
    for email in ("ADA@example.com", " ada@EXAMPLE.com ", "Ada@Example.Com"):
        assert login(api, email, "wrong").status_code == 401
    assert_throttled(login(api, ada.email, ada.password))


def test_a_success_resets_the_account_but_not_the_address(db_url: str, tmp_path: Path) -> None:
    with serving(db_url, tmp_path, signin_max_failures_per_address=5) as api:
        ada = api.person("ada")
        for _ in range(ACCOUNT_LIMIT - 1):
            assert login(api, ada.email, "wrong").status_code == 401
        assert login(api, ada.email, ada.password).status_code == 200
        for _ in range(ACCOUNT_LIMIT):
            assert login(api, ada.email, "wrong").status_code == 401
        assert_throttled(login(api, ada.email, "wrong"))
        # The address counted every failure (2 + 3 + the refused one); a success was given back.
        counted = api.sql("SELECT failures FROM sign_in_failures WHERE kind = 'address'")
        assert counted == [{"failures": ACCOUNT_LIMIT * 2}]


def test_one_address_is_limited_across_accounts(db_url: str, tmp_path: Path) -> None:
    with serving(
        db_url, tmp_path, signin_max_failures_per_account=100, signin_max_failures_per_address=3
    ) as api:
        ada = api.person("ada")
        for name in ("one", "two", "three"):
            assert login(api, f"{name}@example.com", "wrong").status_code == 401
        assert_throttled(login(api, "four@example.com", "wrong"))
        assert_throttled(login(api, ada.email, ada.password))


def test_two_processes_share_the_count(db_url: str, tmp_path: Path) -> None:
    with (
        serving(db_url, tmp_path / "a") as first,
        serving(db_url, tmp_path / "b") as second,
    ):
        ada = first.person("ada")
        assert login(first, ada.email, "wrong").status_code == 401
        assert login(second, ada.email, "wrong").status_code == 401
        assert login(first, ada.email, "wrong").status_code == 401
        assert_throttled(login(second, ada.email, ada.password))
        assert_throttled(login(first, ada.email, ada.password))


def test_the_window_ending_lets_sign_in_through_and_old_rows_go(api: Api) -> None:
    ada = api.person("ada")
    for _ in range(ACCOUNT_LIMIT):
        login(api, ada.email, "wrong")
    assert_throttled(login(api, ada.email, ada.password))
    api.sql("UPDATE sign_in_failures SET window_start = window_start - interval '14 minutes'")
    assert_throttled(login(api, ada.email, ada.password), window_seconds=60)
    api.sql("UPDATE sign_in_failures SET window_start = window_start - interval '1 minute'")
    # Someone else's failure clears away every row whose window ended.
    assert login(api, "someone@example.com", "wrong").status_code == 401
    keys = {row["key"] for row in api.sql("SELECT key FROM sign_in_failures")}
    assert keys == {"someone@example.com", "127.0.0.1"}
    assert login(api, ada.email, ada.password).status_code == 200


@pytest.mark.parametrize("trusted", [False, True])
def test_x_forwarded_for_counts_only_from_a_trusted_proxy(
    db_url: str, tmp_path: Path, trusted: bool
) -> None:
    proxies = "127.0.0.1/32, ::1" if trusted else ""
    with serving(
        db_url,
        tmp_path,
        signin_max_failures_per_account=100,
        signin_max_failures_per_address=2,
        trusted_proxies=proxies,
    ) as api:
        for name in ("one", "two"):
            sent = login(api, f"{name}@example.com", "wrong", **{"X-Forwarded-For": "203.0.113.1"})
            assert sent.status_code == 401
        # A client that writes its own X-Forwarded-For is still known by what our proxy added.
        spoofed = {"X-Forwarded-For": "198.51.100.7, 203.0.113.1"}
        assert_throttled(login(api, "three@example.com", "wrong", **spoofed))
        other = login(api, "four@example.com", "wrong", **{"X-Forwarded-For": "203.0.113.2"})
        assert other.status_code == (401 if trusted else 429)
        addresses = {
            row["key"] for row in api.sql("SELECT key FROM sign_in_failures WHERE kind = 'address'")
        }
        assert addresses == ({"203.0.113.1", "203.0.113.2"} if trusted else {"127.0.0.1"})


def test_ipv6_clients_are_counted_by_their_64(db_url: str, tmp_path: Path) -> None:
    with serving(
        db_url, tmp_path, signin_max_failures_per_address=1, trusted_proxies="127.0.0.1"
    ) as api:
        first = {"X-Forwarded-For": "2001:db8:1:2::10"}
        assert login(api, "one@example.com", "wrong", **first).status_code == 401
        same_net = {"X-Forwarded-For": "2001:db8:1:2:ffff::1"}
        assert_throttled(login(api, "two@example.com", "wrong", **same_net))
        stored = api.sql("SELECT key FROM sign_in_failures WHERE kind = 'address'")
        assert stored == [{"key": "2001:db8:1:2::/64"}]


@pytest.mark.parametrize("trusted", [False, True])
def test_the_session_cookie_is_secure_over_https_from_a_trusted_proxy(
    db_url: str, tmp_path: Path, trusted: bool
) -> None:
    with serving(db_url, tmp_path, trusted_proxies="127.0.0.1" if trusted else "") as api:
        ada = api.person("ada")
        https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
        cookie = login(api, ada.email, ada.password, **https).headers["set-cookie"]
        assert ("Secure" in cookie) is trusted
        plain = login(api, ada.email, ada.password, **{"X-Forwarded-Proto": "http"})
        assert "Secure" not in plain.headers["set-cookie"]


def test_cookie_secure_setting_forces_the_flag(db_url: str, tmp_path: Path) -> None:
    with serving(db_url, tmp_path, cookie_secure=True) as api:
        ada = api.person("ada")
        assert "Secure" in login(api, ada.email, ada.password).headers["set-cookie"]


def test_the_sign_in_page_says_so_with_429(db_url: str, tmp_path: Path) -> None:
    with serving(db_url, tmp_path) as api:
        ada = api.person("ada")

        def send(password: str) -> httpx.Response:
            form = api.client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]*)"', form.text)
            assert token is not None
            data = {"email": ada.email, "password": password, "csrf_token": token.group(1)}
            response: httpx.Response = api.client.post("/login", data=data)
            return response

        for _ in range(ACCOUNT_LIMIT):
            assert send("wrong").status_code == 401
        refused = send(ada.password)
        assert refused.status_code == 429
        assert 0 < int(refused.headers["retry-after"]) <= 900
        assert "Too many failed sign-ins" in refused.text
        assert "try again in 15 minutes" in refused.text
        assert f'value="{ada.email}"' in refused.text  # the form is there to try again later
        assert "flowdeck_session" not in refused.headers.get("set-cookie", "")


def test_attempts_at_the_same_moment_do_not_slip_past_the_limit(api: Api) -> None:
    ada = api.person("ada")
    base_url = str(api.client.base_url)

    def attempt(_: int) -> int:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            sent = client.post(LOGIN, json={"email": ada.email, "password": "wrong"})
            return sent.status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(attempt, range(8)))
    assert statuses == [401] * ACCOUNT_LIMIT + [429] * (8 - ACCOUNT_LIMIT)
