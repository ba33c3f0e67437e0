"""Where the client connects: arguments, then FLOWDECK_URL/TOKEN, then the config file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from flowdeck.client.config import config_path, read_config_file, resolve, write_config_file
from flowdeck.errors import ConfigError


def test_arguments_then_environment_then_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    write_config_file(path, "http://saved:8080", "fd_saved")
    env = {"FLOWDECK_URL": "http://env:8080", "FLOWDECK_TOKEN": "fd_env"}
    assert resolve(env={}, path=path).token == "fd_saved"
    assert resolve(env={}, path=path).url == "http://saved:8080"
    assert resolve(env=env, path=path) == resolve("http://env:8080", "fd_env", env={}, path=path)
    explicit = resolve("http://arg:1/", "fd_arg", env=env, path=path)
    assert (explicit.url, explicit.token) == ("http://arg:1", "fd_arg")


def test_the_saved_token_goes_only_to_its_server(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    write_config_file(path, "http://saved:8080", "fd_saved")
    elsewhere = resolve(env={"FLOWDECK_URL": "http://other:8080"}, path=path)
    assert elsewhere.url == "http://other:8080" and elsewhere.token is None
    assert resolve(env={"FLOWDECK_URL": "http://saved:8080/"}, path=path).token == "fd_saved"


def test_the_file_is_private_and_found_through_flowdeck_config(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.toml"
    path.parent.mkdir()
    path.write_text("old")
    path.chmod(0o644)
    write_config_file(path, 'http://q"uote', "fd_t")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_config_file(path) == {"url": 'http://q"uote', "token": "fd_t"}
    assert config_path({"FLOWDECK_CONFIG": str(path)}) == path
    assert config_path({}).name == "config.toml"
    assert read_config_file(tmp_path / "missing.toml") == {}


def test_a_broken_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("url = [unclosed")
    with pytest.raises(ConfigError, match=str(path)):
        resolve(env={}, path=path)
