"""exportRoster through the contract's ExportRoster: a signed link to a OneRoster zip of the
caller's school only, and a round trip: export, then import into an empty school, the same roster."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVarTuple

import httpx
from sqlalchemy import Row, Select, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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
from models.enums import EnrollmentStatus, Role
from resolvers.ids import encode_id
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory
from tests.resolvers.oneroster.builder import counts_of, school_set, upload
from tests.resolvers.oneroster.test_import import imported

EXPORT = contract_operation("ExportRoster")
Ts = TypeVarTuple("Ts")


async def export(gql: GraphQLClient, token: str, term_id: str | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = (await gql.as_user(token).data(EXPORT, {"input": {"termId": term_id}}))[
        "exportRoster"
    ]
    return payload


def read_zip(data: bytes) -> dict[str, list[dict[str, str]]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {
            name: list(csv.DictReader(io.TextIOWrapper(archive.open(name), encoding="utf-8")))
            for name in archive.namelist()
        }


async def rows(session: AsyncSession, query: Select[*Ts]) -> Sequence[Row[*Ts]]:
    return (await session.execute(query)).all()


async def roster_of(session_factory: async_sessionmaker[AsyncSession], school_id: int) -> dict[str, Any]:
    """What a round trip must reproduce, by value (ids differ between schools)."""
    async with session_factory() as session:
        users = await rows(
            session,
            select(
                User.role,
                User.email,
                User.name,
                StudentProfile.student_number,
                StudentProfile.grade_level,
                StudentProfile.cohort_year,
            )
            .outerjoin(StudentProfile, StudentProfile.user_id == User.id)
            .where(User.school_id == school_id, User.role.in_((Role.STUDENT, Role.TEACHER, Role.GUARDIAN))),
        )
        terms = await rows(
            session, select(Term.name, Term.starts_on, Term.ends_on).where(Term.school_id == school_id)
        )
        periods = await rows(
            session,
            select(Term.name, GradingPeriod.name, GradingPeriod.starts_on, GradingPeriod.ends_on)
            .join(Term, Term.id == GradingPeriod.term_id)
            .where(GradingPeriod.school_id == school_id),
        )
        courses = await rows(
            session, select(Course.code, Course.title, Course.credits).where(Course.school_id == school_id)
        )
        classes = await rows(
            session,
            select(Class.title, Class.room, Course.code, Term.name)
            .join(Course, Course.id == Class.course_id)
            .join(Term, Term.id == Class.term_id)
            .where(Class.school_id == school_id),
        )
        seats = await rows(
            session,
            select(Class.title, User.email)
            .select_from(Enrollment)
            .join(Class, Class.id == Enrollment.class_id)
            .join(User, User.id == Enrollment.student_id)
            .where(Class.school_id == school_id, Enrollment.status == EnrollmentStatus.ACTIVE),
        )
        teaching = await rows(
            session,
            select(Class.title, User.email, ClassTeacher.is_primary)
            .select_from(ClassTeacher)
            .join(Class, Class.id == ClassTeacher.class_id)
            .join(User, User.id == ClassTeacher.teacher_id)
            .where(Class.school_id == school_id),
        )
        links = await rows(
            session,
            select(User.email, GuardianLink.student_id, GuardianLink.relationship)
            .select_from(GuardianLink)
            .join(User, User.id == GuardianLink.guardian_id)
            .where(User.school_id == school_id),
        )
        students = dict(await rows(session, select(User.id, User.email).where(User.school_id == school_id)))
    return {
        "users": sorted(map(tuple, users), key=repr),
        "users by role": {
            role: sum(1 for u in users if u[0] == role)
            for role in (Role.STUDENT, Role.TEACHER, Role.GUARDIAN)
        },
        "terms": sorted(map(tuple, terms)),
        "grading periods": sorted(map(tuple, periods)),
        "courses": sorted(map(tuple, courses)),
        "classes": sorted(map(tuple, classes), key=repr),
        "enrollments": sorted(map(tuple, seats)),
        "class teachers": sorted(map(tuple, teaching)),
        "guardian links": sorted((g, students[s], word) for g, s, word in links),
    }


async def test_export_then_import_into_an_empty_school_reproduces_it(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    factory: Factory,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    north = await factory.school("north")
    imported(
        await upload(http, factory.token(north.staff), school_set(students=6, teachers=2, classes=3).files())
    )
    original = await roster_of(session_factory, north.school.id)
    assert original["users by role"] == {Role.STUDENT: 8, Role.TEACHER: 4, Role.GUARDIAN: 3}
    assert len(original["enrollments"]) == 1 + 18

    link = await export(gql, factory.token(north.staff))
    assert link["userErrors"] == []
    served = await http.get(link["url"])
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/zip"
    files = read_zip(served.content)
    assert set(files) == {
        "manifest.csv",
        "orgs.csv",
        "academicSessions.csv",
        "courses.csv",
        "classes.csv",
        "users.csv",
        "roles.csv",
        "enrollments.csv",
    }
    assert all(row["sourcedId"] for name, rows in files.items() if name != "manifest.csv" for row in rows)
    exported_ids = {row["sourcedId"] for row in files["users.csv"]}
    assert f"cg-user-{north.student.id}" in exported_ids, (
        "a row without a sourcedId gets one derived from its id"
    )
    assert "stu-0" in exported_ids, "a row with one keeps it"

    async with (
        session_factory.begin() as session
    ):  # the same people cannot be in two schools (emails are unique)
        await session.execute(delete(School).where(School.id == north.school.id))
    fresh, staff = await factory.empty_school("fresh")
    result = imported(await upload(http, factory.token(staff), [("export.zip", served.content)]))
    assert result["status"] == "COMPLETED", result["problems"]
    assert await roster_of(session_factory, fresh.id) == original

    again = imported(await upload(http, factory.token(staff), [("export.zip", served.content)]))
    assert all(kinds["created"] == kinds["updated"] == 0 for kinds in counts_of(again).values())


async def test_the_export_is_the_schools_own_behind_a_signed_link(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    factory: Factory,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    north, south = await factory.school("north"), await factory.school("south")
    imported(await upload(http, factory.token(north.staff), school_set(students=3, classes=2).files()))
    imported(
        await upload(http, factory.token(south.staff), school_set(students=2, classes=1, tag="-s").files())
    )
    link = await export(gql, factory.token(north.admin))
    expires = datetime.fromisoformat(link["expiresAt"])
    assert datetime.now(UTC) < expires <= datetime.now(UTC) + timedelta(minutes=16)
    body = (await http.get(link["url"])).content
    text = b"".join(
        zipfile.ZipFile(io.BytesIO(body)).read(name) for name in zipfile.ZipFile(io.BytesIO(body)).namelist()
    )
    async with session_factory() as session:
        south_emails = (
            await session.scalars(select(User.email).where(User.school_id == south.school.id))
        ).all()
        south_titles = (
            await session.scalars(select(Class.title).where(Class.school_id == south.school.id))
        ).all()
    assert south_emails
    assert not any(email.encode() in text for email in south_emails)
    assert b"South School" not in text
    assert south_titles
    assert b"North School" in text
    assert (await http.get(link["url"][:-4] + "abcd")).status_code == 403

    async with session_factory() as session:
        fall_2026 = await session.scalar(
            select(Term).where(Term.school_id == north.school.id, Term.sourced_id == "term-1")
        )
        south_term = await session.scalar(select(Term.id).where(Term.school_id == south.school.id).limit(1))
        assert fall_2026 is not None
        assert south_term is not None
    one_term = read_zip(
        (
            await http.get(
                (await export(gql, factory.token(north.staff), encode_id("Term", fall_2026.id)))["url"]
            )
        ).content
    )
    assert [row["title"] for row in one_term["academicSessions.csv"]] == ["Fall 2026", "Q1", "Q2"]
    assert sorted(row["title"] for row in one_term["classes.csv"]) == ["Section 0", "Section 1"]
    assert {row["email"] for row in one_term["users.csv"]} == {
        *(f"stu-{n}@roster.test" for n in range(3)),
        "tch-0@roster.test",
        "tch-1@roster.test",
        "par-0@roster.test",
        "par-1@roster.test",
    }

    foreign = await export(gql, factory.token(north.staff), encode_id("Term", south_term))
    assert foreign["url"] is None
    assert foreign["userErrors"] == [
        {"field": ["input", "termId"], "message": foreign["userErrors"][0]["message"], "code": "NOT_FOUND"}
    ]
    refused = await gql.as_user(factory.token(north.teacher)).execute(EXPORT, {"input": {}})
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    async with session_factory() as session:
        assert (
            await session.scalar(select(func.count()).select_from(Term).where(Term.sourced_id.like("cg-%")))
            == 0
        ), "exporting writes no sourcedId back"
