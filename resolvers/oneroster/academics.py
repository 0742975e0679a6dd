"""orgs.csv, academicSessions.csv, courses.csv and classes.csv.

- orgs.csv: the org of type school is the caller's school: the one whose `identifier` is the
  school's slug or whose `name` is its name, else the first. Other school orgs: FOREIGN_ORG (and
  every line naming one); other orgs (a district) are accepted. Nothing of the school is changed.
- academicSessions.csv: `term` and `semester` sessions are terms, matched by sourcedId (a name
  used by another of the school's terms: CONFLICT); `gradingPeriod` sessions are grading periods
  of their parentSourcedId term, inside it and not overlapping its others (INVALID);
  `schoolYear` sessions are read and not kept (CampusGraph has no school years).
- courses.csv: `courseCode` (unique in the school: CONFLICT) and `title`; credits 1 unless a
  `metadata.credits` column says otherwise.
- classes.csv: `title`, `location` as the room, the first of `termSourcedIds` as the term,
  `courseSourcedId` as the course.
A closed term and its classes are frozen: a line that would change them is TERM_CLOSED.
`tobedeleted` on any of these: UNSUPPORTED_STATUS (deleting terms or classes would take their
grades with them; that is done in CampusGraph, not by a file).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Generic, Protocol, TypeVar

from models import Class, Course, GradingPeriod, Term
from models.base import Base
from resolvers.oneroster.batch import (
    Batch,
    FirstLines,
    check_org,
    chunked,
    duplicate,
    unknown,
    unsupported_deletion,
)
from resolvers.oneroster.csv_files import CLASSES, COURSES, ORGS, SESSIONS, FileProblem, Line, RosterPackage
from resolvers.oneroster.index import ClassEntry, CourseEntry, PeriodEntry, TermEntry
from resolvers.oneroster.progress import ProblemRow
from resolvers.oneroster.records import (
    TO_BE_DELETED,
    ClassRow,
    CourseRow,
    LineProblem,
    OrgRow,
    SessionRow,
    class_row,
    course_row,
    org_row,
    session_row,
)

TERM_TYPES = ("term", "semester")
SESSION_TYPES = (*TERM_TYPES, "gradingPeriod", "schoolYear")


def closed(field: str | None = None) -> LineProblem:
    return LineProblem(
        field, "TERM_CLOSED", "The term is closed: its roster is frozen until an admin reopens it."
    )


class OrgsStep:
    file = ORGS

    def batches(self, package: RosterPackage, problems: list[FileProblem]) -> Iterator[list[Line]]:
        yield list(package.lines(self.file, problems))

    async def apply(self, batch: Batch, lines: list[Line]) -> None:
        scope, index = batch.index.orgs, batch.index
        scope.known = True
        parsed: list[tuple[Line, OrgRow]] = []
        for line in lines:
            try:
                parsed.append((line, org_row(line)))
            except LineProblem as problem:
                batch.fail(line, line.get("sourcedId"), problem, "orgs")
        schools = [row for _, row in parsed if row.type == "school"]
        ours = next(
            (
                row
                for row in schools
                if index.slug in (row.identifier, row.sourced_id) or row.name == index.name
            ),
            None,
        )
        ours = ours or (schools[0] if schools else None)
        if ours is None:
            message = "orgs.csv has no org of type school: lines that name the school are refused."
            batch.problems.append(ProblemRow(self.file, None, "type", None, "NO_SCHOOL_ORG", message))
        seen: set[str] = set()
        for line, row in parsed:
            if row.sourced_id in seen:
                batch.fail(line, row.sourced_id, duplicate(row.sourced_id), "orgs")
                continue
            seen.add(row.sourced_id)
            if row.type == "school" and row is not ours:
                scope.foreign.add(row.sourced_id)
                foreign = LineProblem(
                    "sourcedId", "FOREIGN_ORG", "Another school: only the caller's school is imported."
                )
                batch.fail(line, row.sourced_id, foreign, "orgs")
                continue
            (scope.ours if row is ours else scope.others).add(row.sourced_id)
            if row.status == TO_BE_DELETED:
                batch.fail(line, row.sourced_id, unsupported_deletion("orgs"), "orgs")
            else:
                batch.count("orgs", "unchanged")

    async def finish(self, batch: Batch) -> None:
        return None


class SessionsStep:
    """Terms first, then grading periods (a period's term may come after it in the file)."""

    file = SESSIONS

    def batches(self, package: RosterPackage, problems: list[FileProblem]) -> Iterator[list[Line]]:
        yield list(package.lines(self.file, problems))

    async def apply(self, batch: Batch, lines: list[Line]) -> None:
        parsed: list[tuple[Line, SessionRow]] = []
        seen: set[str] = set()
        for line in lines:
            entity = "gradingPeriods" if line.get("type") == "gradingPeriod" else "terms"
            try:
                row = session_row(line)
                if row.sourced_id in seen:
                    raise duplicate(row.sourced_id)
                seen.add(row.sourced_id)
                if row.type not in SESSION_TYPES:
                    raise LineProblem(
                        "type", "INVALID", "type must be term, semester, gradingPeriod or schoolYear."
                    )
            except LineProblem as problem:
                batch.fail(line, line.get("sourcedId"), problem, entity)
                continue
            parsed.append((line, row))
        terms = [(line, row) for line, row in parsed if row.type in TERM_TYPES]
        if terms:
            batch.index.first_session_start = min(row.starts_on for _, row in terms)
        for line, row in terms:
            try:
                await self._term(batch, row)
            except LineProblem as problem:
                batch.fail(line, row.sourced_id, problem, "terms")
        for line, row in parsed:
            if row.type == "gradingPeriod":
                try:
                    await self._period(batch, row)
                except LineProblem as problem:
                    batch.fail(line, row.sourced_id, problem, "gradingPeriods")

    async def _term(self, batch: Batch, row: SessionRow) -> None:
        index, key = batch.index, row.sourced_id
        if row.status == TO_BE_DELETED:
            raise unsupported_deletion("terms")
        named = index.term_names.get(row.title)
        if named is not None and named != key:
            raise LineProblem("title", "CONFLICT", f"Another term of the school is called {row.title!r}.")
        entry = index.terms.get(key)
        if entry is None:
            values = {
                "school_id": index.school_id,
                "name": row.title,
                "starts_on": row.starts_on,
                "ends_on": row.ends_on,
            }
            [term_id] = await batch.insert_rows(Term, [values | {"sourced_id": key}])
            index.terms[key] = TermEntry(term_id, row.title, row.starts_on, row.ends_on, closed=False)
            index.term_names[row.title] = key
            batch.count("terms", "created")
            return
        if (entry.name, entry.starts_on, entry.ends_on) == (row.title, row.starts_on, row.ends_on):
            batch.count("terms", "unchanged")
            return
        if entry.closed:
            raise closed()
        for _, period in index.periods_of(entry.id):
            if period.starts_on < row.starts_on or period.ends_on > row.ends_on:
                raise LineProblem(
                    "startDate", "INVALID", f"The grading period {period.name!r} would be outside the term."
                )
        await batch.update_rows(
            Term, [{"id": entry.id, "name": row.title, "starts_on": row.starts_on, "ends_on": row.ends_on}]
        )
        index.term_names.pop(entry.name, None)
        entry.name, entry.starts_on, entry.ends_on = row.title, row.starts_on, row.ends_on
        index.term_names[row.title] = key
        batch.count("terms", "updated")

    async def _period(self, batch: Batch, row: SessionRow) -> None:
        index, key = batch.index, row.sourced_id
        if row.status == TO_BE_DELETED:
            raise unsupported_deletion("grading periods")
        if not row.parent:
            raise LineProblem(
                "parentSourcedId", "REQUIRED", "A grading period needs its term (parentSourcedId)."
            )
        term = index.terms.get(row.parent)
        if term is None:
            raise unknown("parentSourcedId", "term", row.parent)
        if row.starts_on < term.starts_on or row.ends_on > term.ends_on:
            raise LineProblem("startDate", "INVALID", "A grading period must be inside its term.")
        for other_key, other in index.periods_of(term.id):
            if other_key != key and other.starts_on <= row.ends_on and row.starts_on <= other.ends_on:
                raise LineProblem("startDate", "INVALID", f"It overlaps the grading period {other.name!r}.")
        entry = index.periods.get(key)
        wanted = (term.id, row.title, row.starts_on, row.ends_on)
        if entry is not None and (entry.term_id, entry.name, entry.starts_on, entry.ends_on) == wanted:
            batch.count("gradingPeriods", "unchanged")
            return
        if term.closed or (entry is not None and entry.term_id in index.closed_term_ids()):
            raise closed()
        values = {"term_id": term.id, "name": row.title, "starts_on": row.starts_on, "ends_on": row.ends_on}
        if entry is None:
            [period_id] = await batch.insert_rows(
                GradingPeriod, [values | {"school_id": index.school_id, "sourced_id": key}]
            )
            index.periods[key] = PeriodEntry(period_id, *wanted)
            batch.count("gradingPeriods", "created")
            return
        await batch.update_rows(GradingPeriod, [values | {"id": entry.id}])
        entry.term_id, entry.name, entry.starts_on, entry.ends_on = wanted
        batch.count("gradingPeriods", "updated")

    async def finish(self, batch: Batch) -> None:
        return None


class _Entry(Protocol):
    id: int


EntryT = TypeVar("EntryT", bound=_Entry)


class _Writes(Generic[EntryT]):
    """What one batch of courses.csv or classes.csv writes: its new rows (whose index entries get
    their ids once inserted) and its changed rows, one statement each."""

    def __init__(self, model: type[Base]) -> None:
        self.model = model
        self.created: list[tuple[EntryT, dict[str, Any]]] = []
        self.updates: list[dict[str, Any]] = []

    async def write(self, batch: Batch) -> None:
        ids = await batch.insert_rows(self.model, [values for _, values in self.created])
        for (entry, _), new_id in zip(self.created, ids, strict=True):
            entry.id = new_id
        await batch.update_rows(self.model, self.updates)


class _CatalogStep:
    """courses.csv and classes.csv: read in batches of BATCH_LINES lines; a sourcedId met on an
    earlier line of the file is a DUPLICATE (`seen`)."""

    file: str
    entity: str

    def __init__(self) -> None:
        self.seen = FirstLines()

    def batches(self, package: RosterPackage, problems: list[FileProblem]) -> Iterator[list[Line]]:
        return chunked(package, self.file, problems)

    def _check_line(
        self, batch: Batch, line: Line, sourced: str, org: str, org_column: str, status: str
    ) -> None:
        """What every line of the file must be: its sourcedId's first, of our school, not tobedeleted."""
        self.seen.check(sourced, line)
        check_org(batch.index.orgs, org, org_column)
        if status == TO_BE_DELETED:
            raise unsupported_deletion(self.entity)

    async def finish(self, batch: Batch) -> None:
        return None


class CoursesStep(_CatalogStep):
    file = COURSES
    entity = "courses"

    async def apply(self, batch: Batch, lines: list[Line]) -> None:
        index = batch.index
        writes = _Writes[CourseEntry](Course)
        for line in lines:
            try:
                row = self._checked(batch, line, course_row(line))
            except LineProblem as problem:
                batch.fail(line, line.get("sourcedId"), problem, "courses")
                continue
            key, entry = row.sourced_id, index.courses.get(row.sourced_id)
            values = {"code": row.code, "title": row.title, "credits": row.credits}
            if entry is None:
                entry = CourseEntry(0, row.code, row.title, row.credits)
                writes.created.append((entry, values | {"school_id": index.school_id, "sourced_id": key}))
                index.courses[key] = entry
                batch.count("courses", "created")
            elif (entry.code, entry.title, entry.credits) == (row.code, row.title, row.credits):
                batch.count("courses", "unchanged")
                continue
            else:
                if index.course_codes.get(entry.code) == key:
                    del index.course_codes[entry.code]
                entry.code, entry.title, entry.credits = row.code, row.title, row.credits
                writes.updates.append(values | {"id": entry.id})
                batch.count("courses", "updated")
            index.course_codes[row.code] = key
        await writes.write(batch)

    def _checked(self, batch: Batch, line: Line, row: CourseRow) -> CourseRow:
        self._check_line(batch, line, row.sourced_id, row.org, "orgSourcedId", row.status)
        owner = batch.index.course_codes.get(row.code)
        if owner is not None and owner != row.sourced_id:
            raise LineProblem(
                "courseCode", "CONFLICT", f"Another course of the school has the code {row.code!r}."
            )
        return row


class ClassesStep(_CatalogStep):
    file = CLASSES
    entity = "classes"

    async def apply(self, batch: Batch, lines: list[Line]) -> None:
        index = batch.index
        closed_terms = index.closed_term_ids()
        writes = _Writes[ClassEntry](Class)
        for line in lines:
            try:
                row = self._checked(batch, line, class_row(line))
                course, term = index.courses[row.course], index.terms[row.term]
                entry = index.classes.get(row.sourced_id)
                wanted = (course.id, term.id, row.title, row.room)
                if entry is not None and (entry.course_id, entry.term_id, entry.title, entry.room) == wanted:
                    batch.count("classes", "unchanged")
                    continue
                if term.id in closed_terms or (entry is not None and entry.term_id in closed_terms):
                    raise closed()
            except LineProblem as problem:
                batch.fail(line, line.get("sourcedId"), problem, "classes")
                continue
            values = {"course_id": course.id, "term_id": term.id, "title": row.title, "room": row.room}
            if entry is None:
                entry = ClassEntry(0, *wanted, capacity=None)
                writes.created.append(
                    (entry, values | {"school_id": index.school_id, "sourced_id": row.sourced_id})
                )
                index.classes[row.sourced_id] = entry
                batch.count("classes", "created")
            else:
                entry.course_id, entry.term_id, entry.title, entry.room = wanted
                writes.updates.append(values | {"id": entry.id})
                batch.count("classes", "updated")
                batch.changed_classes.add(entry.id)
        await writes.write(batch)

    def _checked(self, batch: Batch, line: Line, row: ClassRow) -> ClassRow:
        self._check_line(batch, line, row.sourced_id, row.school, "schoolSourcedId", row.status)
        if row.course not in batch.index.courses:
            raise unknown("courseSourcedId", "course", row.course)
        if row.term not in batch.index.terms:
            raise unknown("termSourcedIds", "term", row.term)
        return row
