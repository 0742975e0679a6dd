"""importRoster through the contract's ImportRoster and RosterImport: idempotence, dry runs, bad
lines reported and left out whole, problems in file and line order, and who may import."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import (
    AuditEntry,
    Class,
    ClassTeacher,
    Course,
    Enrollment,
    EnrollmentChange,
    GradingPeriod,
    GuardianLink,
    RosterImport,
    RosterImportProblem,
    StudentProfile,
    TeacherProfile,
    Term,
    User,
)
from models.enums import EnrollmentStatus, Role, UserStatus
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory
from tests.resolvers.oneroster.builder import RosterSet, counts_of, school_set, upload

ROSTER_IMPORT = contract_operation("RosterImport")
ROSTER_IMPORTS = contract_operation("RosterImports")
ROSTER_TABLES = (
    Term,
    GradingPeriod,
    Course,
    Class,
    User,
    StudentProfile,
    TeacherProfile,
    GuardianLink,
    Enrollment,
    EnrollmentChange,
    ClassTeacher,
)


async def table_counts(session_factory: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with session_factory() as session:
        return {
            model.__tablename__: await session.scalar(select(func.count()).select_from(model)) or 0
            for model in ROSTER_TABLES
        }


def imported(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body["errors"]
    payload = body["data"]["importRoster"]
    assert payload["userErrors"] == [], payload["userErrors"]
    roster_import: dict[str, Any] = payload["rosterImport"]
    return roster_import


async def test_the_same_set_twice_creates_and_updates_nothing(
    http: httpx.AsyncClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    roster = school_set(students=6, teachers=2, classes=3, guardians=2)
    first = imported(await upload(http, factory.token(north.staff), roster.files()))
    assert first["status"] == "COMPLETED", first["problems"]
    assert first["dryRun"] is False
    assert first["fileNames"] == sorted(name for name, _ in roster.files())
    assert first["progress"] == {
        "processed": first["progress"]["total"],
        "total": 2 + 4 + 3 + 3 + 10 + 10 + 21,
    }
    counts = counts_of(first)
    assert counts["terms"] == {"created": 1, "updated": 0, "unchanged": 0, "failed": 0}
    assert counts["gradingPeriods"]["created"] == 2
    assert counts["courses"]["created"] == counts["classes"]["created"] == 3
    assert (counts["students"]["created"], counts["teachers"]["created"], counts["guardians"]["created"]) == (
        6,
        2,
        2,
    )
    assert counts["guardianLinks"]["created"] == 2
    assert counts["enrollments"]["created"] == 18
    assert counts["classTeachers"]["created"] == 3
    assert counts["orgs"] == {"created": 0, "updated": 0, "unchanged": 2, "failed": 0}
    after_first = await table_counts(session_factory)

    second = imported(await upload(http, factory.token(north.admin), [("set.zip", roster.zip())]))
    assert second["status"] == "COMPLETED"
    for entity, kinds in counts_of(second).items():
        assert (kinds["created"], kinds["updated"], kinds["failed"]) == (0, 0, 0), entity
        assert kinds["unchanged"] == sum(counts[entity].values()), entity
    assert await table_counts(session_factory) == after_first

    async with session_factory() as session:
        student = await session.scalar(select(User).where(User.sourced_id == "stu-1"))
        assert student is not None
        assert (student.school_id, student.role, student.status) == (
            north.school.id,
            Role.STUDENT,
            UserStatus.INVITED,
        )
        assert student.password_hash is None
        assert student.email == "stu-1@roster.test"
        profile = await session.get(StudentProfile, student.id)
        assert profile is not None
        assert (profile.student_number, profile.grade_level) == ("S00001", 10)
        assert profile.cohort_year == 2027 + 12 - 10, "the class of: from the first term's school year"
        changes = await session.scalar(select(func.count()).select_from(EnrollmentChange))
        assert changes == 18
        audits = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "roster.imported").order_by(AuditEntry.id)
            )
        ).all()
        assert [entry.detail["counts"]["students"] for entry in audits] == [
            {"created": 6, "updated": 0, "unchanged": 0, "failed": 0},
            {"created": 0, "updated": 0, "unchanged": 6, "failed": 0},
        ]
        assert audits[0].actor_id == north.staff.id


async def test_a_dry_run_reports_the_same_and_writes_nothing(
    http: httpx.AsyncClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    roster = school_set(students=5, classes=2)
    roster.add("users.csv", sourcedId="bad", givenName="No", familyName="Email")  # REQUIRED email
    before = await table_counts(session_factory)
    dry = imported(await upload(http, factory.token(north.staff), roster.files(), dry_run=True))
    assert dry["dryRun"] is True
    assert dry["status"] == "COMPLETED_WITH_ERRORS"
    assert await table_counts(session_factory) == before, "a dry run writes nothing to the roster"
    async with session_factory() as session:
        kept = await session.get(RosterImport, 1)
        assert kept is not None
        assert kept.dry_run
        assert await session.scalar(select(func.count()).select_from(RosterImportProblem)) == 1

    real = imported(await upload(http, factory.token(north.staff), roster.files()))
    assert counts_of(real) == counts_of(dry)
    assert real["problems"] == dry["problems"]
    assert (await table_counts(session_factory))["enrollments"] == before["enrollments"] + 10


def bad_set() -> RosterSet:
    """A set with one bad line of each kind, beside good ones."""
    roster = school_set(students=3, teachers=1, classes=1, guardians=1)
    roster.add("orgs.csv", sourcedId="org-2", name="Elsewhere High", type="school")
    roster.add("courses.csv", sourcedId="course-x", title="Foreign", courseCode="X1", orgSourcedId="org-2")
    roster.add(
        "classes.csv",
        sourcedId="class-x",
        title="Nowhere",
        courseSourcedId="course-none",
        schoolSourcedId="org-1",
        termSourcedIds="term-1",
    )
    roster.add_person(
        "stu-dup",
        "student",
        givenName="Dup",
        familyName="Mail",
        email="stu-0@roster.test",
        identifier="S9",
        grades="10",
    )
    roster.add_person("boss", "principal", givenName="Pat", familyName="Principal", email="boss@roster.test")
    roster.add_person(
        "stu-nograde", "student", givenName="No", familyName="Grade", email="ng@roster.test", identifier="S8"
    )
    roster.add_enrollment("e-bad", "class-0", "nobody", "student")
    return roster


async def test_bad_lines_are_reported_and_the_good_ones_imported(
    http: httpx.AsyncClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    result = imported(await upload(http, factory.token(north.staff), bad_set().files()))
    assert result["status"] == "COMPLETED_WITH_ERRORS"
    problems = [
        (p["file"], p["line"], p["field"], p["sourcedId"], p["code"]) for p in result["problems"]["nodes"]
    ]
    assert problems == [
        ("classes.csv", 3, "courseSourcedId", "class-x", "UNKNOWN_REFERENCE"),
        ("courses.csv", 3, "orgSourcedId", "course-x", "FOREIGN_ORG"),
        ("enrollments.csv", 6, "userSourcedId", "e-bad", "UNKNOWN_REFERENCE"),
        ("orgs.csv", 4, "sourcedId", "org-2", "FOREIGN_ORG"),
        ("roles.csv", 8, "role", "role-boss", "UNSUPPORTED_ROLE"),
        ("users.csv", 7, "email", "stu-dup", "CONFLICT"),
        ("users.csv", 8, "role", "boss", "UNSUPPORTED_ROLE"),
        ("users.csv", 9, "grades", "stu-nograde", "REQUIRED"),
    ]
    assert result["problems"]["totalCount"] == 8
    assert all(p["message"] for p in result["problems"]["nodes"])
    counts = counts_of(result)
    assert counts["students"] == {"created": 3, "updated": 0, "unchanged": 0, "failed": 2}
    assert counts["enrollments"] == {"created": 3, "updated": 0, "unchanged": 0, "failed": 1}
    async with session_factory() as session:
        assert (
            await session.scalar(select(User).where(User.sourced_id.in_(["stu-dup", "boss", "stu-nograde"])))
            is None
        )
        assert (
            await session.scalar(select(func.count()).select_from(Class).where(Class.sourced_id == "class-x"))
            == 0
        )
        # a refused user left nothing behind: no account, no record
        numbers = (await session.scalars(select(StudentProfile.student_number))).all()
        assert "S9" not in numbers
        assert "S8" not in numbers


async def test_an_email_of_another_school_is_a_conflict(
    http: httpx.AsyncClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north, south = await factory.school("north"), await factory.school("south")
    roster = school_set(students=1, teachers=1, classes=1, guardians=0)
    roster.add_person(
        "stu-x",
        "student",
        role_id="role-x",
        givenName="Taken",
        familyName="Mail",
        email=south.student.email,
        identifier="SX",
        grades="09",
    )
    result = imported(await upload(http, factory.token(north.staff), roster.files()))
    [problem] = result["problems"]["nodes"]
    assert (problem["field"], problem["code"], problem["sourcedId"]) == ("email", "CONFLICT", "stu-x")
    async with session_factory() as session:
        owner = await session.scalar(select(User).where(User.email == south.student.email))
        assert owner is not None
        assert (owner.school_id, owner.sourced_id) == (south.school.id, None), (
            "the other school's account is untouched"
        )


async def test_a_missing_column_refuses_the_file_only(http: httpx.AsyncClient, factory: Factory) -> None:
    north = await factory.school("north")
    roster = school_set(students=2, classes=1, guardians=0)
    files = [
        (name, data.replace(b"courseCode", b"code") if name == "courses.csv" else data)
        for name, data in roster.files()
    ]
    files = [
        (name, data.replace(b"title,", b"name,", 1) if name == "courses.csv" else data)
        for name, data in files
    ]
    result = imported(await upload(http, factory.token(north.staff), files))
    problems = result["problems"]["nodes"]
    [missing] = [p for p in problems if p["file"] == "courses.csv"]
    assert missing == {
        "file": "courses.csv",
        "line": None,
        "field": "title",
        "sourcedId": None,
        "code": "MISSING_COLUMN",
        "message": "The header lacks title (column names are case-sensitive).",
    }
    assert {p["file"] for p in problems} == {"courses.csv", "classes.csv", "enrollments.csv"}, (
        "the classes of the missing courses, and their enrollments, are refused too"
    )
    assert counts_of(result)["students"]["created"] == 2


async def test_changes_update_and_tobedeleted_drops(
    http: httpx.AsyncClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    token = factory.token(north.staff)
    roster = school_set(students=3, teachers=2, classes=1, guardians=1)
    imported(await upload(http, token, roster.files()))
    for row in roster.rows["users.csv"]:
        if row["sourcedId"] == "stu-0":
            row["givenName"], row["grades"] = "Renamed", "11"
    for row in roster.rows["enrollments.csv"]:
        if row["sourcedId"] == "e-1-0":
            row["status"], row["endDate"] = "tobedeleted", "2026-10-01"
    roster.add_enrollment("e-co", "class-0", "tch-1", "teacher", primary="false")
    result = imported(await upload(http, token, roster.files()))
    counts = counts_of(result)
    assert counts["students"] == {"created": 0, "updated": 1, "unchanged": 2, "failed": 0}
    assert counts["enrollments"] == {"created": 0, "updated": 1, "unchanged": 2, "failed": 0}
    assert counts["classTeachers"] == {"created": 1, "updated": 0, "unchanged": 1, "failed": 0}
    async with session_factory() as session:
        dropped = await session.scalar(
            select(Enrollment).join(User, User.id == Enrollment.student_id).where(User.sourced_id == "stu-1")
        )
        assert dropped is not None
        assert dropped.status == EnrollmentStatus.DROPPED
        assert str(dropped.dropped_on) == "2026-10-01"
        history = (
            await session.scalars(
                select(EnrollmentChange.status).where(EnrollmentChange.enrollment_id == dropped.id)
            )
        ).all()
        assert sorted(s.value for s in history) == ["ACTIVE", "DROPPED"]
        renamed = await session.scalar(select(User).where(User.sourced_id == "stu-0"))
        assert renamed is not None
        assert renamed.name == "Renamed Tester"
    again = imported(await upload(http, token, roster.files()))
    assert all(kinds["created"] == kinds["updated"] == 0 for kinds in counts_of(again).values())


async def test_problems_are_paged_in_file_and_line_order(
    gql: GraphQLClient, http: httpx.AsyncClient, factory: Factory
) -> None:
    north = await factory.school("north")
    token = factory.token(north.staff)
    result = imported(await upload(http, token, bad_set().files()))
    everything = [(p["file"], p["line"]) for p in result["problems"]["nodes"]]
    paged: list[tuple[str, int]] = []
    after = None
    while True:
        variables = {"id": result["id"], "problemsFirst": 3, "problemsAfter": after}
        page = (await gql.as_user(token).data(ROSTER_IMPORT, variables))["rosterImport"]["problems"]
        paged += [(p["file"], p["line"]) for p in page["nodes"]]
        assert page["totalCount"] == len(everything)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert paged == everything == sorted(everything)
    assert len(paged) == 8


async def test_only_the_schools_staff_see_and_start_imports(
    gql: GraphQLClient, http: httpx.AsyncClient, factory: Factory
) -> None:
    north, south = await factory.school("north"), await factory.school("south")
    result = imported(
        await upload(http, factory.token(north.staff), school_set(students=1, classes=1).files())
    )
    other = await gql.as_user(factory.token(south.admin)).execute(ROSTER_IMPORT, {"id": result["id"]})
    assert other["data"] == {"rosterImport": None}
    assert other["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert other["errors"][0]["message"] == "Not found, or not yours to see."
    teacher = await gql.as_user(factory.token(north.teacher)).execute(ROSTER_IMPORT, {"id": result["id"]})
    assert teacher["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    mine = await gql.as_user(factory.token(north.admin)).data(ROSTER_IMPORT, {"id": result["id"]})
    assert mine["rosterImport"]["startedBy"] == {"id": north_staff_id(north), "name": north.staff.name}
    assert mine["rosterImport"]["finishedAt"] is not None
    theirs = await gql.as_user(factory.token(south.staff)).data(ROSTER_IMPORTS, {"first": 10})
    assert theirs["rosterImports"]["totalCount"] == 0
    listed = await gql.as_user(factory.token(north.staff)).data(ROSTER_IMPORTS, {"first": 10})
    assert [node["id"] for node in listed["rosterImports"]["nodes"]] == [result["id"]]
    refused = await upload(http, factory.token(north.teacher), school_set(students=1, classes=1).files())
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    anonymous = await gql.execute(ROSTER_IMPORTS, {})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def north_staff_id(north: Any) -> str:
    from resolvers.ids import encode_id  # noqa: PLC0415

    return encode_id("User", north.staff.id)


async def test_not_a_set_is_refused(http: httpx.AsyncClient, factory: Factory) -> None:
    north = await factory.school("north")
    for files in (
        [("notes.txt", b"hello")],
        [("a.zip", b"PK\x03\x04broken")],
        [("users.csv", b"a"), ("users.csv", b"b")],
    ):
        payload = (await upload(http, factory.token(north.staff), files))["data"]["importRoster"]
        assert payload["rosterImport"] is None
        assert payload["userErrors"][0]["code"] == "INVALID"
        assert payload["userErrors"][0]["field"] == ["input", "files"]


async def test_two_imports_of_one_set_at_once_make_each_record_once(
    http: httpx.AsyncClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    roster = school_set(students=8, classes=2, guardians=2)
    results = await asyncio.gather(
        *(upload(http, factory.token(user), roster.files()) for user in (north.staff, north.admin))
    )
    assert [imported(body)["status"] for body in results] == ["COMPLETED", "COMPLETED"]
    first, second = (counts_of(imported(body)) for body in results)
    single = counts_of(imported(await upload(http, factory.token(north.staff), roster.files())))
    for entity, kinds in single.items():
        if entity != "orgs":
            made = first[entity]["created"] + second[entity]["created"]
            assert made == kinds["unchanged"], f"{entity}: each record made once, by one of the two"
    async with session_factory() as session:
        students = await session.scalar(
            select(func.count()).select_from(User).where(User.sourced_id.like("stu-%"))
        )
        enrollments = await session.scalar(
            select(func.count())
            .select_from(Enrollment)
            .join(User, User.id == Enrollment.student_id)
            .where(User.sourced_id.is_not(None))
        )
    assert (students, enrollments) == (8, 16)


async def test_unreadable_lines_and_files_are_reported(http: httpx.AsyncClient, factory: Factory) -> None:
    north = await factory.school("north")
    roster = school_set(students=2, teachers=1, classes=1, guardians=0)
    files = dict(roster.files())
    files["courses.csv"] += b"course-9,,,Extra,C9,district-1,,one value too many\n"
    files["users.csv"] = files["users.csv"] + b"stu-9,,,true,x,Jos\xe9,Tester,S9,stu-9@roster.test,,10\n"
    files["lineItems.csv"] = b"sourcedId,title\nli-1,Homework\n"
    result = imported(await upload(http, factory.token(north.staff), list(files.items())))
    problems = [(p["file"], p["line"], p["code"]) for p in result["problems"]["nodes"]]
    assert problems == [
        ("courses.csv", 3, "INVALID"),
        ("lineItems.csv", None, "UNSUPPORTED_FILE"),
        ("users.csv", 5, "INVALID_ENCODING"),
    ]
    counts = counts_of(result)
    assert counts["courses"]["created"] == 1
    assert counts["students"]["created"] == 2, "the lines before the undecodable one are imported"
