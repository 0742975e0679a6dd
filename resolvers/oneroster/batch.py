"""One batch of lines of one file, applied in one transaction: its session, what it counts, the
problems it finds and the events it publishes once it has committed.

A step plans every line of its batch first (each line checked whole: a line that fails any
check writes nothing) and then writes the batch's rows with one statement per table
(executemany). In a dry run the same plan runs and the writes are skipped: created rows get
fake ids instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import Base
from resolvers.oneroster.csv_files import FileProblem, Line, RosterPackage
from resolvers.oneroster.index import OrgScope, SchoolIndex
from resolvers.oneroster.progress import ProblemRow, Tally
from resolvers.oneroster.records import LineProblem
from subscriptions.events import Payload


@dataclass
class Batch:
    session: AsyncSession
    index: SchoolIndex
    file: str
    dry_run: bool
    started_by_id: int | None
    today: date
    tally: Tally = field(default_factory=Tally)
    problems: list[ProblemRow] = field(default_factory=list)
    # (channel, event) to publish after the commit.
    events: list[tuple[str, Payload]] = field(default_factory=list)
    # Whose dashboards the batch changed (classes' teachers, students).
    changed_classes: set[int] = field(default_factory=set)
    changed_students: set[int] = field(default_factory=set)

    def count(self, entity: str, kind: str) -> None:
        self.tally.add(entity, kind)

    def fail(
        self,
        line: Line | int | None,
        sourced: str | None,
        problem: LineProblem,
        entity: str | None,
        *,
        file: str | None = None,
    ) -> None:
        """Reports a line that is left out; `entity` None: it counts nowhere (a roles.csv line)."""
        number = line.number if isinstance(line, Line) else line
        self.problems.append(
            ProblemRow(
                file or self.file, number, problem.field, sourced or None, problem.code, problem.message
            )
        )
        if entity is not None:
            self.tally.add(entity, "failed")

    async def insert_rows(self, model: type[Base], rows: Sequence[dict[str, Any]]) -> list[int]:
        """Inserts `rows` (one executemany) and returns their new ids, in order; fake ids in a dry run."""
        if not rows:
            return []
        if self.dry_run:
            return [self.index.fake_id() for _ in rows]
        table: Any = model
        statement = insert(model).returning(table.id, sort_by_parameter_order=True)
        return list((await self.session.scalars(statement, list(rows))).all())

    async def execute_insert(self, model: type[Base], rows: Sequence[dict[str, Any]]) -> None:
        """Inserts rows whose ids nobody needs (profiles, history), one executemany."""
        if rows and not self.dry_run:
            await self.session.execute(insert(model), list(rows))

    async def update_rows(self, model: type[Base], rows: Sequence[dict[str, Any]]) -> None:
        """Updates rows by primary key (each dict holds it), one executemany."""
        if rows and not self.dry_run:
            await self.session.execute(update(model), list(rows))


BATCH_LINES = 500


def chunked(
    package: RosterPackage, file: str, problems: list[FileProblem], size: int = BATCH_LINES
) -> Iterator[list[Line]]:
    """The file's lines, `size` at a time (streamed: one batch in memory)."""
    lines: list[Line] = []
    for line in package.lines(file, problems):
        lines.append(line)
        if len(lines) == size:
            yield lines
            lines = []
    if lines:
        yield lines


def check_org(scope: OrgScope, reference: str, column: str) -> None:
    """An org a line names must be the caller's school or another org of orgs.csv that is not a
    school (a district); another school's: FOREIGN_ORG."""
    if not scope.known or not reference or reference in scope.ours or reference in scope.others:
        return
    if reference in scope.foreign:
        raise LineProblem(
            column, "FOREIGN_ORG", "This org is another school: only the caller's school is imported."
        )
    raise LineProblem(column, "UNKNOWN_REFERENCE", f"No org {reference!r} in orgs.csv.")


def unsupported_deletion(entity: str) -> LineProblem:
    return LineProblem(
        "status",
        "UNSUPPORTED_STATUS",
        f"tobedeleted is not applied to {entity}: change or remove them in CampusGraph itself.",
    )


def duplicate(sourced: str) -> LineProblem:
    return LineProblem("sourcedId", "DUPLICATE", f"An earlier line of this file has sourcedId {sourced!r}.")


class FirstLines:
    """The line each sourcedId of a file first came on: a later line with it is a DUPLICATE (the
    same line applied again, when a batch is retried, is not)."""

    def __init__(self) -> None:
        self._lines: dict[str, int] = {}

    def check(self, sourced: str, line: Line) -> None:
        if self._lines.setdefault(sourced, line.number) != line.number:
            raise duplicate(sourced)


def unknown(column: str, what: str, reference: str) -> LineProblem:
    return LineProblem(column, "UNKNOWN_REFERENCE", f"No {what} {reference!r} in the files or the school.")


class Step(Protocol):
    """What reads one file: its lines in batches, each applied to a Batch; then `finish`, once,
    in a batch of its own (work that needs the whole file first)."""

    file: str

    def batches(self, package: RosterPackage, problems: list[FileProblem]) -> Iterator[list[Line]]: ...

    async def apply(self, batch: Batch, lines: list[Line]) -> None: ...

    async def finish(self, batch: Batch) -> None: ...
