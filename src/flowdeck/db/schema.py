"""`flowdeck db verify`: compare the live schema with what the migrations declare.

The declared schema is built, not written down twice: every migration file is
applied to a scratch database on the same server, both databases are read back
from the catalogs (tables, columns with type, nullability and default, indexes,
constraints with their foreign-key delete rules, triggers, functions), and every
difference is reported.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from flowdeck.db import admin
from flowdeck.db.migrate import MigrationFile, load_migrations, migrate
from flowdeck.db.queries import query

SECTIONS = ("tables", "columns", "indexes", "constraints", "triggers", "functions")

# {"column users.email": {"type": "character varying(255)", ...}, ...}
Snapshot = dict[str, dict[str, str]]


@dataclass(frozen=True)
class Difference:
    object: str  # e.g. "column users.email"
    problem: str  # a sentence a person can act on

    def __str__(self) -> str:
        return f"{self.object}: {self.problem}"


def snapshot(url: str) -> Snapshot:
    """Read the `public` schema of the database at `url`."""
    result: Snapshot = {}
    with admin.connect(url) as conn:
        for section in SECTIONS:
            for kind, name, attribute, value in conn.execute(query("schema", section)):
                result.setdefault(f"{kind} {name}", {})[str(attribute)] = str(value)
    return result


def diff(expected: Snapshot, live: Snapshot) -> list[Difference]:
    """Every way `live` departs from `expected`, sorted by object."""
    found: list[Difference] = []
    for key in sorted(expected.keys() | live.keys()):
        if key not in live:
            found.append(Difference(key, f"missing (expected {_summary(expected[key])})"))
        elif key not in expected:
            found.append(Difference(key, f"not declared by any migration ({_summary(live[key])})"))
        else:
            for attribute in sorted(expected[key].keys() | live[key].keys()):
                want = expected[key].get(attribute, "(none)")
                have = live[key].get(attribute, "(none)")
                if want != have:
                    found.append(Difference(key, f"{attribute} is {have!r}, expected {want!r}"))
    return found


def _summary(attributes: dict[str, str]) -> str:
    return ", ".join(f"{name} {value!r}" for name, value in sorted(attributes.items()))


def declared_snapshot(url: str, files: list[MigrationFile] | None = None) -> Snapshot:
    """The schema the migrations build, read from a scratch database beside `url`'s."""
    scratch = f"flowdeck_verify_{secrets.token_hex(6)}"
    scratch_url = admin.create_database(url, scratch, template="template0")
    try:
        migrate(scratch_url, files if files is not None else load_migrations())
        return snapshot(scratch_url)
    finally:
        admin.drop_database(url, scratch)


def verify(url: str, files: list[MigrationFile] | None = None) -> list[Difference]:
    """Differences between the live schema at `url` and the declared one; empty when equal."""
    return diff(declared_snapshot(url, files), snapshot(url))
