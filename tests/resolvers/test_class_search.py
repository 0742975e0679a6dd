"""The classes list's search forgives typos: a word of five letters or more one edit away from a
word of a class's title, room or course code finds it, closest first, then in the order asked
for, in the same pages on SQLite and PostgreSQL (this module runs on both: every expectation is
written out or computed by text_search's one scoring function over every class of the school),
through the contract's Classes operation."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from models import Class, Course
from resolvers import text_search
from resolvers.classes import class_search_condition
from resolvers.ids import decode_id
from tests.clients import GraphQLClient
from tests.conftest import http_client_for
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData

CLASSES = contract_operation("Classes")


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    """Algebra A (NOR101, room 101, Fall) and classes to misspell, in three terms."""
    school = await factory.school("north")
    spring = await factory.term(school, "Spring", date(2027, 2, 1), date(2027, 6, 30))
    summer = await factory.term(school, "Summer", date(2026, 6, 1), date(2026, 8, 15))
    chemistry = await factory.course(school, "CHEM210", 4)
    robotics = await factory.course(school, "ROBO300", 2)
    await factory.section(school, "Algebra II", room="204", term_id=spring.id)
    await factory.section(school, "Chemistry", course=chemistry, room="Lab 3", term_id=summer.id)
    await factory.section(school, "Organic Chemistry", course=chemistry, room="Lab 1")
    await factory.section(school, "Robotics", course=robotics, room="Workshop")
    await factory.section(school, "Robotics Club", course=robotics, room="Library", term_id=spring.id)
    await factory.section(school, "Robotic Arms", course=robotics, room=None, term_id=summer.id)
    return school


async def listed(client: GraphQLClient, **variables: Any) -> dict[str, Any]:
    page: dict[str, Any] = (await client.data(CLASSES, variables))["classes"]
    return page


async def search_all(client: GraphQLClient, page: int = 2, **variables: Any) -> list[dict[str, Any]]:
    """Every class the search finds, page by page (after-cursors), its totalCount checked."""
    found: list[dict[str, Any]] = []
    after = None
    while True:
        data = await listed(client, first=page, after=after, **variables)
        found.extend(edge["node"] for edge in data["edges"])
        if not data["pageInfo"]["hasNextPage"]:
            assert data["totalCount"] == len(found)
            return found
        assert data["edges"][-1]["cursor"] == data["pageInfo"]["endCursor"]
        after = data["pageInfo"]["endCursor"]


def titles(found: list[dict[str, Any]]) -> list[str]:
    return [klass["title"] for klass in found]


async def found_titles(client: GraphQLClient, query: str, **variables: Any) -> list[str]:
    return titles(await search_all(client, filter={"query": query}, **variables))


async def test_a_misspelt_word_finds_the_class_closest_first(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    staff = gql.as_user(factory.token(north.staff))
    assert await found_titles(staff, "Algebar") == ["Algebra A", "Algebra II"]
    assert await found_titles(staff, "Chemsitry") == ["Chemistry", "Organic Chemistry"]
    assert await found_titles(staff, "chemistyr organc") == ["Organic Chemistry"]
    # Exact matches first (by title, as asked), then one letter off.
    assert await found_titles(staff, "robotics") == ["Robotics", "Robotics Club", "Robotic Arms"]
    # One letter off of eight (robotics) is closer than of seven (robotic).
    assert await found_titles(staff, "Robotis") == ["Robotics", "Robotics Club", "Robotic Arms"]
    # Rooms and course codes forgive a typo too; short words and two typos do not.
    assert await found_titles(staff, "Libary") == ["Robotics Club"]
    assert await found_titles(staff, "chme210") == ["Chemistry", "Organic Chemistry"]
    assert await found_titles(staff, "Lba") == []
    assert await found_titles(staff, "Algbear") == []
    assert await found_titles(staff, "lab") == ["Chemistry", "Organic Chemistry"]


async def test_closeness_first_then_the_order_asked_for_page_by_page(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    staff = gql.as_user(factory.token(north.staff))

    async def ordered(field: str, direction: str, page: int = 1) -> list[str]:
        return await found_titles(
            staff, "robotics", page=page, orderBy={"field": field, "direction": direction}
        )

    assert await ordered("TITLE", "DESC") == ["Robotics Club", "Robotics", "Robotic Arms"]
    # Robotics is in Fall (Sep 2026), Robotics Club in Spring (Feb 2027).
    assert await ordered("TERM_START", "ASC") == ["Robotics", "Robotics Club", "Robotic Arms"]
    assert await ordered("TERM_START", "DESC", page=2) == ["Robotics Club", "Robotics", "Robotic Arms"]
    # The same course code: by id, descending too.
    by_code = await search_all(
        staff, page=1, filter={"query": "Chemsitry"}, orderBy={"field": "COURSE_CODE", "direction": "DESC"}
    )
    assert titles(by_code) == ["Organic Chemistry", "Chemistry"]

    first = await listed(staff, filter={"query": "Robotis"}, first=2)
    assert (titles([e["node"] for e in first["edges"]]), first["totalCount"]) == (
        ["Robotics", "Robotics Club"],
        3,
    )
    assert first["pageInfo"]["hasNextPage"] is True
    rest = await listed(staff, filter={"query": "Robotis"}, first=2, after=first["pageInfo"]["endCursor"])
    assert titles([e["node"] for e in rest["edges"]]) == ["Robotic Arms"]
    assert (rest["pageInfo"]["hasNextPage"], rest["totalCount"]) == (False, 3)

    # The filters narrow a typo search as they do an exact one.
    spring = (await listed(staff, filter={"query": "Algebra II"}))["edges"][0]["node"]["term"]["id"]
    in_spring = await search_all(staff, filter={"query": "Robotis", "termId": spring})
    assert titles(in_spring) == ["Robotics Club"]
    # A cursor of one kind of page is refused by the other, as is a made-up one.
    exact_cursor = (await listed(staff, first=1))["pageInfo"]["endCursor"]
    for cursor in (exact_cursor, first["pageInfo"]["endCursor"][:-3]):
        refused = await staff.execute(CLASSES, {"filter": {"query": "Robotis"}, "first": 1, "after": cursor})
        assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    exact_page = await staff.execute(CLASSES, {"first": 1, "after": first["pageInfo"]["endCursor"]})
    assert exact_page["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_the_search_shows_only_the_callers_classes(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    south = await factory.school("south")
    await factory.section(south, "Robotics Lab")
    await factory.section(north, "Robotics Seminar", students=[north.student])
    student = gql.as_user(factory.token(north.student))
    assert await found_titles(student, "Robotis") == ["Robotics Seminar"]
    assert await found_titles(student, "Algebar") == ["Algebra A"]
    assert await found_titles(gql.as_user(factory.token(north.guardian)), "Robotis") == ["Robotics Seminar"]
    assert await found_titles(gql.as_user(factory.token(south.teacher)), "Robotis") == ["Robotics Lab"]
    mentor = await gql.as_user(factory.token(north.mentor)).execute(CLASSES, {"filter": {"query": "Robotis"}})
    assert mentor["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    too_long = await student.execute(CLASSES, {"filter": {"query": "x" * 101}})
    assert too_long["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def _pk(global_id: str) -> int:
    return decode_id(global_id)[1]


def _misspellings(words: list[str], chance: random.Random) -> set[str]:
    """One of each kind of typo of a word of each class: swapped, left out, added and changed."""
    queries = set()
    for word in words:
        spot = chance.randrange(len(word) - 1)
        queries |= {
            word[:spot] + word[spot + 1] + word[spot] + word[spot + 2 :],
            word[:spot] + word[spot + 1 :],
            word[:spot] + "x" + word[spot:],
            word[:spot] + "q" + word[spot + 1 :],
        }
    return queries


async def test_the_database_narrows_without_losing_a_match(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """Misspellings of every kind, of a word of every class: the API's pages are every class of
    the school scored by text_search.closeness, so the database's condition dropped no match; and
    the candidates it lets in are the matches and a few near misses, not the school's classes."""
    for title in ("Geometry Honors", "World History", "Statistics", "Physics Lab", "Spanish Literature"):
        await factory.section(north, title, room=f"Hall {len(title)}")
    for n in range(30):
        await factory.section(north, f"Study Hall {n:02d}", room="Gym")
    staff = gql.as_user(factory.token(north.staff))
    everyone = await search_all(staff, page=100)
    chance = random.Random(16)
    words = [
        chance.choice([w for w in klass["title"].lower().split() if len(w) >= 5] or ["algebra"])
        for klass in everyone
    ]
    queries = _misspellings(sorted(set(words)), chance) | {"lab", "robotics chemistry", "nor101 algebra"}
    for query in sorted(queries):
        searched = text_search.search_words(query)
        scored = []
        for klass in everyone:
            fields = [klass["title"], klass["room"] or "", klass["course"]["code"]]
            close = text_search.closeness(searched, fields, fields)
            if close is not None:
                scored.append((-close, klass["title"].lower(), _pk(klass["id"]), klass["title"]))
        expected = [title for *_, title in sorted(scored)]
        assert titles(await search_all(staff, page=3, filter={"query": query})) == expected, query
        async with session_factory() as session:
            condition = class_search_condition(searched)
            assert condition is not None
            candidates = await session.scalar(
                select(func.count())
                .select_from(Class)
                .join(Course, Course.id == Class.course_id)
                .where(Class.school_id == north.school.id, condition)
            )
        # A few near misses (classes of 42) that closeness then turns away, never a match lost.
        assert len(expected) <= (candidates or 0) <= len(expected) + 5, (query, candidates)


