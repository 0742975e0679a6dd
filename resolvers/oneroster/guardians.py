"""Guardian links from users.csv's agentSourcedIds, and demographics.csv.

A student's agents are their guardians and a guardian's agents their wards (either side may
list the other; a pair listed by both is one link). Links are made once users.csv has been read
whole, since an agent may come later in the file. A link is an entity of its own: an agent that
is nobody (UNKNOWN_REFERENCE) or not a guardian of a student (INVALID) is reported on the user's
line, field agentSourcedIds, and the user is imported all the same. The link's relationship is
the guardian's role word (parent, guardian or relative); a guardian who is not in users.csv has
none, so its existing links keep theirs and a new one is "guardian".

demographics.csv is read and checked (its sourcedId must be a user: UNKNOWN_REFERENCE) but not
kept: CampusGraph stores no demographic fields, so its lines count as unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select

from models import GuardianLink
from models.enums import Role
from resolvers.oneroster.batch import BATCH_LINES, Batch, chunked, unknown, unsupported_deletion
from resolvers.oneroster.csv_files import DEMOGRAPHICS, USERS, FileProblem, Line, RosterPackage
from resolvers.oneroster.people import People
from resolvers.oneroster.records import TO_BE_DELETED, LineProblem, sourced_id, status


async def link_guardians(batch: Batch, people: People) -> None:
    """Every agent pair of users.csv as a guardian link: created, updated (its relationship) or
    unchanged. Runs in `UsersStep`'s finishing batch; lookups and writes BATCH_LINES pairs at a time."""
    index = batch.index
    wanted: dict[tuple[int, int], str | None] = {}
    for line, key, agent in dict.fromkeys(people.agents):  # a retried batch adds its agents again
        me, other = index.users[key], index.users.get(agent)
        if other is None:
            batch.fail(line, key, unknown("agentSourcedIds", "user", agent), "guardianLinks", file=USERS)
            continue
        if me.role == Role.GUARDIAN and other.role == Role.STUDENT:
            pair, guardian_key = (me.id, other.id), key
        elif me.role == Role.STUDENT and other.role == Role.GUARDIAN:
            pair, guardian_key = (other.id, me.id), agent
        else:
            problem = LineProblem(
                "agentSourcedIds",
                "INVALID",
                f"{agent!r} is not a guardian of a student: agents link the two.",
            )
            batch.fail(line, key, problem, "guardianLinks", file=USERS)
            continue
        wanted.setdefault(pair, people.relationships.get(guardian_key))
    pairs = list(wanted.items())
    for start in range(0, len(pairs), BATCH_LINES):
        await _write_links(batch, pairs[start : start + BATCH_LINES])


async def _write_links(batch: Batch, pairs: list[tuple[tuple[int, int], str | None]]) -> None:
    guardians = {guardian for (guardian, _), _ in pairs if guardian > 0}
    students = {student for (_, student), _ in pairs if student > 0}
    existing: dict[tuple[int, int], tuple[int, str]] = {}
    if guardians and students:
        rows = await batch.session.execute(
            select(
                GuardianLink.guardian_id, GuardianLink.student_id, GuardianLink.id, GuardianLink.relationship
            ).where(GuardianLink.guardian_id.in_(guardians), GuardianLink.student_id.in_(students))
        )
        existing = {(guardian, student): (link_id, word) for guardian, student, link_id, word in rows}
    created: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for (guardian, student), word in pairs:
        found = existing.get((guardian, student))
        if found is None:
            relationship = (word or "guardian")[:40]
            created.append({"guardian_id": guardian, "student_id": student, "relationship": relationship})
            batch.count("guardianLinks", "created")
        elif word is not None and found[1] != word:
            updates.append({"id": found[0], "relationship": word[:40]})
            batch.count("guardianLinks", "updated")
        else:
            batch.count("guardianLinks", "unchanged")
    await batch.execute_insert(GuardianLink, created)
    await batch.update_rows(GuardianLink, updates)


class GuardianLinksStep:
    """After users.csv: its agent pairs as links (no lines of its own)."""

    file = USERS

    def __init__(self, people: People) -> None:
        self.people = people

    def batches(self, package: RosterPackage, problems: list[FileProblem]) -> Iterator[list[Line]]:
        return iter(())

    async def apply(self, batch: Batch, lines: list[Line]) -> None:
        return None

    async def finish(self, batch: Batch) -> None:
        await link_guardians(batch, self.people)


class DemographicsStep:
    file = DEMOGRAPHICS

    def batches(self, package: RosterPackage, problems: list[FileProblem]) -> Iterator[list[Line]]:
        return chunked(package, self.file, problems)

    async def apply(self, batch: Batch, lines: list[Line]) -> None:
        for line in lines:
            try:
                key = sourced_id(line)
                if status(line) == TO_BE_DELETED:
                    raise unsupported_deletion("demographics")
                if key not in batch.index.users:
                    raise unknown("sourcedId", "user", key)
            except LineProblem as problem:
                batch.fail(line, line.get("sourcedId"), problem, "demographics")
                continue
            batch.count("demographics", "unchanged")

    async def finish(self, batch: Batch) -> None:
        return None
