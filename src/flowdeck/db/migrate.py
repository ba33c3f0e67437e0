"""The migration runner: plain SQL files applied once each, in file-name order.

- An advisory lock makes any number of processes starting at once migrate exactly once.
- Each file runs in one transaction, statement by statement, so a failure leaves the
  database as it was before that file and the error names the file, the statement
  (number and line) and PostgreSQL's message.
- Each applied file is recorded with its SHA-256; a file changed after it was
  applied stops the runner. Files applied by a newer version are reported, not
  refused, so that old and new processes can overlap in a rolling deploy.
- A database that already has some of the tables (the legacy application's) is
  adopted: the files are written with IF NOT EXISTS / DROP ... IF EXISTS, and while the
  files written against the legacy columns are pending, `adopt` first converts the
  columns whose types or names differ from what those files expect (flowdeck.db.adopt).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import psycopg
import sqlparse
from psycopg.rows import TupleRow, class_row

from flowdeck.db import admin
from flowdeck.db.adopt import Adoption, adopt
from flowdeck.db.queries import query
from flowdeck.errors import FlowdeckError

Q = "migrations"

# The last file written against the legacy tables' columns as they were (008 maps the
# legacy statuses and errors). While it, or an earlier file, is pending the legacy tables
# are adopted first; once it is applied they are in the shape the migrations made, and
# adoption no longer runs (a later migration may change those columns in its turn).
ADOPT_BEFORE = "008_engine.sql"

log = logging.getLogger(__name__)


class MigrationError(FlowdeckError):
    """A migration could not be applied, or the applied ones do not match the files."""


@dataclass(frozen=True)
class Statement:
    number: int  # 1-based position in its file
    line: int  # 1-based line where it starts
    sql: str


@dataclass(frozen=True)
class MigrationFile:
    name: str
    sql: str

    @cached_property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()

    @cached_property
    def statements(self) -> list[Statement]:
        """The file's statements with where each starts (comments-only pieces dropped)."""
        found: list[Statement] = []
        offset = 0
        for piece in sqlparse.split(self.sql):
            start = self.sql.find(piece, offset)
            offset = start + len(piece)
            code = sqlparse.format(piece, strip_comments=True).strip().rstrip(";").strip()
            if not code:
                continue
            line = self.sql.count("\n", 0, start) + 1 + _leading_comment_lines(piece)
            found.append(Statement(len(found) + 1, line, piece))
        return found


def _leading_comment_lines(piece: str) -> int:
    """Lines of comments before a statement's code, so its line points at the code."""
    count = 0
    for line in piece.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("--"):
            break
        count += 1
    return count


@dataclass(frozen=True)
class AppliedMigration:
    filename: str
    checksum: str
    applied_at: datetime
    duration_ms: int


@dataclass(frozen=True)
class MigrationStatus:
    applied: list[AppliedMigration]
    pending: list[MigrationFile]
    changed: list[str]  # applied files whose content differs now
    unknown: list[str]  # applied files this version does not ship

    @property
    def current(self) -> bool:
        """Every file this version ships is applied, unchanged.

        Files applied by a newer version (`unknown`) do not make the database stale:
        during a rolling deploy the old processes keep running beside the new ones.
        """
        return not (self.pending or self.changed)

    def problems(self) -> list[str]:
        """What stops the runner, one sentence each."""
        return [
            f"{name} was changed after it was applied (its checksum differs); "
            "restore the file, or add a new migration instead of editing an applied one"
            for name in self.changed
        ]

    def warnings(self) -> list[str]:
        """What a person should know but that stops nothing."""
        return [
            f"{name} was applied by a newer version of Flowdeck than this one"
            for name in self.unknown
        ]


def packaged_migrations() -> Traversable:
    return resources.files("flowdeck.db").joinpath("migrations")


