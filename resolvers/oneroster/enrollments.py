"""enrollments.csv: students into classes, teachers onto them.

- role `student`: an ACTIVE enrollment (with its EnrollmentChange); a DROPPED one comes back
  ACTIVE. `tobedeleted`: the enrollment is dropped (DROPPED, `dropped_on` the line's endDate or
  today, an EnrollmentChange), its grades kept. A class with a capacity takes no more students
  than it has seats (CAPACITY_EXCEEDED).
- role `teacher`: a teacher of the class, `primary` as the line says; `tobedeleted` removes them.
- other roles (administrator, proctor, aide): UNSUPPORTED_ROLE.
Enrollments have no sourcedId of their own: a line is matched by its class and user. Open
gradebooks hear of each enrollment and drop (StudentEnrolled, StudentDropped) after the commit.

There may be many more enrollments than anything else, so nothing about them is kept between
batches: each batch looks up the enrollments, teachers and seat counts of its own lines. A dry
run, which writes nothing, keeps what it would have changed instead (so a later line of the
same pair sees it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import and_, delete, func, select

from models import Class, ClassTeacher, Enrollment, EnrollmentChange, User
from models.base import utcnow
from models.enums import EnrollmentStatus, Role
from resolvers.oneroster.academics import closed
from resolvers.oneroster.batch import Batch, check_org, chunked, unknown
from resolvers.oneroster.csv_files import ENROLLMENTS, FileProblem, Line, RosterPackage
from resolvers.oneroster.index import ClassEntry, UserEntry
from resolvers.oneroster.records import TO_BE_DELETED, EnrollmentRow, LineProblem, enrollment_row
from subscriptions.channels import gradebook_channel
from subscriptions.events import ClassTeachersChanged, StudentDropped, StudentEnrolled, UserRef

REASON = "OneRoster import"
ROLE_OF_LINE = {"student": Role.STUDENT, "teacher": Role.TEACHER}

Pair = tuple[int, int]  # (class id, user id)


@dataclass(slots=True)
class _Seat:
    id: int
    status: EnrollmentStatus


@dataclass
class _Writes:
    new_seats: list[tuple[_Seat, dict[str, Any], date]] = field(default_factory=list)
    seat_updates: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    new_teachers: list[dict[str, Any]] = field(default_factory=list)
    teacher_updates: list[dict[str, Any]] = field(default_factory=list)
    removed_teachers: list[Pair] = field(default_factory=list)
    enrolled: list[tuple[Pair, _Seat]] = field(default_factory=list)
    dropped: list[tuple[Pair, _Seat, date]] = field(default_factory=list)


class EnrollmentsStep:
    file = ENROLLMENTS

    def __init__(self) -> None:
        # Dry runs only: what earlier batches would have changed.
        self.dry_seats: dict[Pair, _Seat] = {}
        self.dry_teachers: dict[Pair, bool | None] = {}
        self.dry_active: dict[int, int] = {}

    def batches(self, package: RosterPackage, problems: list[FileProblem]) -> Iterator[list[Line]]:
        return chunked(package, self.file, problems)

    async def apply(self, batch: Batch, lines: list[Line]) -> None:
        parsed: list[tuple[Line, EnrollmentRow, ClassEntry, UserEntry]] = []
        for line in lines:
            entity = "classTeachers" if line.get("role") == "teacher" else "enrollments"
            try:
                row = enrollment_row(line)
                parsed.append((line, row, *self._resolved(batch, row)))
            except LineProblem as problem:
                batch.fail(line, line.get("sourcedId"), problem, entity)
        student_pairs = {(c.id, u.id) for _, row, c, u in parsed if row.role == "student"}
        teacher_pairs = {(c.id, u.id) for _, row, c, u in parsed if row.role == "teacher"}
        seats = await self._seats(batch, student_pairs)
        teachers = await self._teachers(batch, teacher_pairs)
        limited = {
            c.id for _, row, c, _ in parsed if row.role == "student" and c.capacity is not None and c.id > 0
        }
        active = await self._active(batch, limited)
        closed_terms, writes = batch.index.closed_term_ids(), _Writes()
        for line, row, klass, user in parsed:
            pair, frozen = (klass.id, user.id), klass.term_id in closed_terms
            try:
                if row.role == "student":
                    self._student(batch, row, pair, frozen, klass, seats, active, writes)
                else:
                    self._teacher(batch, row, pair, frozen, teachers, writes)
            except LineProblem as problem:
                batch.fail(
                    line, row.sourced_id, problem, "enrollments" if row.role == "student" else "classTeachers"
                )
        if batch.dry_run:
            self.dry_seats.update({pair: seats[pair] for pair in student_pairs if pair in seats})
            self.dry_teachers.update({pair: teachers.get(pair) for pair in teacher_pairs})
        await self._write(batch, writes)

    async def finish(self, batch: Batch) -> None:
        return None

    def _resolved(self, batch: Batch, row: EnrollmentRow) -> tuple[ClassEntry, UserEntry]:
        check_org(batch.index.orgs, row.school, "schoolSourcedId")
        klass = batch.index.classes.get(row.klass)
        if klass is None:
            raise unknown("classSourcedId", "class", row.klass)
        user = batch.index.users.get(row.user)
        if user is None:
            raise unknown("userSourcedId", "user", row.user)
        role = ROLE_OF_LINE.get(row.role)
        if role is None:
            raise LineProblem(
                "role", "UNSUPPORTED_ROLE", f"{row.role!r} is not imported: only student and teacher."
            )
        if user.role != role:
            raise LineProblem("userSourcedId", "INVALID", f"{row.user!r} is not a {row.role}.")
        return klass, user

    def _student(
        self,
        batch: Batch,
        row: EnrollmentRow,
        pair: Pair,
        frozen: bool,
        klass: ClassEntry,
        seats: dict[Pair, _Seat],
        active: dict[int, int],
        writes: _Writes,
    ) -> None:
        seat = seats.get(pair)
        if row.status == TO_BE_DELETED:
            if seat is None or seat.status != EnrollmentStatus.ACTIVE:
                batch.count("enrollments", "unchanged")
                return
            if frozen:
                raise closed()
            on = row.ends_on or batch.today
            seat.status = EnrollmentStatus.DROPPED
            writes.seat_updates.append({"id": seat.id, "status": EnrollmentStatus.DROPPED, "dropped_on": on})
            writes.changes.append(_change(batch, seat.id, EnrollmentStatus.DROPPED, on))
            writes.dropped.append((pair, seat, on))
            if klass.id in active:
                active[klass.id] -= 1
            batch.count("enrollments", "updated")
            return
        if seat is not None and seat.status != EnrollmentStatus.DROPPED:
            batch.count("enrollments", "unchanged")
            return
        if frozen:
            raise closed()
        if klass.capacity is not None and active.get(klass.id, 0) >= klass.capacity:
            raise LineProblem(None, "CAPACITY_EXCEEDED", f"The class has {klass.capacity} seats, all taken.")
        if klass.id in active:
            active[klass.id] += 1
        on = row.begins_on or batch.today
        if seat is None:
            seat = seats[pair] = _Seat(0, EnrollmentStatus.ACTIVE)
            values = {
                "class_id": pair[0],
                "student_id": pair[1],
                "status": EnrollmentStatus.ACTIVE,
                "enrolled_at": utcnow(),
            }
            writes.new_seats.append((seat, values, on))
            batch.count("enrollments", "created")
        else:
            seat.status = EnrollmentStatus.ACTIVE
            writes.seat_updates.append({"id": seat.id, "status": EnrollmentStatus.ACTIVE, "dropped_on": None})
            writes.changes.append(_change(batch, seat.id, EnrollmentStatus.ACTIVE, on))
            batch.count("enrollments", "updated")
        writes.enrolled.append((pair, seat))

    def _teacher(
        self,
        batch: Batch,
        row: EnrollmentRow,
        pair: Pair,
        frozen: bool,
        teachers: dict[Pair, bool],
        writes: _Writes,
    ) -> None:
        current = teachers.get(pair)
        removing = row.status == TO_BE_DELETED
        if (removing and current is None) or (not removing and current == row.primary):
            batch.count("classTeachers", "unchanged")
            return
        if frozen:
            raise closed()
        values = {"class_id": pair[0], "teacher_id": pair[1], "is_primary": row.primary}
        if removing:
            del teachers[pair]
            writes.removed_teachers.append(pair)
        elif current is None:
            teachers[pair] = row.primary
            writes.new_teachers.append(values)
        else:
            teachers[pair] = row.primary
            writes.teacher_updates.append(values)
        batch.count("classTeachers", "created" if current is None else "updated")
        batch.changed_classes.add(pair[0])

    async def _seats(self, batch: Batch, pairs: set[Pair]) -> dict[Pair, _Seat]:
        seats: dict[Pair, _Seat] = {}
        classes, students = {c for c, _ in pairs if c > 0}, {s for _, s in pairs if s > 0}
        if classes and students:
            rows = await batch.session.execute(
                select(Enrollment.class_id, Enrollment.student_id, Enrollment.id, Enrollment.status).where(
                    Enrollment.class_id.in_(classes), Enrollment.student_id.in_(students)
                )
            )
            seats = {(c, s): _Seat(pk, state) for c, s, pk, state in rows if (c, s) in pairs}
        seats.update({pair: self.dry_seats[pair] for pair in pairs if pair in self.dry_seats})
        return seats

    async def _teachers(self, batch: Batch, pairs: set[Pair]) -> dict[Pair, bool]:
        teachers: dict[Pair, bool] = {}
        classes, people = {c for c, _ in pairs if c > 0}, {t for _, t in pairs if t > 0}
        if classes and people:
            rows = await batch.session.execute(
                select(ClassTeacher.class_id, ClassTeacher.teacher_id, ClassTeacher.is_primary).where(
                    ClassTeacher.class_id.in_(classes), ClassTeacher.teacher_id.in_(people)
                )
            )
            teachers = {(c, t): primary for c, t, primary in rows if (c, t) in pairs}
        for pair in pairs & self.dry_teachers.keys():
            overlay = self.dry_teachers[pair]
            if overlay is None:
                teachers.pop(pair, None)
            else:
                teachers[pair] = overlay
        return teachers

    async def _active(self, batch: Batch, limited: set[int]) -> dict[int, int]:
        """ACTIVE enrollments of the batch's classes that have a capacity, their rows locked
        (PostgreSQL; SQLite's writer holds the database) so that concurrent enrollments count."""
        active = dict.fromkeys(limited, 0)
        if limited:
            await batch.session.execute(select(Class.id).where(Class.id.in_(limited)).with_for_update())
            rows = await batch.session.execute(
                select(Enrollment.class_id, func.count())
                .where(Enrollment.class_id.in_(limited), Enrollment.status == EnrollmentStatus.ACTIVE)
                .group_by(Enrollment.class_id)
            )
            active.update(dict(rows.all()))
        if batch.dry_run:
            return {class_id: n + self.dry_active.get(class_id, 0) for class_id, n in active.items()}
        return active

    async def _write(self, batch: Batch, writes: _Writes) -> None:
        ids = await batch.insert_rows(Enrollment, [values for _, values, _ in writes.new_seats])
        for (seat, _, on), seat_id in zip(writes.new_seats, ids, strict=True):
            seat.id = seat_id
            writes.changes.append(_change(batch, seat_id, EnrollmentStatus.ACTIVE, on))
        await batch.update_rows(Enrollment, writes.seat_updates)
        await batch.execute_insert(EnrollmentChange, writes.changes)
        await batch.execute_insert(ClassTeacher, writes.new_teachers)
        await batch.update_rows(ClassTeacher, writes.teacher_updates)
        for class_id, teacher_id in writes.removed_teachers if not batch.dry_run else ():
            await batch.session.execute(
                delete(ClassTeacher).where(
                    and_(ClassTeacher.class_id == class_id, ClassTeacher.teacher_id == teacher_id)
                )
            )
        if batch.dry_run:
            for (class_id, _), _seat in writes.enrolled:
                self.dry_active[class_id] = self.dry_active.get(class_id, 0) + 1
            for (class_id, _), _seat, _on in writes.dropped:
                self.dry_active[class_id] = self.dry_active.get(class_id, 0) - 1
            return
        await self._announce(batch, writes)

    async def _announce(self, batch: Batch, writes: _Writes) -> None:
        """The gradebook events of the batch (published after its commit) and whose dashboards changed."""
        await self._announce_teachers(batch, {class_id for class_id, _ in writes.removed_teachers})
        pairs = [pair for pair, _ in writes.enrolled] + [pair for pair, _, _ in writes.dropped]
        students = {student for _, student in pairs}
        if not students:
            return
        names = dict(
            (await batch.session.execute(select(User.id, User.name).where(User.id.in_(students)))).all()
        )
        for (class_id, student_id), seat in writes.enrolled:
            event = StudentEnrolled(
                class_id=class_id,
                enrollment_id=seat.id,
                student=UserRef(id=student_id, name=names[student_id]),
            )
            batch.events.append((gradebook_channel(class_id), event))
        for (class_id, student_id), seat, on in writes.dropped:
            student = UserRef(id=student_id, name=names[student_id])
            batch.events.append(
                (
                    gradebook_channel(class_id),
                    StudentDropped(
                        class_id=class_id, enrollment_id=seat.id, student=student, effective_date=on
                    ),
                )
            )
        batch.changed_classes.update(class_id for class_id, _ in pairs)
        batch.changed_students.update(students)

    async def _announce_teachers(self, batch: Batch, class_ids: set[int]) -> None:
        """A class that lost a teacher names its teachers now: that teacher's open gradebook ends."""
        if not class_ids:
            return
        teachers: dict[int, list[int]] = {class_id: [] for class_id in class_ids}
        rows = await batch.session.execute(
            select(ClassTeacher.class_id, ClassTeacher.teacher_id)
            .where(ClassTeacher.class_id.in_(class_ids))
            .order_by(ClassTeacher.teacher_id)
        )
        for class_id, teacher_id in rows.all():
            teachers[class_id].append(teacher_id)
        for class_id, ids in sorted(teachers.items()):
            event = ClassTeachersChanged(class_id=class_id, teacher_ids=tuple(ids))
            batch.events.append((gradebook_channel(class_id), event))


def _change(batch: Batch, enrollment_id: int, state: EnrollmentStatus, on: date) -> dict[str, Any]:
    return {
        "enrollment_id": enrollment_id, "status": state, "effective_date": on, "changed_at": utcnow(),
        "changed_by_id": batch.started_by_id, "reason": REASON,
    }  # fmt: skip
