"""Terms and grading periods through the contract's operations: the list, the staff's writes and
their refusals. Closing and reopening are in test_term_closing.py."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from models import AuditEntry, GradingPeriod, Term
from models.enums import TermStatus
from resolvers.ids import encode_id
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData
from tests.statements import metered_client, statements

TERMS = contract_operation("Terms")
CREATE = contract_operation("CreateTerm")
UPDATE = contract_operation("UpdateTerm")
CREATE_PERIOD = contract_operation("CreateGradingPeriod")
UPDATE_PERIOD = contract_operation("UpdateGradingPeriod")
TERM_CLASSES = """
query TermClasses($first: Int, $after: String) {
  terms(first: 100) { nodes { name classes(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } nodes { id title } } } }
}
"""


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


def term_id(term: Term) -> str:
    return encode_id("Term", term.id)


def codes(payload: dict[str, Any]) -> list[tuple[list[str] | None, str]]:
    return [(error["field"], error["code"]) for error in payload["userErrors"]]


async def count(session_factory: async_sessionmaker[AsyncSession], model: type[Any]) -> int:
    async with session_factory() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def set_status(
    session_factory: async_sessionmaker[AsyncSession], term: Term | int, status: TermStatus
) -> None:
    pk = term if isinstance(term, int) else term.id
    async with session_factory.begin() as session:
        await session.execute(update(Term).where(Term.id == pk).values(status=status))


async def create(client: GraphQLClient, **fields: Any) -> dict[str, Any]:
    values = {"name": "Spring 2027", "startsOn": "2027-02-01", "endsOn": "2027-06-30"} | fields
    payload: dict[str, Any] = (await client.data(CREATE, {"input": values}))["createTerm"]
    return payload


async def test_every_member_lists_the_schools_terms_latest_first_in_pages(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    spring = await factory.term(north, "Spring 2026", date(2026, 2, 1), date(2026, 6, 30))
    summer = await factory.term(north, "Summer School 2027", date(2027, 7, 1), date(2027, 8, 15))
    await set_status(session_factory, spring, TermStatus.CLOSED)
    south = await factory.school("south")
    await factory.term(south, "Summer School 2027", date(2027, 7, 1), date(2027, 8, 15))
    for user in (north.student, north.guardian, north.teacher, north.admin):
        page = (await gql.as_user(factory.token(user)).data(TERMS, {"first": 2}))["terms"]
        assert page["totalCount"] == 3
        assert [node["name"] for node in page["nodes"]] == ["Summer School 2027", "Fall"]
        assert page["pageInfo"]["hasNextPage"] is True
    staff = gql.as_user(factory.token(north.staff))
    first = (await staff.data(TERMS, {"first": 2}))["terms"]
    rest = (await staff.data(TERMS, {"first": 2, "after": first["pageInfo"]["endCursor"]}))["terms"]
    assert [node["name"] for node in rest["nodes"]] == ["Spring 2026"]
    assert rest["pageInfo"]["hasNextPage"] is False
    [summer_node, fall_node] = first["nodes"]
    assert summer_node == {
        "id": term_id(summer), "name": "Summer School 2027", "startsOn": "2027-07-01", "endsOn": "2027-08-15",
        "status": "OPEN", "closedAt": None, "closedBy": None, "sourcedId": None, "gradingPeriods": [],
        "classes": {"totalCount": 0},
    }  # fmt: skip
    assert fall_node["classes"] == {"totalCount": 1}
    closed = (await staff.data(TERMS, {"filter": {"status": ["CLOSED"]}}))["terms"]
    assert [node["name"] for node in closed["nodes"]] == ["Spring 2026"]
    worded = (await staff.data(TERMS, {"filter": {"query": "school SUMMER"}}))["terms"]
    assert [node["name"] for node in worded["nodes"]] == ["Summer School 2027"]
    assert (await staff.data(TERMS, {"filter": {"query": "summer 2026"}}))["terms"]["totalCount"] == 0
    too_many = await staff.execute(TERMS, {"first": 101})
    assert too_many["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    forged = await staff.execute(TERMS, {"after": "bm90IGEgY3Vyc29y"})
    assert forged["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    anonymous = await gql.execute(TERMS, {})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_terms_classes_page_in_statements_flat_in_the_number_of_terms(
    settings: Settings, factory: Factory, north: SchoolData
) -> None:
    staff = factory.token(north.staff)
    async with metered_client(settings) as http:
        few = await statements(http, staff, TERMS, {"first": 100})
        for n in range(8):
            term = await factory.term(north, f"Term {n}", date(2020 + n, 1, 1), date(2020 + n, 6, 1))
            for section in range(3):
                await factory.term_class(north, term.id, f"Section {section}")
        many = await statements(http, staff, TERMS, {"first": 100})
    assert many == few


async def test_a_terms_classes_page_by_page_and_students_see_only_theirs(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    spring = await factory.term(north, "Spring 2027", date(2027, 2, 1), date(2027, 6, 30))
    sections = [
        await factory.term_class(north, spring.id, f"Section {n}", students=[north.student] if n == 1 else [])
        for n in range(3)
    ]
    teacher = gql.as_user(factory.token(north.teacher))
    by_term = {
        t["name"]: t["classes"] for t in (await teacher.data(TERM_CLASSES, {"first": 2}))["terms"]["nodes"]
    }
    page = by_term["Spring 2027"]
    assert (page["totalCount"], page["pageInfo"]["hasNextPage"]) == (3, True)
    assert [node["title"] for node in page["nodes"]] == ["Section 0", "Section 1"]
    cursor = page["pageInfo"]["endCursor"]
    after = await teacher.data(TERM_CLASSES, {"first": 2, "after": cursor})
    rest = {t["name"]: t["classes"] for t in after["terms"]["nodes"]}["Spring 2027"]
    assert [node["id"] for node in rest["nodes"]] == [encode_id("Class", sections[2].id)]
    assert rest["totalCount"] == 3
    assert rest["pageInfo"]["hasNextPage"] is False
    for user in (north.student, north.guardian):
        seen = await gql.as_user(factory.token(user)).data(TERM_CLASSES, {"first": 10})
        classes = {t["name"]: t["classes"] for t in seen["terms"]["nodes"]}
        assert [node["title"] for node in classes["Spring 2027"]["nodes"]] == ["Section 1"]
        assert classes["Fall"]["totalCount"] == 1  # the factory's class, which the student takes
    other = await gql.as_user(factory.token(north.other_student)).data(TERM_CLASSES, {"first": 10})
    assert {t["classes"]["totalCount"] for t in other["terms"]["nodes"]} == {0}


async def test_staff_create_a_term_with_its_grading_periods_all_or_nothing(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    staff = gql.as_user(factory.token(north.staff))
    periods = [
        {"name": "Q4", "startsOn": "2027-04-16", "endsOn": "2027-06-30"},
        {"name": "Q3", "startsOn": "2027-02-01", "endsOn": "2027-04-15"},
    ]
    made = await create(staff, name="  Spring 2027 ", gradingPeriods=periods)
    assert made["userErrors"] == []
    term = made["term"]
    assert (term["name"], term["startsOn"], term["endsOn"], term["status"]) == (
        "Spring 2027", "2027-02-01", "2027-06-30", "OPEN",
    )  # fmt: skip
    assert [(p["name"], p["startsOn"]) for p in term["gradingPeriods"]] == [
        ("Q3", "2027-02-01"), ("Q4", "2027-04-16"),
    ]  # fmt: skip
    async with session_factory() as session:
        actions = (
            await session.scalars(select(AuditEntry.action).where(AuditEntry.actor_id == north.staff.id))
        ).all()
    assert actions == ["term.created"]
    before = (await count(session_factory, Term), await count(session_factory, GradingPeriod))
    refusals: list[tuple[dict[str, Any], list[tuple[list[str], str]]]] = [
        ({"name": "Spring 2027"}, [(["input", "name"], "CONFLICT")]),
        ({"name": "Later", "endsOn": "2027-01-31"}, [(["input", "endsOn"], "INVALID")]),
        ({"name": " "}, [(["input", "name"], "INVALID")]),
        (
            {
                "name": "Later",
                "gradingPeriods": [{"name": "Q1", "startsOn": "2027-01-15", "endsOn": "2027-03-01"}],
            },
            [(["input", "gradingPeriods", "0", "startsOn"], "INVALID")],
        ),
        (
            {"name": "Later", "gradingPeriods": [periods[0], {**periods[1], "endsOn": "2027-04-16"}]},
            [(["input", "gradingPeriods", "1", "startsOn"], "INVALID")],
        ),
        (
            {
                "name": "Later",
                "gradingPeriods": [{"name": "Q1", "startsOn": "2027-03-01", "endsOn": "2027-02-28"}],
            },
            [(["input", "gradingPeriods", "0", "endsOn"], "INVALID")],
        ),
    ]
    for fields, expected in refusals:
        refused = await create(staff, **fields)
        assert (refused["term"], codes(refused)) == (None, expected), fields
    assert (await count(session_factory, Term), await count(session_factory, GradingPeriod)) == before
    for user in (north.teacher, north.student, north.guardian, north.mentor):
        denied = await gql.as_user(factory.token(user)).execute(CREATE, {"input": {
            "name": "Mine", "startsOn": "2027-02-01", "endsOn": "2027-06-30"}})  # fmt: skip
        assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    south = await factory.school("south")
    elsewhere = await create(gql.as_user(factory.token(south.admin)), name="Spring 2027")
    assert elsewhere["userErrors"] == [], "a name is unique per school only"


async def test_concurrent_creates_of_one_name_make_one_term(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    clients = [gql.as_user(factory.token(user)) for user in (north.staff, north.admin)] * 3
    results = await asyncio.gather(*(create(client, name="Winter") for client in clients))
    assert sorted(codes(r) for r in results) == [[]] + [[(["input", "name"], "CONFLICT")]] * 5
    async with session_factory() as session:
        named = await session.scalar(select(func.count()).where(Term.name == "Winter"))
    assert named == 1


async def test_staff_update_a_term_within_its_rules(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    staff = gql.as_user(factory.token(north.staff))
    spring = (
        await create(staff, gradingPeriods=[{"name": "Q3", "startsOn": "2027-02-01", "endsOn": "2027-04-15"}])
    )["term"]

    async def change(client: GraphQLClient, **fields: Any) -> dict[str, Any]:
        result: dict[str, Any] = (await client.data(UPDATE, {"input": {"termId": spring["id"]} | fields}))[
            "updateTerm"
        ]
        return result

    renamed = await change(staff, name="Spring Semester 2027", endsOn="2027-07-15")
    assert renamed["userErrors"] == []
    assert renamed["term"] == {
        "id": spring["id"], "name": "Spring Semester 2027", "startsOn": "2027-02-01", "endsOn": "2027-07-15",
        "status": "OPEN",
    }  # fmt: skip
    assert codes(await change(staff, name="Fall")) == [(["input", "name"], "CONFLICT")]
    assert codes(await change(staff, startsOn="2027-02-15")) == [(["input", "startsOn"], "INVALID")]
    assert codes(await change(staff, endsOn="2027-03-01")) == [(["input", "endsOn"], "INVALID")]
    assert codes(await change(staff, startsOn="2027-08-01")) == [(["input", "startsOn"], "INVALID")]
    south = await factory.school("south")
    foreign = await change(gql.as_user(factory.token(south.staff)), name="Taken over")
    assert codes(foreign) == [(["input", "termId"], "NOT_FOUND")]
    denied = await gql.as_user(factory.token(north.teacher)).execute(
        UPDATE, {"input": {"termId": spring["id"], "name": "Mine"}}
    )
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    async with session_factory() as session:
        stored = await session.scalar(select(Term).where(Term.name == "Spring Semester 2027"))
    assert stored is not None
    assert (stored.starts_on, stored.ends_on) == (date(2027, 2, 1), date(2027, 7, 15))
    await set_status(session_factory, stored.id, TermStatus.CLOSED)
    assert codes(await change(staff, name="Renamed")) == [(["input", "termId"], "TERM_CLOSED")]


async def test_grading_periods_stay_inside_their_term_without_overlapping(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    admin = gql.as_user(factory.token(north.admin))
    async with session_factory() as session:
        fall = await session.scalar(select(Term).where(Term.school_id == north.school.id))
    assert fall is not None  # 2026-09-01 to 2027-01-31

    async def add(client: GraphQLClient, name: str, starts: str, ends: str) -> dict[str, Any]:
        variables = {"input": {"termId": term_id(fall), "name": name, "startsOn": starts, "endsOn": ends}}
        result: dict[str, Any] = (await client.data(CREATE_PERIOD, variables))["createGradingPeriod"]
        return result

    q1 = await add(admin, "Q1", "2026-09-01", "2026-11-15")
    assert q1["userErrors"] == []
    assert q1["gradingPeriod"]["term"] == {
        "id": term_id(fall),
        "gradingPeriods": [{"id": q1["gradingPeriod"]["id"]}],
    }
    q2 = await add(gql.as_user(factory.token(north.staff)), "Q2", "2026-11-16", "2027-01-31")
    assert [p["id"] for p in q2["gradingPeriod"]["term"]["gradingPeriods"]] == [
        q1["gradingPeriod"]["id"], q2["gradingPeriod"]["id"],
    ]  # fmt: skip
    assert codes(await add(admin, "Late", "2027-01-20", "2027-02-10")) == [(["input", "endsOn"], "INVALID")]
    assert codes(await add(admin, "Early", "2026-08-20", "2026-09-10")) == [
        (["input", "startsOn"], "INVALID")
    ]
    assert codes(await add(admin, "Mid", "2026-11-01", "2026-11-20")) == [(["input", "startsOn"], "INVALID")]
    assert codes(await add(admin, "Backwards", "2026-10-02", "2026-10-01")) == [
        (["input", "endsOn"], "INVALID")
    ]
    assert await count(session_factory, GradingPeriod) == 2

    async def change(client: GraphQLClient, period_id: str, **fields: Any) -> dict[str, Any]:
        variables = {"input": {"gradingPeriodId": period_id} | fields}
        result: dict[str, Any] = (await client.data(UPDATE_PERIOD, variables))["updateGradingPeriod"]
        return result

    q1_id = q1["gradingPeriod"]["id"]
    moved = await change(admin, q1_id, name="Quarter 1", endsOn="2026-11-10")
    assert moved == {
        "gradingPeriod": {"id": q1_id, "name": "Quarter 1", "startsOn": "2026-09-01", "endsOn": "2026-11-10"},
        "userErrors": [],
    }
    assert codes(await change(admin, q1_id, endsOn="2026-11-20")) == [(["input", "startsOn"], "INVALID")]
    assert codes(await change(admin, q1_id, startsOn="2026-08-01")) == [(["input", "startsOn"], "INVALID")]
    south = await factory.school("south")
    foreign = await change(gql.as_user(factory.token(south.admin)), q1_id, name="Mine")
    assert codes(foreign) == [(["input", "gradingPeriodId"], "NOT_FOUND")]
    missing = await add(gql.as_user(factory.token(south.admin)), "Q9", "2026-12-01", "2026-12-02")
    assert codes(missing) == [(["input", "termId"], "NOT_FOUND")]
    denied = await gql.as_user(factory.token(north.teacher)).execute(
        UPDATE_PERIOD, {"input": {"gradingPeriodId": q1_id, "name": "Mine"}}
    )
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    await set_status(session_factory, fall, TermStatus.CLOSED)
    assert codes(await change(admin, q1_id, name="Frozen")) == [(["input", "gradingPeriodId"], "TERM_CLOSED")]
    assert codes(await add(admin, "Q3", "2027-01-01", "2027-01-02")) == [(["input", "termId"], "TERM_CLOSED")]
    async with session_factory() as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.subject_type == "GradingPeriod")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert actions == ["grading_period.created", "grading_period.created", "grading_period.updated"]


NODE = """
query TermNode($id: ID!) {
  node(id: $id) { id ... on Term { name status gradingPeriods { id } } }
}
"""


async def test_a_term_is_a_node_of_its_school_only(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    south = await factory.school("south")
    term = await factory.term(north, "Spring", date(2027, 2, 1), date(2027, 6, 15))
    seen = await gql.as_user(factory.token(north.student)).data(NODE, {"id": term_id(term)})
    assert seen["node"] == {"id": term_id(term), "name": "Spring", "status": "OPEN", "gradingPeriods": []}
    foreign = await gql.as_user(factory.token(south.admin)).execute(NODE, {"id": term_id(term)})
    assert foreign["data"] == {"node": None}
    assert foreign["errors"][0]["extensions"]["code"] == "FORBIDDEN"
