"""Text with a NUL character is refused before the operation runs (found by fuzzing: PostgreSQL
refuses U+0000 in text, so a NUL anywhere, even in a sign-in email, was an unexpected error)."""

from __future__ import annotations

from typing import Any

from resolvers.ids import encode_id
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory


def refused(result: dict[str, Any]) -> bool:
    return result.get("data") is None and [e["extensions"]["code"] for e in result["errors"]] == [
        "BAD_USER_INPUT"
    ]


async def test_a_nul_in_variables_or_literals_is_invalid_input(gql: GraphQLClient, factory: Factory) -> None:
    north = await factory.school("north")
    login = contract_operation("Login")
    assert refused(await gql.execute(login, {"input": {"email": "a\x00@north.test", "password": "x"}}))
    literal = 'mutation { login(input: {email: "staff@north.test", password: "\\u0000"}) { accessToken } }'
    assert refused(await gql.execute(literal))

    teacher = gql.as_user(factory.token(north.teacher))
    attendance = {
        "input": {
            "classId": encode_id("Class", north.klass.id),
            "date": "2026-10-01",
            "records": [
                {"studentId": encode_id("Student", north.student.id), "status": "LATE", "note": "bus\x00"}
            ],
        }
    }
    record = (
        "mutation($input: RecordAttendanceInput!) { recordAttendance(input: $input) { userErrors { code } } }"
    )
    assert refused(await teacher.execute(record, attendance))
    track = 'mutation { trackDashboardAction(input: {action: "open", targetId: "\\u0000"}) { ok } }'
    assert refused(await gql.as_user(factory.token(north.student)).execute(track))

    attendance["input"]["records"][0]["note"] = "bus"
    assert (await teacher.data(record, attendance))["recordAttendance"]["userErrors"] == []
