"""The course catalog through the contract's operations: the list, one course with its
prerequisite chain and classes, createCourse/updateCourse and what they refuse."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import AuditEntry, Course, CoursePrerequisite
from resolvers.ids import decode_id_of, encode_id
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData

COURSES = contract_operation("Courses")
DETAIL = contract_operation("CourseDetail")
CREATE = contract_operation("CreateCourse")
UPDATE = contract_operation("UpdateCourse")


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


async def create(client: GraphQLClient, **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = (await client.data(CREATE, {"input": fields}))["createCourse"]
    return payload


async def update(client: GraphQLClient, course_id: str, **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = (await client.data(UPDATE, {"input": {"courseId": course_id} | fields}))[
        "updateCourse"
    ]
    return payload


def codes(page: dict[str, Any]) -> list[str]:
    return [node["code"] for node in page["nodes"]]


async def course_count(session_factory: async_sessionmaker[AsyncSession]) -> int:
    async with session_factory() as session:
        return await session.scalar(select(func.count()).select_from(Course)) or 0


async def test_every_member_lists_the_catalog_filtered_ordered_and_paged(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    south = await factory.school("south")
    staff = gql.as_user(factory.token(north.staff))
    geometry = (await create(staff, code="MATH201", title="Geometry", credits=4, description="Shapes"))[
        "course"
    ]
    await create(staff, code="PHYS101", title="Physics I", credits=3, prerequisiteIds=[geometry["id"]])
    await create(staff, code="CHEM110", title="Chemistry", credits=2.5)
    await create(gql.as_user(factory.token(south.staff)), code="MATH201", title="Elsewhere", credits=1)

    for role in ("student", "guardian", "teacher", "mentor", "admin"):
        page = (await gql.as_user(factory.token(north.users[role])).data(COURSES))["courses"]
        assert codes(page) == ["CHEM110", "MATH201", "NOR101", "PHYS101"], role
        assert page["totalCount"] == 4
    student = gql.as_user(factory.token(north.student))
    by_title = {"field": "TITLE", "direction": "DESC"}
    page = (await student.data(COURSES, {"orderBy": by_title}))["courses"]
    assert [node["title"] for node in page["nodes"]] == ["Physics I", "Geometry", "Chemistry", "Algebra"]
    physics = page["nodes"][0]
    assert physics["prerequisites"] == [{"id": geometry["id"], "code": "MATH201", "title": "Geometry"}]
    assert page["nodes"][1]["description"] == "Shapes"
    algebra = page["nodes"][3]
    assert algebra["classes"]["totalCount"] == 1
    assert page["nodes"][2]["credits"] == 2.5

    matching = (await student.data(COURSES, {"filter": {"query": "math"}}))["courses"]
    assert codes(matching) == ["MATH201"]
    both_words = (await student.data(COURSES, {"filter": {"query": "phys I"}}))["courses"]
    assert codes(both_words) == ["PHYS101"]

    first = (await student.data(COURSES, {"first": 2}))["courses"]
    assert codes(first) == ["CHEM110", "MATH201"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = (await student.data(COURSES, {"first": 2, "after": first["pageInfo"]["endCursor"]}))["courses"]
    assert codes(rest) == ["NOR101", "PHYS101"]
    assert rest["pageInfo"]["hasNextPage"] is False
    assert rest["totalCount"] == 4

    bad = await student.execute(COURSES, {"after": "bm90LWEtY3Vyc29y"})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    anonymous = await gql.execute(COURSES)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_the_prerequisite_chain_lists_each_course_once_nearest_first(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    """A diamond: Physics needs Geometry and Trigonometry, which both need Algebra I."""
    staff = gql.as_user(factory.token(north.staff))
    algebra = (await create(staff, code="ALG1", title="Algebra I", credits=3))["course"]["id"]
    geometry = await create(staff, code="GEO", title="Geometry", credits=3, prerequisiteIds=[algebra])
    trigonometry = await create(
        staff, code="TRIG", title="Trigonometry", credits=3, prerequisiteIds=[algebra]
    )
    physics = await create(
        staff,
        code="PHYS",
        title="Physics",
        credits=4,
        prerequisiteIds=[geometry["course"]["id"], trigonometry["course"]["id"]],
    )
    detail = await gql.as_user(factory.token(north.student)).data(DETAIL, {"id": physics["course"]["id"]})
    chain = [course["code"] for course in detail["course"]["prerequisiteChain"]]
    assert chain == ["GEO", "TRIG", "ALG1"]
    assert [course["code"] for course in detail["course"]["prerequisites"]] == ["GEO", "TRIG"]


async def test_course_detail_shows_its_classes_and_hides_other_schools(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    south = await factory.school("south")
    spring = await factory.term(north, "Spring", date(2027, 2, 1), date(2027, 6, 30))
    await factory.section(
        north, "Algebra B", room="102", capacity=25, teachers=[north.other_teacher, north.teacher]
    )
    await factory.section(north, "Algebra C", term_id=spring.id, students=[north.other_student])
    course_id = encode_id("Course", north.course.id)
    student = gql.as_user(factory.token(north.student))

    every = (await student.data(DETAIL, {"id": course_id}))["course"]["classes"]
    assert every["totalCount"] == 3
    assert [node["title"] for node in every["nodes"]] == ["Algebra A", "Algebra B", "Algebra C"]
    algebra_b = every["nodes"][1]
    assert (algebra_b["room"], algebra_b["capacity"], algebra_b["enrolledCount"]) == ("102", 25, 0)
    assert [t["name"] for t in algebra_b["teachers"]] == [north.other_teacher.name, north.teacher.name]
    assert algebra_b["term"]["name"] == "Fall"
    assert every["nodes"][0]["enrolledCount"] == 1

    of_spring = await student.data(DETAIL, {"id": course_id, "termId": encode_id("Term", spring.id)})
    assert [node["title"] for node in of_spring["course"]["classes"]["nodes"]] == ["Algebra C"]
    assert of_spring["course"]["classes"]["nodes"][0]["term"] == {
        "id": encode_id("Term", spring.id),
        "name": "Spring",
    }

    foreign = await gql.as_user(factory.token(south.admin)).execute(DETAIL, {"id": course_id})
    assert foreign["data"] == {"course": None}
    assert foreign["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert foreign["errors"][0]["message"] == "Not found, or not yours to see."
    missing = await student.execute(DETAIL, {"id": encode_id("Course", 999_999)})
    assert missing["errors"][0]["message"] == foreign["errors"][0]["message"]


async def test_create_course_refusals_write_nothing(
    gql: GraphQLClient,
    factory: Factory,
    north: SchoolData,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    south = await factory.school("south")
    staff = gql.as_user(factory.token(north.staff))
    for role in ("teacher", "student", "guardian", "mentor"):
        refused = await gql.as_user(factory.token(north.users[role])).execute(
            CREATE, {"input": {"code": "X1", "title": "X", "credits": 1}}
        )
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", role
    before = await course_count(session_factory)

    taken = await create(staff, code="NOR101", title="Again", credits=3)
    assert taken["course"] is None
    assert taken["userErrors"] == [
        {
            "field": ["input", "code"],
            "message": "This code is used by another course of the school.",
            "code": "CONFLICT",
        }
    ]
    negative = await create(staff, code="NEW1", title="New", credits=-1)
    assert [(e["field"], e["code"]) for e in negative["userErrors"]] == [(["input", "credits"], "INVALID")]
    own, foreign = encode_id("Course", north.course.id), encode_id("Course", south.course.id)
    unknown = await create(
        staff,
        code="NEW2",
        title="New",
        credits=1,
        prerequisiteIds=[own, foreign, "not-an-id", encode_id("User", 1)],
    )
    assert [(e["field"], e["code"]) for e in unknown["userErrors"]] == [
        (["input", "prerequisiteIds", "1"], "NOT_FOUND"),
        (["input", "prerequisiteIds", "2"], "NOT_FOUND"),
        (["input", "prerequisiteIds", "3"], "NOT_FOUND"),
    ]
    several = await create(staff, code=" ", title="", credits=3)
    assert {e["field"][1] for e in several["userErrors"]} == {"code", "title"}
    assert await course_count(session_factory) == before

    made = await create(staff, code=" BIO1 ", title="Biology", credits=2, prerequisiteIds=[own, own])
    assert made["userErrors"] == []
    assert made["course"]["code"] == "BIO1"
    assert made["course"]["prerequisites"] == [{"id": own, "code": "NOR101"}]
    same_code_elsewhere = await create(
        gql.as_user(factory.token(south.admin)), code="BIO1", title="B", credits=1
    )
    assert same_code_elsewhere["userErrors"] == []
    async with session_factory() as session:
        entries = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "course.created"))
        ).all()
    assert [(e.actor_id, e.detail["code"]) for e in entries] == [
        (north.staff.id, "BIO1"),
        (south.admin.id, "BIO1"),
    ]


async def test_concurrent_duplicates_make_one_course(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    staff = gql.as_user(factory.token(north.staff))
    before = await course_count(session_factory)
    results = await asyncio.gather(
        *(create(staff, code="RACE", title=f"Race {n}", credits=1) for n in range(6))
    )
    made = [result for result in results if result["course"] is not None]
    assert len(made) == 1
    assert all(r["userErrors"][0]["code"] == "CONFLICT" for r in results if r["course"] is None)
    assert await course_count(session_factory) == before + 1


async def test_update_course_changes_given_fields_and_refuses_cycles(
    gql: GraphQLClient,
    factory: Factory,
    north: SchoolData,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    south = await factory.school("south")
    staff = gql.as_user(factory.token(north.admin))
    first = (await create(staff, code="C1", title="One", credits=1, description="First"))["course"]["id"]
    second = (await create(staff, code="C2", title="Two", credits=1, prerequisiteIds=[first]))["course"]["id"]
    third = (await create(staff, code="C3", title="Three", credits=1, prerequisiteIds=[second]))["course"][
        "id"
    ]

    changed = await update(staff, first, title="One, revised", credits=1.5)
    assert changed["course"] == {
        "id": first, "code": "C1", "title": "One, revised", "credits": 1.5, "description": "First",
        "prerequisites": [],
    }  # fmt: skip
    cleared = await update(staff, first, description=None)
    assert cleared["course"]["description"] is None

    cycle = await update(staff, first, prerequisiteIds=[third])
    assert [(e["field"], e["code"]) for e in cycle["userErrors"]] == [
        (["input", "prerequisiteIds"], "INVALID")
    ]
    itself = await update(staff, second, prerequisiteIds=[second])
    assert itself["userErrors"][0]["code"] == "INVALID"
    conflict = await update(staff, second, code="C1", credits=-2)
    assert sorted((e["field"][1], e["code"]) for e in conflict["userErrors"]) == [
        ("code", "CONFLICT"),
        ("credits", "INVALID"),
    ]
    foreign = await update(staff, encode_id("Course", south.course.id), title="Mine now")
    assert [(e["field"], e["code"]) for e in foreign["userErrors"]] == [(["input", "courseId"], "NOT_FOUND")]

    # Replacing the list: the third course now needs the first only (no cycle: the old link goes).
    relinked = await update(staff, third, prerequisiteIds=[first])
    assert relinked["course"]["prerequisites"] == [{"id": first, "code": "C1"}]
    reversed_chain = await update(staff, second, prerequisiteIds=[third])
    assert reversed_chain["userErrors"] == []
    async with session_factory() as session:
        query = select(CoursePrerequisite.course_id, CoursePrerequisite.prerequisite_id)
        links = {(course, prerequisite) for course, prerequisite in await session.execute(query)}
        audited = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "course.updated")
        )
    one, two, three = (decode_id_of(course, "Course") for course in (first, second, third))
    assert links == {(three, one), (two, three)}
    assert audited == 4  # the refused updates left no entry
    south_course = await gql.as_user(factory.token(south.student)).data(COURSES)
    assert codes(south_course["courses"]) == ["SOU101"]
    teacher = await gql.as_user(factory.token(north.teacher)).execute(
        UPDATE, {"input": {"courseId": first, "title": "T"}}
    )
    assert teacher["errors"][0]["extensions"]["code"] == "FORBIDDEN"
