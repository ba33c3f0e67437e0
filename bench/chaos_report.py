"""The chaos benchmark's verdict: what the client was told, what the database holds, and
what the counting server saw, compared.

- lost: an execution the API accepted (answered with its id) that has no row;
- duplicate: more than one execution for one Idempotency-Key (rows, or ids answered);
- stuck: an accepted execution that has not ended after the bounded wait;
- failed: ended but not `succeeded` (grouped by error message, so a reader sees why);
- finished steps re-run: an `http` step hit after it was FIRST recorded finished (the
  audit trigger keeps every finish; the row keeps only the last);
- succeeded without hit: an `http` step recorded succeeded that never reached the server;
- in-flight re-runs: more hits of a step before its first finish (allowed: a step cut
  off mid-flight runs again, at least once).
Also, when they happen: requests never answered, requests refused (4xx), rows nobody
asked for, succeeded executions missing a finished step or with the wrong output, and
hits that name no step of the run.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from statistics import median
from typing import Any

import psycopg

from bench.chaos_procs import Workers
from bench.chaos_target import Hit

FINAL = ("succeeded", "failed", "cancelled", "skipped")
ROWS = """
SELECT id::text, idempotency_key, status, error, (input->>'n')::int AS n, output
FROM workflow_executions WHERE user_workflow_id = %s
"""
STEPS = """
SELECT s.execution_id::text, s.path, s.status, s.step_type
FROM workflow_execution_steps s JOIN workflow_executions e ON e.id = s.execution_id
WHERE e.user_workflow_id = %s
"""
FIRST_FINISHES = """
SELECT execution_id::text, path, extract(epoch FROM min(at))::float8, count(*)
FROM chaos_step_finishes GROUP BY execution_id, path
"""
ATTEMPTS = """
SELECT count(*) FILTER (WHERE attempt > 1), coalesce(max(attempt), 0)
FROM workflow_executions WHERE user_workflow_id = %s
"""


@dataclass
class Submitted:
    """What the client sent and was told, by Idempotency-Key."""

    accepted: dict[str, set[str]] = field(default_factory=dict)  # key -> ids answered
    unanswered: dict[str, str] = field(default_factory=dict)  # key -> last error
    refused: dict[str, str] = field(default_factory=dict)  # key -> 4xx answer
    resent: int = 0  # requests sent again with the same key (after a 5xx or a drop)
    errors: Counter[str] = field(default_factory=Counter)  # what made them send again


@dataclass
class Report:
    executions: int = 0
    lost: int = 0
    duplicate: int = 0
    stuck: int = 0
    failed: int = 0
    rerun_steps: int = 0
    rerun_hits: int = 0
    no_hit: int = 0
    inflight: int = 0
    kills: int = 0
    restarts: int = 0
    rate: float = 0.0
    unanswered: int = 0
    refused: int = 0
    phantom: int = 0
    incomplete: int = 0
    wrong_output: int = 0
    stray_hits: int = 0
    reclaimed: int = 0
    refinished: int = 0  # steps recorded finished more than once (see _check_steps)
    max_attempt: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def _extra_checks(self) -> list[tuple[int, str]]:
        """The checks beyond the main figures: shown only when they count something."""
        return [
            (self.unanswered, "never answered"),
            (self.refused, "refused"),
            (self.phantom, "executions nobody asked for"),
            (self.incomplete, "succeeded with a step unfinished"),
            (self.wrong_output, "wrong output"),
            (self.stray_hits, "hits of no step"),
        ]

    def problems(self) -> list[str]:
        """Each broken guarantee, as a phrase; empty when everything held."""
        checks = [
            (self.lost, "lost"),
            (self.duplicate, "duplicate"),
            (self.stuck, "stuck"),
            (self.failed, "failed"),
            (self.rerun_steps, "finished steps re-run"),
            (self.no_hit, "succeeded without hit"),
            *self._extra_checks(),
        ]
        return [f"{count} {what}" for count, what in checks if count]

    def last_line(self) -> str:
        extras = "".join(f", {count} {what}" for count, what in self._extra_checks() if count)
        problems = self.problems()
        verdict = "OK" if not problems else "BROKEN: " + ", ".join(problems)
        restarts = f"{self.restarts} db restart{'' if self.restarts == 1 else 's'}"
        return (
            f"chaos: {self.executions} executions, {self.lost} lost, {self.duplicate} duplicate, "
            f"{self.stuck} stuck, {self.failed} failed, {self.rerun_steps} finished steps re-run, "
            f"{self.no_hit} succeeded without hit, {self.inflight} in-flight re-runs{extras}, "
            f"{self.kills} kills, {restarts}, {self.rate:.1f} executions/s — {verdict}"
        )


def analyse(
    db_url: str,
    workflow_id: str,
    submitted: Submitted,
    hits: list[Hit],
    http_steps: set[str],
    step_count: int,
) -> Report:
    """Compare the three accounts of the run; see the module's docstring."""
    with psycopg.connect(db_url, autocommit=True, connect_timeout=30) as conn:
        rows = conn.execute(ROWS, (workflow_id,)).fetchall()
        steps = conn.execute(STEPS, (workflow_id,)).fetchall()
        finishes = conn.execute(FIRST_FINISHES).fetchall()
        attempts = conn.execute(ATTEMPTS, (workflow_id,)).fetchone()
    report = Report(executions=len(submitted.accepted))
    report.reclaimed, report.max_attempt = attempts if attempts else (0, 0)
    report.unanswered = len(submitted.unanswered)
    report.refused = len(submitted.refused)
    _check_rows(report, rows, submitted)
    _check_steps(report, rows, steps, finishes, hits, http_steps, step_count)
    return report