def load_migrations(directory: Traversable | Path | None = None) -> list[MigrationFile]:
    """The migration files of `directory` (default: the packaged ones), in name order."""
    folder = directory if directory is not None else packaged_migrations()
    files = [
        MigrationFile(entry.name, entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    ]
    return sorted(files, key=lambda migration: migration.name)


def compare(applied: list[AppliedMigration], files: list[MigrationFile]) -> MigrationStatus:
    """Set the applied records beside the files."""
    by_name = {migration.filename: migration for migration in applied}
    known = {file.name for file in files}
    return MigrationStatus(
        applied=applied,
        pending=[file for file in files if file.name not in by_name],
        changed=[
            file.name
            for file in files
            if file.name in by_name and by_name[file.name].checksum.strip() != file.checksum
        ],
        unknown=[name for name in by_name if name not in known],
    )


def read_applied(conn: psycopg.Connection[TupleRow]) -> list[AppliedMigration]:
    exists = conn.execute(query(Q, "tracking_table_exists")).fetchone()
    if not exists or not exists[0]:
        return []
    with conn.cursor(row_factory=class_row(AppliedMigration)) as cursor:
        return cursor.execute(query(Q, "applied")).fetchall()


def status(url: str, files: list[MigrationFile] | None = None) -> MigrationStatus:
    """Applied and pending files of the database at `url`."""
    with admin.connect(url) as conn:
        return compare(read_applied(conn), files if files is not None else load_migrations())


@dataclass(frozen=True)
class MigrationReport:
    """What a run changed: the legacy columns it adopted, then the files it applied."""

    adopted: list[Adoption]
    applied: list[str]


def migrate(url: str, files: list[MigrationFile] | None = None) -> list[str]:
    """Apply every pending file; return the names applied (empty when up to date).

    What adoption changed is logged; `run_migrations` returns it.
    """
    report = run_migrations(url, files)
    for adoption in report.adopted:
        log.info("adopted: %s", adoption)
    return report.applied


def run_migrations(url: str, files: list[MigrationFile] | None = None) -> MigrationReport:
    """Adopt the legacy tables when needed, then apply every pending file, under the lock."""
    files = files if files is not None else load_migrations()
    with admin.connect(url) as conn:
        conn.execute(query(Q, "lock"))
        try:
            state = compare(read_applied(conn), files)
            if state.changed:
                raise MigrationError("Refusing to migrate: " + "; ".join(state.problems()) + ".")
            for warning in state.warnings():
                log.warning("%s", warning)
            adopted = adopt(conn) if needs_adoption(state) else []
            for file in state.pending:
                _apply(conn, file)
            return MigrationReport(adopted, [file.name for file in state.pending])
        finally:
            if not conn.closed and not conn.broken:
                conn.execute(query(Q, "unlock"))


def needs_adoption(state: MigrationStatus) -> bool:
    """Whether a file written against the legacy columns is still to be applied."""
    return any(file.name <= ADOPT_BEFORE for file in state.pending)


def _apply(conn: psycopg.Connection[TupleRow], file: MigrationFile) -> None:
    started = time.perf_counter()
    with conn.transaction():
        for statement in file.statements:
            try:
                conn.execute(statement.sql.encode("utf-8"))
            except psycopg.Error as exc:
                raise MigrationError(_describe_failure(file, statement, exc)) from exc
        duration_ms = round((time.perf_counter() - started) * 1000)
        conn.execute(
            query(Q, "record"),
            {"filename": file.name, "checksum": file.checksum, "duration_ms": duration_ms},
        )


def _describe_failure(file: MigrationFile, statement: Statement, exc: psycopg.Error) -> str:
    diag = exc.diag
    message = diag.message_primary or str(exc).strip()
    parts = [
        f"Migration {file.name} failed at statement {statement.number} (line {statement.line}): "
        f"{message}",
    ]
    if diag.message_detail:
        parts.append(f"Detail: {diag.message_detail}")
    if diag.message_hint:
        parts.append(f"Hint: {diag.message_hint}")
    code = sqlparse.format(statement.sql, strip_comments=True).strip()
    parts.append(f"Statement: {code[:300]}{'...' if len(code) > 300 else ''}")
    parts.append(f"Nothing of {file.name} was applied.")
    return "\n".join(parts)
