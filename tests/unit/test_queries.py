"""Named queries: the loader splits files by `-- name:` and refuses duplicates."""

from __future__ import annotations

from importlib import resources

import pytest

from flowdeck.db.queries import parse_queries, query


def test_blocks_are_split_by_name_headers() -> None:
    text = "-- name: first\n-- what it does\nSELECT 1\n\n-- name: second\nSELECT 2;\n"
    assert parse_queries(text, "x.sql") == {
        "first": "-- what it does\nSELECT 1",
        "second": "SELECT 2;",
    }


def test_a_name_defined_twice_is_an_error_naming_the_file() -> None:
    with pytest.raises(ValueError, match=r"x\.sql: query 'a' is defined twice"):
        parse_queries("-- name: a\nSELECT 1\n-- name: a\nSELECT 2\n", "x.sql")


def test_every_packaged_query_file_loads() -> None:
    folder = resources.files("flowdeck.db").joinpath("queries")
    groups = [
        entry.name.removesuffix(".sql") for entry in folder.iterdir() if entry.name.endswith(".sql")
    ]
    assert "migrations" in groups
    for group in groups:
        text = folder.joinpath(f"{group}.sql").read_text(encoding="utf-8")
        for name in parse_queries(text, group):
            assert query(group, name).as_string().strip()


def test_an_unknown_query_name_says_where_it_looked() -> None:
    with pytest.raises(KeyError, match=r"no query 'nope' in queries/migrations\.sql"):
        query("migrations", "nope")
