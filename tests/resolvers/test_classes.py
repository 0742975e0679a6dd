"""Classes and teachers through the contract's operations: who lists which classes, filters,
orders and pages, a class's page and who sees its roster, createClass/updateClass and what
they refuse, the teachers list, and statement counts that do not grow with the lists."""

from __future__ import annotations

from datetime import date, time
from typing import Any

import httpx
import pytest
from graphql import REMOVE, Visitor, parse, print_ast, visit
from graphql.language import FieldNode
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import AuditEntry, Class, ClassTeacher, Enrollment, MeetingTime, TeacherProfile, Term
from models.enums import EnrollmentStatus, TermStatus
from resolvers.ids import encode_id
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData
from tests.statements import statements

CLASSES = contract_operation("Classes")
CREATE = contract_operation("CreateClass")
UPDATE = contract_operation("UpdateClass")
TEACHERS = contract_operation("Teachers")
GRADEBOOK = contract_operation("Gradebook")
UPDATE_GRADE = contract_operation("UpdateGrade")


def without_fields(document: str, names: set[str]) -> str:
    """The operation without some fields (another slice's, tested there)."""

    class Drop(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> Any:
            return REMOVE if node.name.value in names else None

    return print_ast(visit(parse(document), Drop()))


DETAIL = without_fields(contract_operation("ClassDetail"), {"categoryWeights", "assignments"})


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


def gid(type_name: str, row: Any) -> str:
    return encode_id(type_name, row.id)


def titles(page: dict[str, Any]) -> list[str]:
    return [edge["node"]["title"] for edge in page["edges"]]


async def listed(client: GraphQLClient, **variables: Any) -> dict[str, Any]:
    page: dict[str, Any] = (await client.data(CLASSES, variables))["classes"]
    return page


async def close_term(session_factory: async_sessionmaker[AsyncSession], term_id: int) -> None:
    async with session_factory.begin() as session:
        await session.execute(update(Term).where(Term.id == term_id).values(status=TermStatus.CLOSED))


async def test_who_lists_which_classes(gql: GraphQLClient, factory: Factory, north: SchoolData) -> None:
    south = await factory.school("south")
    await factory.section(north, "Biology", students=[north.other_student])
    dropped = await factory.section(north, "Chemistry", students=[north.student])
    async with factory.session_factory.begin() as session:
        await session.execute(
            update(Enrollment)
            .where(Enrollment.class_id == dropped.id)
            .values(status=EnrollmentStatus.DROPPED)
        )
    every = ["Algebra A", "Biology", "Chemistry"]
    for role in ("staff", "admin", "teacher", "other_teacher"):
        page = await listed(gql.as_user(factory.token(north.users[role])))
        assert (titles(page), page["totalCount"]) == (every, 3), role
    assert titles(await listed(gql.as_user(factory.token(north.student)))) == ["Algebra A"]
    assert titles(await listed(gql.as_user(factory.token(north.other_student)))) == ["Biology"]
    assert titles(await listed(gql.as_user(factory.token(north.guardian)))) == ["Algebra A"]
    assert titles(await listed(gql.as_user(factory.token(south.staff)))) == ["Algebra A"]
    mentor = await gql.as_user(factory.token(north.mentor)).execute(CLASSES)
    assert mentor["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    anonymous = await gql.execute(CLASSES)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_filters_orders_and_pages(gql: GraphQLClient, factory: Factory, north: SchoolData) -> None:
    spring = await factory.term(north, "Spring", date(2027, 2, 1), date(2027, 6, 30))
    summer = await factory.term(north, "Summer", date(2026, 6, 1), date(2026, 8, 15))
    physics = await factory.course(north, "PHY200", 4)
    await factory.section(
        north,
        "Mechanics",
        course=physics,
        term_id=spring.id,
        room="Lab 3",
        teachers=[north.other_teacher, north.teacher],
    )
    await factory.section(
        north, "Optics", course=physics, term_id=summer.id, room="Lab 1", teachers=[north.other_teacher]
    )
    await factory.section(north, "Algebra B", room="204", capacity=30)
    staff = gql.as_user(factory.token(north.staff))

    by_term = await listed(staff, filter={"termId": gid("Term", spring)})
    assert titles(by_term) == ["Mechanics"]
    by_course = await listed(staff, filter={"courseId": gid("Course", physics)})
    assert titles(by_course) == ["Mechanics", "Optics"]
    co_taught = await listed(staff, filter={"teacherId": gid("Teacher", north.teacher)})
    assert titles(co_taught) == ["Algebra A", "Algebra B", "Mechanics"]
    assert titles(await listed(staff, filter={"query": "lab"})) == ["Mechanics", "Optics"]
    assert titles(await listed(staff, filter={"query": "phy200 OPT"})) == ["Optics"]
    assert titles(await listed(staff, filter={"query": "nor101"})) == ["Algebra A", "Algebra B"]
    assert titles(await listed(staff, filter={"query": "100%"})) == []

    assert titles(await listed(staff, orderBy={"field": "TITLE", "direction": "DESC"})) == [
        "Optics", "Mechanics", "Algebra B", "Algebra A",
    ]  # fmt: skip
    by_code = await listed(staff, orderBy={"field": "COURSE_CODE", "direction": "DESC"})
    assert [edge["node"]["course"]["code"] for edge in by_code["edges"]] == [
        "PHY200",
        "PHY200",
        "NOR101",
        "NOR101",
    ]
    by_start = await listed(staff, orderBy={"field": "TERM_START", "direction": "ASC"}, first=2)
    assert titles(by_start) == ["Optics", "Algebra A"]
    rest = await listed(
        staff,
        orderBy={"field": "TERM_START", "direction": "ASC"},
        first=2,
        after=by_start["pageInfo"]["endCursor"],
    )
    assert (titles(rest), rest["pageInfo"]["hasNextPage"], rest["totalCount"]) == (
        ["Algebra B", "Mechanics"],
        False,
        4,
    )

    mechanics = next(edge["node"] for edge in by_term["edges"])
    assert mechanics["term"] == {"id": gid("Term", spring), "name": "Spring", "status": "OPEN"}
    assert [t["name"] for t in mechanics["teachers"]] == [north.other_teacher.name, north.teacher.name]
    assert (mechanics["room"], mechanics["capacity"], mechanics["enrolledCount"], mechanics["sourcedId"]) == (
        "Lab 3", None, 0, None,
    )  # fmt: skip
    too_many = await staff.execute(CLASSES, {"first": 101})
    assert too_many["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    wrong_cursor = await staff.execute(
        CLASSES,
        {"orderBy": {"field": "TERM_START", "direction": "ASC"}, "after": rest["edges"][0]["cursor"][:-2]},
    )
    assert wrong_cursor["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_the_class_page_and_who_sees_its_roster(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    south = await factory.school("south")
    [ana, bo] = await factory.students(north, ["Ana Alvarez", "Bo Berg"])
    klass = await factory.section(
        north, "Algebra B", room="204", capacity=30, teachers=[north.teacher, north.other_teacher],
        students=[bo, ana], meetings=[(2, time(10), time(10, 50)), (0, time(9), time(9, 50))],
    )  # fmt: skip
    async with factory.session_factory.begin() as session:
        session.add(TeacherProfile(user_id=north.admin.id, school_id=north.school.id, department="Math"))
    variables = {"id": gid("Class", klass)}
    for role in ("teacher", "other_teacher", "staff", "admin"):
        page = (await gql.as_user(factory.token(north.users[role])).data(DETAIL, variables))["class"]
        assert [s["name"] for s in page["students"]["nodes"]] == ["Ana Alvarez", "Bo Berg"], role
        assert page["students"]["totalCount"] == 2
        assert page["enrollments"]["totalCount"] == 2
    assert page["meetingTimes"] == [
        {"weekday": "MONDAY", "startsAt": "09:00:00", "endsAt": "09:50:00"},
        {"weekday": "WEDNESDAY", "startsAt": "10:00:00", "endsAt": "10:50:00"},
    ]
    assert [t["email"] for t in page["teachers"]] == [north.teacher.email, north.other_teacher.email]
    assert page["course"] == {
        "id": gid("Course", north.course),
        "code": "NOR101",
        "title": "Algebra",
        "credits": 3.0,
    }
    assert (page["term"]["name"], page["term"]["startsOn"], page["capacity"], page["enrolledCount"]) == (
        "Fall", "2026-09-01", 30, 2,
    )  # fmt: skip
    assert page["enrollments"]["nodes"][0]["student"]["name"] == "Ana Alvarez"
    assert page["enrollments"]["nodes"][0]["status"] == "ACTIVE"

    not_theirs = await factory.section(north, "Zoology", teachers=[north.other_teacher])
    other_class = await gql.as_user(factory.token(north.teacher)).execute(
        DETAIL, {"id": gid("Class", not_theirs)}
    )
    assert other_class["data"]["class"]["title"] == "Zoology"
    for role in ("student", "guardian", "mentor"):
        result = await gql.as_user(factory.token(north.users[role])).execute(DETAIL, variables)
        assert result["data"]["class"]["title"] == "Algebra B", role
        assert result["data"]["class"]["students"] is None
        assert result["data"]["class"]["enrollments"] is None
        forbidden = sorted((e["path"][-1], e["extensions"]["code"]) for e in result["errors"])
        assert forbidden == [("enrollments", "FORBIDDEN"), ("students", "FORBIDDEN")], role
    refused_teacher = [(e["path"][-1], e["extensions"]["code"]) for e in other_class["errors"]]
    assert sorted(refused_teacher) == [("enrollments", "FORBIDDEN"), ("students", "FORBIDDEN")]

    foreign = await gql.as_user(factory.token(south.admin)).execute(DETAIL, variables)
    assert foreign["data"] == {"class": None}
    assert foreign["errors"][0]["message"] == "Not found, or not yours to see."
    missing = await gql.as_user(factory.token(north.admin)).execute(DETAIL, {"id": encode_id("Class", 10**6)})
    assert missing["errors"][0]["message"] == foreign["errors"][0]["message"]


def new_class(school: SchoolData, **fields: Any) -> dict[str, Any]:
    return {
        "courseId": gid("Course", school.course),
        "termId": encode_id("Term", school.klass.term_id),
        "title": "Geometry",
        "teacherIds": [gid("Teacher", school.other_teacher), gid("Teacher", school.teacher)],
    } | fields


async def create(client: GraphQLClient, **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = (await client.data(CREATE, {"input": fields}))["createClass"]
    return payload


async def class_count(session_factory: async_sessionmaker[AsyncSession]) -> int:
    async with session_factory() as session:
        return await session.scalar(select(func.count()).select_from(Class)) or 0


async def test_create_class(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    staff = gql.as_user(factory.token(north.staff))
    meetings = [{"weekday": "TUESDAY", "startsAt": "08:00:00", "endsAt": "08:45:00"}]
    made = await create(staff, **new_class(north, room=" 12 ", capacity=24, meetingTimes=meetings))
    assert made["userErrors"] == []
    klass = made["class"]
    assert (klass["title"], klass["room"], klass["capacity"], klass["enrolledCount"]) == (
        "Geometry",
        "12",
        24,
        0,
    )
    assert klass["teacher"]["name"] == north.other_teacher.name
    assert [t["name"] for t in klass["teachers"]] == [north.other_teacher.name, north.teacher.name]
    assert klass["meetingTimes"] == meetings
    assert (klass["course"]["code"], klass["term"]["name"]) == ("NOR101", "Fall")
    async with session_factory() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "class.created"))
    assert entry is not None
    assert entry.actor_id == north.staff.id
    assert entry.detail["teacherIds"] == [north.other_teacher.id, north.teacher.id]
    taught = await listed(
        gql.as_user(factory.token(north.staff)), filter={"teacherId": gid("Teacher", north.teacher)}
    )
    assert titles(taught) == ["Algebra A", "Geometry"]


async def test_create_class_refusals_write_nothing(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    south = await factory.school("south")
    staff = gql.as_user(factory.token(north.admin))
    before = await class_count(session_factory)
    for role in ("teacher", "student", "guardian", "mentor"):
        refused = await gql.as_user(factory.token(north.users[role])).execute(
            CREATE, {"input": new_class(north)}
        )
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", role
    not_teachers = await create(
        staff,
        **new_class(north, teacherIds=[
            gid("Teacher", north.teacher), gid("Teacher", north.staff), gid("Teacher", south.teacher),
            gid("Student", north.other_teacher),
        ]),
    )  # fmt: skip
    assert [(e["field"], e["code"]) for e in not_teachers["userErrors"]] == [
        (["input", "teacherIds", "1"], "NOT_FOUND"),
        (["input", "teacherIds", "2"], "NOT_FOUND"),
        (["input", "teacherIds", "3"], "NOT_FOUND"),
    ]
    backwards = [{"weekday": "MONDAY", "startsAt": "10:00:00", "endsAt": "09:00:00"}]
    invalid = await create(staff, **new_class(north, capacity=0, meetingTimes=backwards, teacherIds=[]))
    assert sorted((e["field"], e["code"]) for e in invalid["userErrors"]) == [
        (["input", "capacity"], "INVALID"),
        (["input", "meetingTimes", "0"], "INVALID"),
        (["input", "teacherIds"], "INVALID"),
    ]
    foreign = await create(
        staff,
        **new_class(
            north, courseId=gid("Course", south.course), termId=encode_id("Term", south.klass.term_id)
        ),
    )
    assert [(e["field"], e["code"]) for e in foreign["userErrors"]] == [
        (["input", "courseId"], "NOT_FOUND"),
        (["input", "termId"], "NOT_FOUND"),
    ]
    await close_term(session_factory, north.klass.term_id)
    closed = await create(staff, **new_class(north))
    assert [(e["field"], e["code"]) for e in closed["userErrors"]] == [(["input", "termId"], "TERM_CLOSED")]
    assert await class_count(session_factory) == before


async def test_update_class_replaces_lists_and_guards_capacity_and_the_term(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    [ana, bo] = await factory.students(north, ["Ana", "Bo"])
    klass = await factory.section(north, "Algebra B", room="204", capacity=5, students=[ana, bo],
                                  meetings=[(0, time(9), time(10))])  # fmt: skip
    staff = gql.as_user(factory.token(north.staff))
    class_id = gid("Class", klass)

    async def change(**fields: Any) -> dict[str, Any]:
        payload: dict[str, Any] = (await staff.data(UPDATE, {"input": {"classId": class_id} | fields}))[
            "updateClass"
        ]
        return payload

    below = await change(capacity=1)
    assert [(e["field"], e["code"]) for e in below["userErrors"]] == [(["input", "capacity"], "INVALID")]
    meetings = [{"weekday": "FRIDAY", "startsAt": "13:00:00", "endsAt": "14:00:00"}]
    changed = await change(title="Algebra II", capacity=2, meetingTimes=meetings)
    assert changed["class"] == {
        "id": class_id, "title": "Algebra II", "room": "204", "capacity": 2, "meetingTimes": meetings,
        "teachers": [{"id": gid("Teacher", north.teacher), "name": north.teacher.name}],
    }  # fmt: skip
    unlimited = await change(capacity=None, room=None)
    assert (unlimited["class"]["capacity"], unlimited["class"]["room"], unlimited["class"]["title"]) == (
        None, None, "Algebra II",
    )  # fmt: skip
    async with session_factory() as session:
        assert (
            await session.scalar(
                select(func.count()).select_from(MeetingTime).where(MeetingTime.class_id == klass.id)
            )
            == 1
        )
    foreign = await gql.as_user(factory.token((await factory.school("south")).admin)).data(
        UPDATE, {"input": {"classId": class_id, "title": "Mine"}}
    )
    assert foreign["updateClass"]["userErrors"][0]["field"] == ["input", "classId"]
    await close_term(session_factory, klass.term_id)
    closed = await change(title="Frozen")
    assert [e["code"] for e in closed["userErrors"]] == ["TERM_CLOSED"]
    async with session_factory() as session:
        assert (await session.get(Class, klass.id)).title == "Algebra II"  # type: ignore[union-attr]


async def test_a_teacher_taken_off_the_class_loses_its_gradebook_at_once(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    quiz = await factory.graded(north.klass.id, north.student, 7)
    teacher = gql.as_user(factory.token(north.teacher))
    class_id = gid("Class", north.klass)
    assert "errors" not in await teacher.execute(GRADEBOOK, {"classId": class_id})
    staff = gql.as_user(factory.token(north.staff))
    moved = await staff.data(
        UPDATE, {"input": {"classId": class_id, "teacherIds": [gid("Teacher", north.other_teacher)]}}
    )
    assert [t["name"] for t in moved["updateClass"]["class"]["teachers"]] == [north.other_teacher.name]
    read = await teacher.execute(GRADEBOOK, {"classId": class_id})
    assert read["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    cell = {"studentId": gid("Student", north.student), "assignmentId": encode_id("Assignment", quiz)}
    write = await teacher.execute(UPDATE_GRADE, {"input": cell | {"score": 9, "expectedVersion": None}})
    assert write["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    newcomer = gql.as_user(factory.token(north.other_teacher))
    assert "errors" not in await newcomer.execute(GRADEBOOK, {"classId": class_id})
    async with factory.session_factory() as session:
        links = (await session.execute(select(ClassTeacher.teacher_id, ClassTeacher.is_primary))).all()
    assert [tuple(link) for link in links] == [(north.other_teacher.id, True)]


async def test_teachers_by_name_with_their_classes(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    south = await factory.school("south")
    spring = await factory.term(north, "Spring", date(2027, 2, 1), date(2027, 6, 30))
    await factory.section(north, "Biology", teachers=[north.other_teacher, north.teacher])
    await factory.section(north, "Zoology", term_id=spring.id, teachers=[north.teacher])
    async with factory.session_factory.begin() as session:
        await session.execute(
            update(TeacherProfile)
            .where(TeacherProfile.user_id == north.teacher.id)
            .values(department="Science")
        )
    fall = encode_id("Term", north.klass.term_id)
    for role in ("staff", "admin", "teacher"):
        found = (await gql.as_user(factory.token(north.users[role])).data(TEACHERS, {"termId": fall}))[
            "teachers"
        ]
        assert [t["name"] for t in found["nodes"]] == [north.other_teacher.name, north.teacher.name], role
    [other, teacher] = found["nodes"]
    assert (teacher["department"], teacher["email"], other["department"]) == (
        "Science",
        north.teacher.email,
        None,
    )
    assert [c["title"] for c in teacher["classes"]["nodes"]] == ["Algebra A", "Biology"]
    assert teacher["classes"]["totalCount"] == 2
    assert [c["title"] for c in other["classes"]["nodes"]] == ["Biology"]
    assert teacher["classes"]["nodes"][0]["course"]["code"] == "NOR101"
    every_term = await gql.as_user(factory.token(north.staff)).data(TEACHERS, {"filter": {"query": "other"}})
    [only] = every_term["teachers"]["nodes"]
    assert only["name"] == north.other_teacher.name
    of_spring = await gql.as_user(factory.token(north.staff)).data(
        TEACHERS, {"filter": {"termId": encode_id("Term", spring.id)}}
    )
    assert [t["name"] for t in of_spring["teachers"]["nodes"]] == [north.teacher.name]
    paged = (await gql.as_user(factory.token(north.staff)).data(TEACHERS, {"first": 1}))["teachers"]
    assert (paged["totalCount"], paged["pageInfo"]["hasNextPage"]) == (2, True)
    second = await gql.as_user(factory.token(north.staff)).data(
        TEACHERS, {"first": 1, "after": paged["pageInfo"]["endCursor"]}
    )
    assert [t["name"] for t in second["teachers"]["nodes"]] == [north.teacher.name]
    for role in ("student", "guardian", "mentor"):
        refused = await gql.as_user(factory.token(north.users[role])).execute(TEACHERS)
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", role
    south_teachers = (await gql.as_user(factory.token(south.staff)).data(TEACHERS))["teachers"]["nodes"]
    assert [t["name"] for t in south_teachers] == [south.other_teacher.name, south.teacher.name]


async def test_statement_counts_do_not_grow_with_the_lists(
    metered: httpx.AsyncClient, factory: Factory
) -> None:
    async def school_of(slug: str, size: int) -> tuple[SchoolData, Class]:
        school = await factory.school(slug)
        pupils = await factory.students(school, [f"Pupil {n:02d}" for n in range(size)])
        biggest = school.klass
        for n in range(size - 1):
            biggest = await factory.section(
                school, f"Section {n:02d}", room=f"R{n}", capacity=40, students=pupils,
                teachers=[school.teacher, school.other_teacher],
                meetings=[(n % 5, time(9), time(10)), ((n + 2) % 5, time(11), time(12))],
            )  # fmt: skip
        return school, biggest

    small, small_class = await school_of("small", 2)
    large, large_class = await school_of("large", 20)
    costs = {}
    for school, klass in ((small, small_class), (large, large_class)):
        staff = factory.token(school.staff)
        costs[school.school.slug] = (
            await statements(metered, staff, CLASSES, {"first": 100}),
            await statements(metered, staff, DETAIL, {"id": gid("Class", klass)}),
            await statements(metered, staff, TEACHERS, {"first": 100}),
            await statements(metered, staff, contract_operation("Courses"), {"first": 100}),
        )
    assert costs["small"] == costs["large"]
    assert max(costs["large"]) <= 35  # on SQLite, each loader's BEGIN counts too
