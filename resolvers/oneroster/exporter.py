"""exportRoster: the school (or one term of it) as a OneRoster 1.2 CSV zip behind a signed link.

The zip holds manifest.csv (every file `bulk`, the rest `absent`), orgs.csv (the school),
academicSessions.csv (terms, their grading periods), courses.csv, classes.csv, users.csv,
roles.csv and enrollments.csv. Every row carries its sourcedId; a row without one gets
`cg-<kind>-<id>` (`index.generated_id`), derived from its key, so exporting changes no row of
the school and the same row always gets the same id. Students, teachers and guardians are exported (staff,
admin and mentor accounts have no OneRoster role that an import would take back); a guardian's
wards are its agentSourcedIds. Enrollments are the current ones (ACTIVE, or COMPLETED in a
closed term); dropped ones are left out, as a bulk file lists what is, and the teachers of each
class are its teacher lines. With a term: that term, its classes, their courses, their students
and teachers and those students' guardians. Nothing of another school is read.

The zip stays in the media store only while its link works: each export is recorded
(RosterExport) with its link's expiry, and worker.py's sweep deletes the files whose links have
expired (`delete_expired_exports`).
"""

from __future__ import annotations

import asyncio
import csv
import io
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from context import AppState, Context
from errors import Problem, ProblemError
from models import (
    Class,
    ClassTeacher,
    Course,
    Enrollment,
    GradingPeriod,
    GuardianLink,
    School,
    StudentProfile,
    Term,
    User,
)
from models.enums import EnrollmentStatus, Role, UserStatus
from models.roster_imports import RosterExport
from resolvers import audit
from resolvers.oneroster import csv_files as files
from resolvers.oneroster.index import generated_id
from resolvers.oneroster.records import grade_code
from resolvers.roster_rules import own_row, require_staff
from stores.media import MediaStore, sign_url

URL_SECONDS = 900
SWEEP_BATCH = 200  # expired exports deleted per sweep
STREAM_ROWS = 1000
ABSENT = (
    "categories", "classResources", "courseResources", "demographics", "lineItems",
    "lineItemLearningObjectiveIds", "lineItemScoreScales", "resources", "results",
    "resultLearningObjectiveIds", "resultScoreScales", "scoreScales", "userProfiles", "userResources",
)  # fmt: skip
BULK = ("academicSessions", "classes", "courses", "enrollments", "orgs", "roles", "users")
ORGS = ["sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId"]
SESSIONS = [
    "sourcedId", "status", "dateLastModified", "title", "type", "startDate", "endDate",
    "parentSourcedId", "schoolYear",
]  # fmt: skip
COURSES = [
    "sourcedId", "status", "dateLastModified", "schoolYearSourcedId", "title", "courseCode", "grades",
    "orgSourcedId", "subjects", "subjectCodes", "metadata.credits",
]  # fmt: skip
CLASSES = [
    "sourcedId", "status", "dateLastModified", "title", "grades", "courseSourcedId", "classCode",
    "classType", "location", "schoolSourcedId", "termSourcedIds", "subjects", "subjectCodes", "periods",
]  # fmt: skip
USERS = [
    "sourcedId", "status", "dateLastModified", "enabledUser", "username", "userIds", "givenName",
    "familyName", "middleName", "identifier", "email", "sms", "phone", "agentSourcedIds", "grades",
    "password", "userMasterIdentifier", "resourceSourcedIds", "preferredGivenName", "preferredMiddleName",
    "preferredFamilyName", "primaryOrgSourcedId", "pronouns", "metadata.cohortYear",
]  # fmt: skip
ROLES = [
    "sourcedId", "status", "dateLastModified", "userSourcedId", "roleType", "role", "beginDate",
    "endDate", "orgSourcedId", "userProfileSourcedId",
]  # fmt: skip
ENROLLMENTS = [
    "sourcedId", "status", "dateLastModified", "classSourcedId", "schoolSourcedId", "userSourcedId",
    "role", "primary", "beginDate", "endDate",
]  # fmt: skip
ROLE_WORDS = {Role.STUDENT: "student", Role.TEACHER: "teacher"}
GUARDIAN_WORDS = ("parent", "guardian", "relative")
CURRENT = (EnrollmentStatus.ACTIVE, EnrollmentStatus.COMPLETED)


@dataclass(frozen=True)
class ExportLink:
    url: str
    expires_at: datetime