@pytest.fixture
async def metered(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client_for(settings.model_copy(update={"debug_metrics": True})) as client:
        yield client


async def statements(http: httpx.AsyncClient, token: str, variables: dict[str, Any]) -> tuple[int, int]:
    """The SQL statements of one Classes request, and the classes it answered."""
    response = await http.post(
        "/graphql",
        json={"query": CLASSES, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["extensions"]["metrics"]["sqlStatements"], len(body["data"]["classes"]["edges"])


async def test_statement_counts_do_not_grow_with_the_matches(
    metered: httpx.AsyncClient, factory: Factory
) -> None:
    costs = {}
    for slug, size in (("small", 2), ("large", 40)):
        school = await factory.school(slug)
        for n in range(size):
            await factory.section(school, f"Algebra {n:02d}", room=f"R{n}", teachers=[school.other_teacher])
        staff = factory.token(school.staff)
        costs[slug] = [
            await statements(metered, staff, {"filter": {"query": query}, "first": 100})
            for query in ("Algebar", "algebra", "alg")
        ]
    assert [answered for _, answered in costs["large"]] == [41, 41, 41]
    assert [count for count, _ in costs["small"]] == [count for count, _ in costs["large"]]
    typo, exact, short = (count for count, _ in costs["large"])
    assert typo == exact == short, "a typo search costs what a plain one does"
