"""previewMessage through the contract's operation: rendered for a sample student (with a class),
who may preview what, its userErrors, and translation through a local LibreTranslate-shaped API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from models import AuditEntry, MessageTemplate
from resolvers.ids import encode_id
from services.simulator import serving
from tests.clients import GraphQLClient
from tests.conftest import http_client_for
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData
from tests.services.test_translation import LIBRE_KEY, Provider, provider_app

PREVIEW = contract_operation("PreviewMessage")
CREATE = contract_operation("CreateMessageTemplate")


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


async def preview(client: GraphQLClient, **fields: Any) -> dict[str, Any]:
    found: dict[str, Any] = (await client.data(PREVIEW, {"input": fields}))["previewMessage"]
    return found


def errors(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(error["code"], error["field"]) for error in payload["userErrors"]]


async def a_template(client: GraphQLClient, **fields: Any) -> str:
    template = {
        "name": "Class news",
        "category": "ANNOUNCEMENTS",
        "title": "{{class.title}} news",
        "body": "Hi {{recipient.firstName}}: {{student.name}} (grade {{student.gradeLevel}}) meets "
        "{{teacher.name}} in {{class.room}}. {{school.name}}, {{author.name}}",
    }
    created = (await client.data(CREATE, {"input": template | fields}))["createMessageTemplate"]
    template_id: str = created["template"]["id"]
    return template_id


async def test_a_template_rendered_for_a_student_of_the_class(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    staff = gql.as_user(factory.token(north.staff))
    template_id = await a_template(staff)
    klass = encode_id("Class", north.klass.id)
    found = await preview(staff, templateId=template_id, classId=klass)
    assert found == {
        "title": "Algebra A news",
        "body": f"Hi Student: {north.student.name} (grade 10) meets {north.teacher.name} in 101. "
        f"North School, {north.staff.name}",
        "language": "en",
        "translated": False,
        "variables": [
            "class.title",
            "recipient.firstName",
            "student.name",
            "student.gradeLevel",
            "teacher.name",
            "class.room",
            "school.name",
            "author.name",
        ],
        "userErrors": [],
    }
    # A title and body of one's own, for a chosen student; no language given: the original.
    mine = await preview(
        staff,
        title="For {{student.firstName}}",
        body="{{ recipient.name }}",
        sampleStudentId=encode_id("Student", north.other_student.id),
    )
    assert (mine["title"], mine["body"]) == ("For Other", north.other_student.name)
    # Nothing is stored; the sample students' reads are noted.
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(MessageTemplate)) == 1
        noted = set(
            await session.scalars(
                select(AuditEntry.subject_id).where(
                    AuditEntry.action == "read", AuditEntry.subject_type == "Student"
                )
            )
        )
    assert {north.student.id, north.other_student.id} <= noted


async def test_teachers_preview_for_their_classes_and_students_only(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    template_id = await a_template(gql.as_user(factory.token(north.staff)))
    teacher = gql.as_user(factory.token(north.teacher))
    klass = encode_id("Class", north.klass.id)
    mine = await preview(teacher, templateId=template_id, classId=klass)
    assert mine["body"].startswith(f"Hi Student: {north.student.name}")
    # Without a class a teacher's sample is one of their students.
    plain = await preview(teacher, title="{{student.name}}", body="Hi")
    assert plain["title"] == north.student.name

    elsewhere = await factory.section(north, "Geometry B", teachers=[north.other_teacher])
    for fields in (
        {"templateId": template_id, "classId": encode_id("Class", elsewhere.id)},
        {"title": "x", "body": "y", "sampleStudentId": encode_id("Student", north.other_student.id)},
    ):
        answer = await teacher.execute(PREVIEW, {"input": fields})
        assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN", fields
    for role in ("student", "guardian", "mentor"):
        answer = await gql.as_user(factory.token(north.users[role])).execute(
            PREVIEW, {"input": {"title": "x", "body": "y"}}
        )
        assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN", role


async def test_preview_user_errors(gql: GraphQLClient, factory: Factory, north: SchoolData) -> None:
    staff = gql.as_user(factory.token(north.staff))
    template_id = await a_template(staff)
    south = await factory.school("south")
    outsider = await a_template(gql.as_user(factory.token(south.staff)))
    empty = {"title": None, "body": None, "language": None, "translated": False, "variables": []}
    assert await preview(staff, templateId=outsider) == empty | {
        "userErrors": [
            {
                "field": ["input", "templateId"],
                "message": "No such template, or not yours to manage.",
                "code": "NOT_FOUND",
            }
        ]
    }
    cases: list[tuple[dict[str, Any], list[tuple[str, list[str] | None]]]] = [
        ({"templateId": template_id}, [("VARIABLE_UNAVAILABLE", ["input", "templateId"])] * 2),
        ({"title": "{{class.room}}", "body": "ok"}, [("VARIABLE_UNAVAILABLE", ["input", "title"])]),
        ({"title": "ok", "body": "{{ nope }}"}, [("UNKNOWN_VARIABLE", ["input", "body"])]),
        ({"title": "ok {{", "body": "ok"}, [("INVALID", ["input", "title"])]),
        ({"title": "only a title"}, [("INVALID", ["input"])]),
        ({"title": "a", "body": "b", "language": "xx"}, [("INVALID", ["input", "language"])]),
        (
            {"title": "a", "body": "b", "classId": encode_id("Class", south.klass.id)},
            [("NOT_FOUND", ["input", "classId"])],
        ),
        (
            {"title": "a", "body": "b", "sampleStudentId": encode_id("Student", south.student.id)},
            [("NOT_FOUND", ["input", "sampleStudentId"])],
        ),
        (
            {
                "title": "a",
                "body": "b",
                "classId": encode_id("Class", north.klass.id),
                "sampleStudentId": encode_id("Student", north.other_student.id),
            },
            [("NOT_FOUND", ["input", "sampleStudentId"])],
        ),
    ]
    for fields, expected in cases:
        found = await preview(staff, **fields)
        assert errors(found) == expected, fields
        assert found["title"] is None


@pytest.fixture
async def libretranslate() -> AsyncIterator[tuple[Provider, str]]:
    state = Provider()
    async with serving(provider_app(state)) as base_url:
        yield state, base_url


async def test_translated_into_the_language_asked_for(
    settings: Settings, factory: Factory, north: SchoolData, libretranslate: tuple[Provider, str]
) -> None:
    state, base_url = libretranslate
    configured = settings.model_copy(update={"libretranslate_url": base_url, "libretranslate_key": LIBRE_KEY})
    async with http_client_for(configured) as http:
        staff = GraphQLClient(http, factory.token(north.staff))
        found = await preview(
            staff, title="Hello {{student.firstName}}", body="Grades are out", language="es"
        )
        assert (found["title"], found["body"]) == (
            "«es» HELLO Other",
            "«es» GRADES ARE OUT",
        )  # the first by name
        assert (found["language"], found["translated"]) == ("es", True)
        # The values are rendered after translation: never sent.
        assert all("Other" not in str(request) for request in state.requests)
        state.mode = "error"
        failed = await preview(
            staff, title="Hello {{student.firstName}}", body="Grades are out", language="es"
        )
        assert (failed["title"], failed["language"], failed["translated"]) == ("Hello Other", "en", False)
        same = await preview(staff, title="Hi", body="There", language="en")
        assert (same["translated"], same["language"]) == (False, "en")
