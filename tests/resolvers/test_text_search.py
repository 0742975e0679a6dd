"""Search that survives typos: students and accounts found by a misspelt name, closest first, in
the same pages on SQLite and PostgreSQL (this module runs on both: every expectation is either
written out or computed by the one scoring function over the whole school)."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from resolvers import text_search
from resolvers.ids import decode_id
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, populate

SEARCH = contract_operation("StudentSearch")
USERS = contract_operation("Users")

NAMES = [
    "Ana Rivera",
    "Marco Rivera",
    "Rivers Stone",
    "Lena Riviera",
    "Luis Garcia",
    "Garcia Marquez",
    "Gracia Long",
    "Bob Stone",
    "Anna Smith",
    "Hernandez Ortiz",
]


async def search_all(client: GraphQLClient, variables: dict[str, Any], page: int = 2) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after = None
    while True:
        data = (await client.data(SEARCH, variables | {"first": page, "after": after}))["students"]
        found.extend(edge["node"] for edge in data["edges"])
        if not data["pageInfo"]["hasNextPage"]:
            assert data["totalCount"] == len(found)
            return found
        after = data["pageInfo"]["endCursor"]


def names(found: list[dict[str, Any]]) -> list[str]:
    return [student["name"] for student in found]


async def test_typos_find_students_closest_first(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    await populate(session_factory, north, len(NAMES), names=NAMES)
    staff = gql.as_user(factory.token(north.staff))
    assert names(await search_all(staff, {"query": "Rivrea"})) == ["Ana Rivera", "Marco Rivera"]
    # Exact matches first, then one letter off: of seven letters (Riviera) closer than of six.
    assert names(await search_all(staff, {"query": "rivera"})) == [
        "Ana Rivera",
        "Marco Rivera",
        "Lena Riviera",
        "Rivers Stone",
    ]
    assert names(await search_all(staff, {"query": "Garcai"})) == ["Garcia Marquez", "Luis Garcia"]
    assert names(await search_all(staff, {"query": "garcia"})) == [
        "Garcia Marquez",
        "Luis Garcia",
        "Gracia Long",
    ]
    assert names(await search_all(staff, {"query": "Hernadnez"})) == ["Hernandez Ortiz"]
    assert names(await search_all(staff, {"query": "rivrea ana"})) == ["Ana Rivera"]
    # Short words forgive nothing (they would match half the school), nor do student numbers.
    assert names(await search_all(staff, {"query": "Aan"})) == []
    assert names(await search_all(staff, {"query": "Rvera"})) == ["Ana Rivera", "Marco Rivera"]
    assert await search_all(staff, {"query": "Qwxyz"}) == []
    by_risk = await search_all(
        staff, {"query": "rivera", "orderBy": {"field": "RISK_SCORE", "direction": "DESC"}}
    )
    assert names(by_risk[2:]) == ["Lena Riviera", "Rivers Stone"], "closeness first, then the order asked for"
    facets = (await staff.data(SEARCH, {"query": "rivrea", "first": 1}))["students"]
    assert facets["totalCount"] == 2
    assert sum(bucket["count"] for bucket in facets["facets"]["gradeLevel"]) == 2


async def test_the_database_narrows_without_losing_a_match(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """Misspellings of every kind, of every name: the API's pages are the whole school scored by
    text_search.closeness, so the database's condition never dropped a match (on either DB)."""
    north = await factory.school("north")
    roster = NAMES + [
        f"{first} {last}" for first in ("Jennifer", "Kim", "Aaron") for last in ("Nguyen", "Okafor")
    ]
    await populate(session_factory, north, len(roster), names=roster)
    staff = gql.as_user(factory.token(north.staff))
    everyone = await search_all(staff, {}, page=100)
    chance = random.Random(16)
    queries = {"stone", "anna", "rivera garcia"}
    for full_name in roster:
        word = chance.choice(full_name.lower().split())
        spot = chance.randrange(len(word) - 1)
        queries |= {
            word[:spot] + word[spot + 1] + word[spot] + word[spot + 2 :],  # swapped
            word[:spot] + word[spot + 1 :],  # a letter left out
            word[:spot] + "x" + word[spot:],  # one added
            word[:spot] + "q" + word[spot + 1 :],  # one changed
        }
    for query in sorted(queries):
        words = text_search.search_words(query)
        scored = [
            (close, s["name"].lower(), s["id"], s["name"])
            for s in everyone
            if (
                close := text_search.closeness(
                    words, [s["name"], s["email"], s["studentNumber"]], [s["name"], s["email"]]
                )
            )
        ]
        expected = [name for *_, name in sorted(scored, key=lambda t: (-t[0], t[1], _pk(t[2])))]
        assert names(await search_all(staff, {"query": query}, page=3)) == expected, query


def _pk(global_id: str) -> int:
    return decode_id(global_id)[1]


async def test_admins_find_accounts_despite_typos(gql: GraphQLClient, factory: Factory) -> None:
    north, south = await factory.school("north"), await factory.school("south")
    admin = gql.as_user(factory.token(north.admin))
    invite = contract_operation("InviteUser")
    for email, name in [
        ("luis.garcia@north.test", "Luis Garcia"),
        ("g.marquez@north.test", "Garcia Marquez"),
    ]:
        await admin.data(invite, {"input": {"email": email, "name": name, "role": "GUARDIAN"}})
    await gql.as_user(factory.token(south.admin)).data(
        invite, {"input": {"email": "luis.garcia@south.test", "name": "Luis Garcia", "role": "GUARDIAN"}}
    )

    async def found(query: str, order: dict[str, str] | None = None) -> list[str]:
        variables: dict[str, Any] = {"filter": {"query": query}, "orderBy": order, "first": 1}
        emails: list[str] = []
        while True:
            data = (await admin.data(USERS, variables))["users"]
            emails += [u["email"] for u in data["nodes"]]
            if not data["pageInfo"]["hasNextPage"]:
                assert data["totalCount"] == len(emails)
                return emails
            variables["after"] = data["pageInfo"]["endCursor"]

    assert await found("Garcai") == ["g.marquez@north.test", "luis.garcia@north.test"]
    assert await found("garcai", {"field": "EMAIL", "direction": "DESC"}) == [
        "luis.garcia@north.test",
        "g.marquez@north.test",
    ]
    assert await found("luis garcai") == ["luis.garcia@north.test"]
    assert await found("Garcia", {"field": "JOINED_AT", "direction": "DESC"}) == [
        "g.marquez@north.test",
        "luis.garcia@north.test",
    ]
    assert await found("Teahcer") == ["other_teacher@north.test", "teacher@north.test"]


def test_closeness_scores() -> None:
    assert text_search.closeness(("rivera",), ["Ana Rivera"], ["Ana Rivera"]) == 100
    assert text_search.closeness(("rivrea",), ["Ana Rivera"], ["Ana Rivera"]) == 83
    assert text_search.closeness(("rivrea",), ["Ana Rivera"]) is None, "only fuzzy fields forgive"
    assert text_search.closeness(("rivrea", "ana"), ["Ana Rivera"], ["Ana Rivera"]) == 183
    assert text_search.closeness(("rievra",), ["Ana Rivera"], ["Ana Rivera"]) == 83, "a swap is one edit"
    assert text_search.closeness(("ribeta",), ["Ana Rivera"], ["Ana Rivera"]) is None, "two edits"
    assert (
        text_search.closeness(("garcai",), ["x", "luis.garcia@north.test"], ["luis.garcia@north.test"]) == 83
    )
