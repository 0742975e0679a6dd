"""Skill assessments and progress through the contract's operations."""

from __future__ import annotations

from typing import Any

import pytest

from resolvers.ids import encode_id
from resolvers.progress import assessment_level
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData

PROGRESS = contract_operation("StudentProgress")
CREATE = contract_operation("CreateAssessment")


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


async def assess(
    client: GraphQLClient, school: SchoolData, skill: str, score: float, **more: Any
) -> dict[str, Any]:
    variables = {
        "input": {
            "studentId": encode_id("Student", school.student.id),
            "skill": skill,
            "score": score,
            "maxScore": 10,
        }
        | more
    }
    payload: dict[str, Any] = (await client.data(CREATE, variables))["createAssessment"]
    return payload


@pytest.mark.parametrize(
    ("share", "level"), [(0.0, 1), (0.39, 1), (0.4, 2), (0.55, 3), (0.69, 3), (0.7, 4), (0.85, 5), (1.0, 5)]
)
def test_levels_come_from_the_share_of_the_points(share: float, level: int) -> None:
    assert assessment_level(share) == level


async def test_progress_shows_latest_levels_trends_and_assessments(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    teacher = gql.as_user(factory.token(north.teacher))
    mentor = gql.as_user(factory.token(north.mentor))
    created = await assess(teacher, north, "Reading", 4, notes="Slow but careful")
    assert created["userErrors"] == []
    assert (created["assessment"]["level"], created["assessment"]["notes"]) == (2, "Slow but careful")
    await assess(mentor, north, "Reading", 6.5)
    await assess(teacher, north, "Reading", 9)
    await assess(teacher, north, "Writing", 7)
    await assess(teacher, north, "Focus", 5)
    await assess(teacher, north, "Focus", 5.1)
    student_id = encode_id("Student", north.student.id)
    progress = (await gql.as_user(factory.token(north.guardian)).data(PROGRESS, {"studentId": student_id}))[
        "studentProgress"
    ]
    assert progress["student"] == {"id": student_id, "name": north.student.name}
    skills = {s["skill"]: (s["level"], s["score"], s["trend"]) for s in progress["skills"]}
    assert skills == {"Reading": (5, 90.0, "UP"), "Writing": (4, 70.0, None), "Focus": (2, 51.0, "FLAT")}
    assert progress["overallLevel"] == 3.7
    nodes = progress["assessments"]["nodes"]
    assert [(n["skill"], n["score"]) for n in nodes] == [
        ("Focus", 5.1), ("Focus", 5.0), ("Writing", 7.0), ("Reading", 9.0), ("Reading", 6.5), ("Reading", 4.0)
    ]  # fmt: skip
    assert nodes[4]["assessor"]["name"] == north.mentor.name


async def test_assessments_page_newest_first(gql: GraphQLClient, factory: Factory, north: SchoolData) -> None:
    teacher = gql.as_user(factory.token(north.teacher))
    for score in range(12):
        await assess(teacher, north, "Algebra", score % 10)
    progress = (await teacher.data(PROGRESS, {"studentId": encode_id("Student", north.student.id)}))[
        "studentProgress"
    ]
    assert len(progress["assessments"]["nodes"]) == 10
    assert progress["assessments"]["nodes"][0]["score"] == 1.0


async def test_who_may_assess_and_read_progress(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    south = await factory.school("south")
    variables = {
        "input": {
            "studentId": encode_id("Student", north.student.id),
            "skill": "Reading",
            "score": 5,
            "maxScore": 10,
        }
    }
    for user in (north.other_teacher, north.staff, north.admin, north.guardian, north.student, south.teacher):
        refused = await gql.as_user(factory.token(user)).execute(CREATE, variables)
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", user.email
    read = {"studentId": encode_id("Student", north.student.id)}
    for user in (north.other_teacher, north.other_student, south.admin):
        refused = await gql.as_user(factory.token(user)).execute(PROGRESS, read)
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", user.email
    for user in (north.student, north.staff, north.teacher, north.mentor):
        assert "errors" not in await gql.as_user(factory.token(user)).execute(PROGRESS, read), user.email


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"score": 11}, "score"),
        ({"score": -1}, "score"),
        ({"maxScore": 0}, "maxScore"),
        ({"skill": "  "}, "skill"),
        ({"notes": "x" * 2001}, "notes"),
    ],
)
async def test_invalid_assessments_are_user_errors(
    gql: GraphQLClient, factory: Factory, north: SchoolData, fields: dict[str, Any], field: str
) -> None:
    variables = {
        "studentId": encode_id("Student", north.student.id),
        "skill": "Reading",
        "score": 5,
        "maxScore": 10,
    }
    refused = (await gql.as_user(factory.token(north.teacher)).data(CREATE, {"input": variables | fields}))[
        "createAssessment"
    ]
    assert refused["assessment"] is None
    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [("INVALID", ["input", field])]
