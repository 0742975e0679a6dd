"""An import's progress as the database keeps it: processed/total, counts per entity, its problems;
written after each batch of lines and announced on `roster_import_channel` after the commit. The
write is also the run's heartbeat, and it is made only while the import is still the run's
(claims.py).

Counts are kept per entity (the kinds of record the files make: `students`, `teachers`,
`guardians` from users.csv by role, `guardianLinks` from agentSourcedIds, `classTeachers` from
the teacher lines of enrollments.csv...). A removal (a co-teacher's tobedeleted line) counts as
`updated`, as does a drop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from models import RosterImport, RosterImportProblem
from models.base import utcnow
from models.enums import RosterImportStatus
from subscriptions.bus import EventBus
from subscriptions.channels import roster_import_channel
from subscriptions.events import RosterImportProgressed

ENTITIES = (
    "orgs", "terms", "gradingPeriods", "courses", "classes", "users", "students", "teachers", "guardians",
    "guardianLinks", "demographics", "enrollments", "classTeachers",
)  # fmt: skip
KINDS = ("created", "updated", "unchanged", "failed")


@dataclass
class Tally:
    """Counts per entity and kind."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, entity: str, kind: str, n: int = 1) -> None:
        per_entity = self.counts.setdefault(entity, dict.fromkeys(KINDS, 0))
        per_entity[kind] += n

    def plus(self, other: Tally) -> Tally:
        merged = Tally({entity: dict(kinds) for entity, kinds in self.counts.items()})
        for entity, kinds in other.counts.items():
            for kind, n in kinds.items():
                merged.add(entity, kind, n)
        return merged

    def as_json(self) -> dict[str, Any]:
        return {entity: dict(self.counts[entity]) for entity in ENTITIES if entity in self.counts}

    @property
    def failed(self) -> int:
        return sum(kinds["failed"] for kinds in self.counts.values())


@dataclass(frozen=True, slots=True)
class ProblemRow:
    file: str
    line: int | None
    field: str | None
    sourced_id: str | None
    code: str
    message: str


def held_by(import_id: int, attempt: int) -> ColumnElement[bool]:
    """The import is RUNNING as run number `attempt` (no worker took it over since)."""
    return and_(
        RosterImport.id == import_id,
        RosterImport.status == RosterImportStatus.RUNNING,
        RosterImport.attempts == attempt,
    )


class LeaseLost(Exception):
    """The import is no longer this run's: its heartbeat grew older than the lease and a worker
    took it over (claims.py). The run stops, and the write that found out is rolled back."""


async def write_progress(
    session: AsyncSession,
    import_id: int,
    attempt: int,
    *,
    processed: int,
    total: int,
    tally: Tally,
    problems: Sequence[ProblemRow],
) -> None:
    """The import's progress, its heartbeat and the problems found since the last write, in the
    caller's transaction (the batch's own, or one of their own in a dry run). LeaseLost unless the
    import is still RUNNING as run number `attempt`."""
    beat = await session.execute(
        update(RosterImport)
        .where(held_by(import_id, attempt))
        .values(processed=processed, total=total, counts=tally.as_json(), heartbeat_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if beat.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost(import_id)
    await write_problems(session, import_id, problems)


async def write_problems(session: AsyncSession, import_id: int, problems: Sequence[ProblemRow]) -> None:
    if problems:
        await session.execute(
            insert(RosterImportProblem),
            [
                {
                    "import_id": import_id, "file": p.file[:120], "line": p.line, "field": p.field,
                    "sourced_id": p.sourced_id[:255] if p.sourced_id else None, "code": p.code,
                    "message": p.message[:1000],
                }
                for p in problems
            ],
        )  # fmt: skip


async def announce(bus: EventBus, import_id: int) -> None:
    """After the commit: subscribers of the import read its new state from the database."""
    await bus.publish(roster_import_channel(import_id), RosterImportProgressed(import_id=import_id))