async def export_roster(ctx: Context, term_global_id: str | None) -> ExportLink | list[Problem]:
    """Staff and admins (others FORBIDDEN); a term of another school: NOT_FOUND on termId."""
    user = require_staff(ctx)
    async with ctx.session_factory() as session:
        term_id = None
        if term_global_id is not None:
            try:
                term = await own_row(
                    session, Term, term_global_id, "Term", user.school_id, ("input", "termId")
                )
            except ProblemError as refused:
                return refused.problems
            term_id = term.id
        school = await session.get(School, user.school_id)
        assert school is not None
        snapshot = await _snapshot(session, school, term_id)
        data, counts = await _zip(session, snapshot)
    store = MediaStore(ctx.settings.media_dir)
    key = await asyncio.to_thread(store.save, data, suffix=".zip")
    url, expires_at = sign_url(
        ctx.settings,
        key,
        filename=f"oneroster-{school.slug}-{datetime.now(UTC):%Y%m%d}.zip",
        content_type="application/zip",
        expires_in_seconds=URL_SECONDS,
        disposition="attachment",
    )
    try:
        async with ctx.writer.begin() as session:
            session.add(RosterExport(school_id=school.id, storage_key=key, expires_at=expires_at))
            detail = {"termId": term_id, "rows": counts}
            audit.record(session, ctx, "roster.exported", "School", school.id, detail=detail)
    except BaseException:
        await asyncio.to_thread(store.delete, key)  # no link to it, and no row to sweep it by
        raise
    return ExportLink(url, expires_at)


async def delete_expired_exports(app: AppState, *, now: datetime | None = None) -> int:
    """Deletes up to SWEEP_BATCH exported zips whose links have expired, and their rows; how many.
    The files go first: a sweep cut off in between finds the rows again next time (a file already
    gone is fine), so no file outlives its row. Concurrent sweeps of several processes are harmless."""
    async with app.session_factory() as session:
        expired = (
            await session.execute(
                select(RosterExport.id, RosterExport.storage_key)
                .where(RosterExport.expires_at <= (now or datetime.now(UTC)))
                .order_by(RosterExport.expires_at)
                .limit(SWEEP_BATCH)
            )
        ).all()
    if not expired:
        return 0
    store = MediaStore(app.settings.media_dir)
    for _, key in expired:
        await asyncio.to_thread(store.delete, key)
    async with app.writer_session_factory.begin() as session:
        await session.execute(delete(RosterExport).where(RosterExport.id.in_([row.id for row in expired])))
    return len(expired)


def _key(sourced: str | None, kind: str, pk: int) -> str:
    return sourced or generated_id(kind, pk)