def _check_rows(report: Report, rows: list[tuple[Any, ...]], submitted: Submitted) -> None:
    by_key: dict[str, set[str]] = defaultdict(set)
    status = {}
    for execution_id, key, state, error, n, output in rows:
        status[execution_id] = state
        if key is None or (key not in submitted.accepted and key not in submitted.unanswered):
            report.phantom += 1
            continue
        by_key[key].add(execution_id)
        if state not in FINAL:
            report.stuck += 1
            _example(report, f"stuck: execution {execution_id} is {state}")
        elif state != "succeeded":
            report.failed += 1
            message = (error or {}).get("message", "no error recorded")
            step = (error or {}).get("step")
            report.failures[f"{state}: {message}" + (f" (step {step})" if step else "")] += 1
        elif (output or {}).get("n") != n:
            report.wrong_output += 1
            _example(report, f"wrong output: {execution_id} got {output}, input n={n}")
    for key, answered in submitted.accepted.items():
        if any(execution_id not in status for execution_id in answered):
            report.lost += 1
            _example(report, f"lost: key {key} was answered {sorted(answered)}; no such row")
        ids = by_key.get(key, set()) | answered
        if len(ids) > 1:
            report.duplicate += len(ids) - 1
            _example(report, f"duplicate: key {key} has executions {sorted(ids)}")


def _check_steps(
    report: Report,
    rows: list[tuple[Any, ...]],
    steps: list[tuple[Any, ...]],
    finishes: list[tuple[Any, ...]],
    hits: list[Hit],
    http_steps: set[str],
    step_count: int,
) -> None:
    status = {row[0]: row[2] for row in rows}
    first_finish = {(execution_id, path): at for execution_id, path, at, _ in finishes}
    # Not a verdict of its own: a finish written again by the retry of a write whose
    # connection dropped at commit (the database restart) counts here too. A re-run of a
    # finished http step shows as a late hit.
    report.refinished = sum(1 for *_, count in finishes if count > 1)
    by_step: dict[tuple[str, str], list[float]] = defaultdict(list)
    for hit in hits:
        execution_id, _, path = hit.key.partition(":")
        if execution_id not in status or path not in http_steps:
            report.stray_hits += 1
            _example(report, f"stray hit: {hit.route} with key {hit.key!r}")
            continue
        by_step[(execution_id, path)].append(hit.at)
    succeeded_steps: Counter[str] = Counter()
    for execution_id, path, state, _step_type in steps:
        if state == "succeeded":
            succeeded_steps[execution_id] += 1
        if path not in http_steps:
            continue
        if state == "succeeded" and not by_step.get((execution_id, path)):
            report.no_hit += 1
            _example(report, f"succeeded without hit: {execution_id}:{path}")
    for (execution_id, path), times in by_step.items():
        finished_at = first_finish.get((execution_id, path))
        late = [at for at in times if finished_at is not None and at > finished_at]
        if late and finished_at is not None:
            report.rerun_steps += 1
            report.rerun_hits += len(late)
            _example(
                report,
                f"finished step re-run: {execution_id}:{path} first finished at "
                f"{_clock(finished_at)}, hit again at {', '.join(_clock(at) for at in late)}",
            )
        report.inflight += max(0, len(times) - len(late) - 1)
    for execution_id, state in status.items():
        if state == "succeeded" and succeeded_steps[execution_id] < step_count:
            report.incomplete += 1
            _example(report, f"succeeded with a step unfinished: {execution_id}")


def _example(report: Report, text: str) -> None:
    if len(report.examples) < 20:
        report.examples.append(text)


def print_summary(
    report: Report, submitted: Submitted, hits: int, workers: Workers, restarts: int
) -> None:
    """The figures behind the last line, and examples of whatever broke."""
    print("summary:")
    print(
        f"  API: {len(submitted.accepted)} accepted, "
        f"{submitted.resent} requests sent again with the same key"
    )
    for error, count in submitted.errors.most_common():
        print(f"    {count} x {error}")
    print(
        f"  engine: {report.reclaimed} executions claimed more than once "
        f"(max attempt {report.max_attempt}); {hits} hits; "
        f"{report.inflight} in-flight re-runs (allowed); "
        f"{report.refinished} steps recorded finished more than once"
    )
    exits = workers.exits
    exited = f"; {len(exits)} replacement(s) exited on their own" if exits else ""
    startup = ""
    if workers.startups:
        startup = f" (they had taken {median(workers.startups):.1f} s to start, median)"
    print(
        f"  chaos: {report.kills} workers kill -9'd{startup}{exited}; {restarts} db crash-restarts"
    )
    for line in sorted(set(exits))[:3]:
        print(f"    a worker's last line: {line}")
    for failure, count in report.failures.most_common(10):
        print(f"  failed: {count} x {failure}")
    for key, error in list(submitted.refused.items())[:5]:
        print(f"  refused: {key}: {error}")
    for key, error in list(submitted.unanswered.items())[:5]:
        print(f"  never answered: {key}: {error}")
    for text in report.examples:
        print(f"  {text}")


def _clock(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M:%S.%f")
