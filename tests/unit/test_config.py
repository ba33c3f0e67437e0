"""Settings come from the environment when they are built, never at import time."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest

from flowdeck.config import Settings, load_settings
from flowdeck.errors import ConfigError


def test_database_url_and_data_dir_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FLOWDECK_DATABASE_URL", "postgresql://u@db.example:5433/flow")
    monkeypatch.setenv("FLOWDECK_DATA_DIR", str(tmp_path))
    settings = Settings()
    assert settings.database_url == "postgresql://u@db.example:5433/flow"
    assert settings.data_dir == tmp_path
    assert settings.pgdata_dir == tmp_path / "pgdata"


def test_defaults_are_the_embedded_server_in_the_user_data_dir(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FLOWDECK_DATABASE_URL", raising=False)
    monkeypatch.delenv("FLOWDECK_DATA_DIR", raising=False)
    settings = Settings()
    assert settings.database_url is None
    assert settings.data_dir == platformdirs.user_data_path("flowdeck", appauthor=False)
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)


def test_settings_read_the_environment_each_time_they_are_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLOWDECK_PORT", "9001")
    first = Settings()
    monkeypatch.setenv("FLOWDECK_PORT", "9002")
    assert (first.port, Settings().port) == (9001, 9002)


def test_a_bad_value_is_an_error_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWDECK_PORT", "eighty")
    with pytest.raises(ConfigError, match=r"FLOWDECK_PORT: .*integer.*\(got 'eighty'\)"):
        load_settings()


def test_trusted_proxies_and_the_sign_in_window_are_read_as_people_write_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from datetime import timedelta
    from ipaddress import ip_network

    assert Settings().trusted_proxies == ()
    monkeypatch.setenv("FLOWDECK_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1 ::1")
    monkeypatch.setenv("FLOWDECK_SIGNIN_WINDOW", "1h")
    settings = Settings()
    assert settings.trusted_proxies == (
        ip_network("10.0.0.0/8"),
        ip_network("127.0.0.1/32"),
        ip_network("::1/128"),
    )
    assert settings.signin_window == timedelta(hours=1)
    monkeypatch.setenv("FLOWDECK_TRUSTED_PROXIES", "proxy.local")
    with pytest.raises(ConfigError, match=r"FLOWDECK_TRUSTED_PROXIES: .*'proxy.local'"):
        load_settings()