@dataclass
class _Snapshot:
    """What the export writes, read in a handful of statements (enrollments stream later)."""

    school: School
    org: str
    terms: list[Term]
    periods: list[GradingPeriod]
    courses: list[Course]
    classes: list[Class]
    teachers: list[ClassTeacher]
    seats: Select[Enrollment]
    people: list[tuple[User, StudentProfile | None]]
    wards: dict[int, list[tuple[int, str]]]
    keys: dict[tuple[str, int], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for kind, rows in (("term", self.terms), ("gradingPeriod", self.periods), ("course", self.courses)):
            self.keys.update({(kind, row.id): _key(row.sourced_id, kind, row.id) for row in rows})
        self.keys.update({("class", row.id): _key(row.sourced_id, "class", row.id) for row in self.classes})
        self.keys.update(
            {("user", user.id): _key(user.sourced_id, "user", user.id) for user, _ in self.people}
        )

    def key(self, kind: str, pk: int) -> str:
        return self.keys[(kind, pk)]


async def _snapshot(session: AsyncSession, school: School, term_id: int | None) -> _Snapshot:
    in_term = [] if term_id is None else [Term.id == term_id]
    terms = (
        await session.scalars(select(Term).where(Term.school_id == school.id, *in_term).order_by(Term.id))
    ).all()
    term_ids = [term.id for term in terms]
    periods = (
        await session.scalars(
            select(GradingPeriod).where(GradingPeriod.term_id.in_(term_ids)).order_by(GradingPeriod.id)
        )
    ).all()
    classes = (
        await session.scalars(
            select(Class).where(Class.school_id == school.id, Class.term_id.in_(term_ids)).order_by(Class.id)
        )
    ).all()
    class_ids = [klass.id for klass in classes]
    courses_query = select(Course).where(Course.school_id == school.id).order_by(Course.id)
    if term_id is not None:
        courses_query = courses_query.where(Course.id.in_({klass.course_id for klass in classes}))
    courses = (await session.scalars(courses_query)).all()
    teachers = (
        await session.scalars(
            select(ClassTeacher)
            .where(ClassTeacher.class_id.in_(class_ids))
            .order_by(ClassTeacher.class_id, ClassTeacher.teacher_id)
        )
    ).all()
    seats = (
        select(Enrollment)
        .where(Enrollment.class_id.in_(class_ids), Enrollment.status.in_(CURRENT))
        .order_by(Enrollment.id)
    )
    people = await _people(session, school.id, term_id, {t.teacher_id for t in teachers}, seats)
    wards = await _wards(session, school.id, {user.id for user, _ in people})
    return _Snapshot(
        school, generated_id("school", school.id), list(terms), list(periods), list(courses), list(classes),
        list(teachers), seats, people, wards,
    )  # fmt: skip


async def _people(
    session: AsyncSession,
    school_id: int,
    term_id: int | None,
    teacher_ids: set[int],
    seats: Select[Enrollment],
) -> list[tuple[User, StudentProfile | None]]:
    """The exported accounts (students with their records), in id order."""
    query = (
        select(User, StudentProfile)
        .outerjoin(StudentProfile, StudentProfile.user_id == User.id)
        .where(User.school_id == school_id, User.role.in_((Role.STUDENT, Role.TEACHER, Role.GUARDIAN)))
    )
    if term_id is not None:
        students = set(
            (await session.scalars(seats.with_only_columns(Enrollment.student_id).order_by(None))).all()
        )
        guardians = select(GuardianLink.guardian_id).where(GuardianLink.student_id.in_(students))
        wanted = students | teacher_ids | set((await session.scalars(guardians)).all())
        query = query.where(User.id.in_(wanted))
    return list((await session.execute(query.order_by(User.id))).all())


async def _wards(
    session: AsyncSession, school_id: int, user_ids: set[int]
) -> dict[int, list[tuple[int, str]]]:
    """Each exported guardian's exported wards, with the relationship of the link."""
    rows = await session.execute(
        select(GuardianLink.guardian_id, GuardianLink.student_id, GuardianLink.relationship)
        .join(User, User.id == GuardianLink.student_id)
        .where(User.school_id == school_id)
        .order_by(GuardianLink.id)
    )
    wards: defaultdict[int, list[tuple[int, str]]] = defaultdict(list)
    for guardian, student, word in rows:
        if guardian in user_ids and student in user_ids:
            wards[guardian].append((student, word))
    return wards


def _write(archive: zipfile.ZipFile, name: str, header: list[str], rows: Iterable[dict[str, str]]) -> int:
    count = 0
    with archive.open(name, "w") as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as text:
        writer = csv.DictWriter(text, header, restval="")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def _manifest_rows() -> Iterator[dict[str, str]]:
    yield {"propertyName": "manifest.version", "value": "1.0"}
    yield {"propertyName": "oneroster.version", "value": "1.2"}
    for name in BULK:
        yield {"propertyName": f"file.{name}", "value": "bulk"}
    for name in ABSENT:
        yield {"propertyName": f"file.{name}", "value": "absent"}
    yield {"propertyName": "source.systemName", "value": "CampusGraph"}


def _session_rows(s: _Snapshot) -> Iterator[dict[str, str]]:
    for term in s.terms:
        yield {
            "sourcedId": s.key("term", term.id), "title": term.name, "type": "term",
            "startDate": term.starts_on.isoformat(), "endDate": term.ends_on.isoformat(),
            "schoolYear": str(term.ends_on.year),
        }  # fmt: skip
    for period in s.periods:
        yield {
            "sourcedId": s.key("gradingPeriod", period.id), "title": period.name, "type": "gradingPeriod",
            "startDate": period.starts_on.isoformat(), "endDate": period.ends_on.isoformat(),
            "parentSourcedId": s.key("term", period.term_id), "schoolYear": str(period.ends_on.year),
        }  # fmt: skip


def _course_rows(s: _Snapshot) -> Iterator[dict[str, str]]:
    for course in s.courses:
        yield {
            "sourcedId": s.key("course", course.id), "title": course.title, "courseCode": course.code,
            "orgSourcedId": s.org, "metadata.credits": str(course.credits),
        }  # fmt: skip


def _class_rows(s: _Snapshot) -> Iterator[dict[str, str]]:
    for klass in s.classes:
        yield {
            "sourcedId": s.key("class", klass.id), "title": klass.title,
            "courseSourcedId": s.key("course", klass.course_id), "classType": "scheduled",
            "location": klass.room or "", "schoolSourcedId": s.org,
            "termSourcedIds": s.key("term", klass.term_id),
        }  # fmt: skip


def _user_rows(s: _Snapshot) -> Iterator[dict[str, str]]:
    """givenName is the name but its last word, familyName that word (an import joins them again)."""
    for user, profile in s.people:
        given, _, family = user.name.strip().rpartition(" ")
        wards = ",".join(s.key("user", ward) for ward, _ in s.wards.get(user.id, []))
        row = {
            "sourcedId": s.key("user", user.id), "username": user.email, "email": user.email,
            "enabledUser": "false" if user.status == UserStatus.DEACTIVATED else "true",
            "givenName": given, "familyName": family, "agentSourcedIds": wards, "primaryOrgSourcedId": s.org,
        }  # fmt: skip
        if profile is not None:
            row["identifier"] = profile.student_number
            row["grades"] = grade_code(profile.grade_level)
            row["metadata.cohortYear"] = str(profile.cohort_year)
        yield row


def _role_rows(s: _Snapshot) -> Iterator[dict[str, str]]:
    """A guardian's role is the relationship of its first link (parent, guardian or relative)."""
    for user, _ in s.people:
        words = [word for _, word in s.wards.get(user.id, []) if word in GUARDIAN_WORDS]
        yield {
            "sourcedId": generated_id("role", user.id), "userSourcedId": s.key("user", user.id),
            "roleType": "primary", "role": ROLE_WORDS.get(user.role) or (words[0] if words else "guardian"),
            "orgSourcedId": s.org,
        }  # fmt: skip


async def _zip(session: AsyncSession, s: _Snapshot) -> tuple[bytes, dict[str, int]]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        _write(archive, files.MANIFEST, ["propertyName", "value"], _manifest_rows())
        org = {"sourcedId": s.org, "name": s.school.name, "type": "school", "identifier": s.school.slug}
        _write(archive, files.ORGS, ORGS, [org])
        counts = {
            "academicSessions": _write(archive, files.SESSIONS, SESSIONS, _session_rows(s)),
            "courses": _write(archive, files.COURSES, COURSES, _course_rows(s)),
            "classes": _write(archive, files.CLASSES, CLASSES, _class_rows(s)),
            "users": _write(archive, files.USERS, USERS, _user_rows(s)),
            "roles": _write(archive, files.ROLES, ROLES, _role_rows(s)),
            "enrollments": await _enrollments(archive, session, s),
        }
    return buffer.getvalue(), counts


async def _enrollments(archive: zipfile.ZipFile, session: AsyncSession, s: _Snapshot) -> int:
    """enrollments.csv: the classes' teachers, then their students, streamed from the database."""
    count = 0
    with (
        archive.open(files.ENROLLMENTS, "w") as raw,
        io.TextIOWrapper(raw, encoding="utf-8", newline="") as text,
    ):
        writer = csv.DictWriter(text, ENROLLMENTS, restval="")
        writer.writeheader()
        for teacher in s.teachers:
            if ("user", teacher.teacher_id) not in s.keys:
                continue  # a co-teacher whose account is not a teacher's has no OneRoster teacher line
            writer.writerow({
                "sourcedId": generated_id("classTeacher", teacher.class_id, teacher.teacher_id),
                "classSourcedId": s.key("class", teacher.class_id), "schoolSourcedId": s.org,
                "userSourcedId": s.key("user", teacher.teacher_id), "role": "teacher",
                "primary": "true" if teacher.is_primary else "false",
            })  # fmt: skip
            count += 1
        seats = await session.stream_scalars(s.seats.execution_options(yield_per=STREAM_ROWS))
        async for seat in seats:
            if ("user", seat.student_id) not in s.keys:
                continue
            writer.writerow({
                "sourcedId": generated_id("enrollment", seat.id),
                "classSourcedId": s.key("class", seat.class_id),
                "schoolSourcedId": s.org, "userSourcedId": s.key("user", seat.student_id), "role": "student",
                "primary": "false", "beginDate": seat.enrolled_at.date().isoformat(),
            })  # fmt: skip
            count += 1
    return count
