"""Ids and cursors that no answer handed out are invalid input, never an unexpected error.

Found by fuzzing on PostgreSQL: primary keys are INTEGER columns, and a global id or cursor
carrying a larger number reached a query, which asyncpg refused ("value out of int32 range").
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from errors import InvalidId
from resolvers.ids import MAX_PK, decode_id, encode_id
from resolvers.pagination import encode_cursor
from tests.clients import GraphQLClient
from tests.factories import Factory

TOO_BIG = MAX_PK + 1
NOON = "2026-01-01T12:00:00+00:00"


def test_a_global_id_past_the_largest_key_is_invalid() -> None:
    assert decode_id(encode_id("Student", MAX_PK)) == ("Student", MAX_PK)
    with pytest.raises(InvalidId):
        decode_id(encode_id("Student", TOO_BIG))


def codes(result: dict[str, Any]) -> list[str | None]:
    return [e.get("extensions", {}).get("code") for e in result.get("errors", [])]


async def test_ids_past_the_largest_key_are_refused_as_invalid(gql: GraphQLClient, factory: Factory) -> None:
    north = await factory.school("north")
    staff = gql.as_user(factory.token(north.staff))
    for query, variables in [
        ("query($id: ID!) { node(id: $id) { id } }", {"id": encode_id("Student", TOO_BIG)}),
        ("query($id: ID!) { student(id: $id) { id } }", {"id": encode_id("Student", TOO_BIG)}),
        ("query($id: ID!) { gradebook(classId: $id) { __typename } }", {"id": encode_id("Class", TOO_BIG)}),
    ]:
        result = await staff.execute(query, variables)
        assert codes(result) == ["BAD_USER_INPUT"], (query, result)


CURSORS = [
    str(TOO_BIG),
    f"{NOON}|{TOO_BIG}",
    json.dumps([NOON, TOO_BIG]),
    json.dumps([NOON, "GRADE", TOO_BIG]),
    json.dumps(["Ada", TOO_BIG]),
    json.dumps([0.5, TOO_BIG]),
    json.dumps([0.5, 1]),  # a number where the (default) name order has text
    json.dumps([True, 1]),
    "²",  # a digit to str.isdigit(), not to int()
    f"{NOON}|²",
    # times without a zone
    "2026-01-01T12:00:00|1",
    json.dumps(["2026-01-01T12:00:00", 1]),
    json.dumps(["2026-01-01T12:00:00", "GRADE", 1]),
]
PAGED = {
    "notifications": "query($a: String) { notifications(after: $a) { totalCount } }",
    "auditLog": "query($a: String) { auditLog(after: $a) { totalCount } }",
    "conversations": "query($a: String) { conversations(after: $a) { totalCount } }",
    "students": "query($a: String) { students(after: $a) { totalCount } }",
    "timeline": "query($s: ID!, $a: String) { student(id: $s) { timeline(after: $a) { totalCount } } }",
    "assessments": "query($s: ID!, $a: String) {"
    " studentProgress(studentId: $s) { assessments(after: $a) { totalCount } } }",
    "messages": "query($c: ID!, $a: String) { conversation(id: $c) { messages(before: $a) { totalCount } } }",
}


@pytest.mark.parametrize("field", PAGED)
async def test_cursors_past_the_largest_key_are_refused_as_invalid(
    gql: GraphQLClient, factory: Factory, field: str
) -> None:
    north = await factory.school("north")
    admin = gql.as_user(factory.token(north.admin))
    started = await admin.data(
        "mutation($i: StartConversationInput!) { startConversation(input: $i) { conversation { id } } }",
        {"i": {"participantIds": [encode_id("User", north.staff.id)]}},
    )
    scope = {
        "s": encode_id("Student", north.student.id),
        "c": started["startConversation"]["conversation"]["id"],
    }
    query = PAGED[field]
    for payload in CURSORS:
        variables = {k: v for k, v in scope.items() if f"${k}" in query} | {"a": encode_cursor(payload)}
        result = await admin.execute(query, variables)
        assert set(codes(result)) <= {"BAD_USER_INPUT"}, (payload, result)
