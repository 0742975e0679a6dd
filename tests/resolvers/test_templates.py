"""Message templates through the contract's operations: the list, the variables, create, update and
archive, who may do what, and what they refuse (writing nothing)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import AuditEntry, MessageTemplate
from resolvers.ids import encode_id
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData

TEMPLATES = contract_operation("MessageTemplates")
VARIABLES = contract_operation("MessageTemplateVariables")
CREATE = contract_operation("CreateMessageTemplate")
UPDATE = contract_operation("UpdateMessageTemplate")
ARCHIVE = contract_operation("ArchiveMessageTemplate")

REMINDER = {
    "name": "Grades reminder",
    "category": "GRADES",
    "title": "Grades for {{ student.firstName }}",
    "body": "Dear {{recipient.name}}, {{student.name}}'s grades are posted. {{school.name}}",
}


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


async def create(client: GraphQLClient, **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = (await client.data(CREATE, {"input": REMINDER | fields}))[
        "createMessageTemplate"
    ]
    return payload


async def update(client: GraphQLClient, template_id: str, **fields: Any) -> dict[str, Any]:
    variables = {"input": {"templateId": template_id} | fields}
    payload: dict[str, Any] = (await client.data(UPDATE, variables))["updateMessageTemplate"]
    return payload


def errors(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(error["code"], error["field"]) for error in payload["userErrors"]]


async def template_count(session_factory: async_sessionmaker[AsyncSession]) -> int:
    async with session_factory() as session:
        return await session.scalar(select(func.count()).select_from(MessageTemplate)) or 0


async def test_staff_create_and_teachers_read_by_name(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    staff = gql.as_user(factory.token(north.staff))
    created = await create(staff)
    assert created["userErrors"] == []
    template = created["template"]
    assert template["variables"] == ["student.firstName", "recipient.name", "student.name", "school.name"]
    assert (template["version"], template["language"], template["category"]) == (1, "en", "GRADES")
    assert template["title"] == REMINDER["title"]
    await create(gql.as_user(factory.token(north.admin)), name="absence notice", category="ATTENDANCE")
    await create(
        staff, name="Welcome", category="ANNOUNCEMENTS", language="es", title="Hola", body="Bienvenidos"
    )
    south = await factory.school("south")
    await create(gql.as_user(factory.token(south.staff)), name="Elsewhere")

    teacher = gql.as_user(factory.token(north.teacher))
    page = (await teacher.data(TEMPLATES))["messageTemplates"]
    assert [node["name"] for node in page["nodes"]] == ["absence notice", "Grades reminder", "Welcome"]
    assert page["totalCount"] == 3
    node = page["nodes"][1]
    assert node["createdBy"] == {"id": encode_id("User", north.staff.id), "name": north.staff.name}
    assert node["archived"] is False
    assert node["updatedAt"]

    first = (await teacher.data(TEMPLATES, {"first": 2}))["messageTemplates"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = (await teacher.data(TEMPLATES, {"first": 2, "after": first["pageInfo"]["endCursor"]}))[
        "messageTemplates"
    ]
    assert [node["name"] for node in rest["nodes"]] == ["Welcome"]
    assert rest["pageInfo"]["hasNextPage"] is False
    graded = (await teacher.data(TEMPLATES, {"category": "GRADES"}))["messageTemplates"]
    assert [node["name"] for node in graded["nodes"]] == ["Grades reminder"]
    found = (await teacher.data(TEMPLATES, {"query": "REMIND"}))["messageTemplates"]
    assert [node["name"] for node in found["nodes"]] == ["Grades reminder"]

    for role in ("student", "guardian", "mentor"):
        answer = await gql.as_user(factory.token(north.users[role])).execute(TEMPLATES)
        assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN", role
    answer = await teacher.execute(CREATE, {"input": REMINDER | {"name": "Mine"}})
    assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await gql.execute(TEMPLATES))["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_variables_for_the_editor(gql: GraphQLClient, factory: Factory, north: SchoolData) -> None:
    variables = (await gql.as_user(factory.token(north.teacher)).data(VARIABLES))["messageTemplateVariables"]
    assert len(variables) == 10
    by_name = {variable["name"]: variable for variable in variables}
    assert by_name["class.room"]["needsClass"] is True
    assert by_name["class.room"]["needsStudent"] is False
    assert by_name["student.gradeLevel"]["needsStudent"] is True
    assert by_name["recipient.firstName"]["needsClass"] is False
    assert all(variable["description"] and variable["example"] for variable in variables)


async def test_create_refuses_and_writes_nothing(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    staff = gql.as_user(factory.token(north.staff))
    await create(staff)
    taken = await create(staff, title="Other")
    assert errors(taken) == [("CONFLICT", ["input", "name"])]
    assert taken["template"] is None
    unknown = await create(staff, name="Unknown", body="Hi {{ student.nickname }}")
    assert errors(unknown) == [("UNKNOWN_VARIABLE", ["input", "body"])]
    assert "student.nickname" in unknown["userErrors"][0]["message"]
    unclosed = await create(staff, name="Unclosed", title="Hi {{ student.name")
    assert errors(unclosed) == [("INVALID", ["input", "title"])]
    several = await create(staff, name=" ", title="", body="x" * 10_001, language="xx")
    assert errors(several) == [
        ("INVALID", ["input", "name"]),
        ("INVALID", ["input", "title"]),
        ("INVALID", ["input", "body"]),
        ("INVALID", ["input", "language"]),
    ]
    assert await template_count(session_factory) == 1
    south = await factory.school("south")
    assert (await create(gql.as_user(factory.token(south.staff))))["userErrors"] == []


async def test_concurrent_creates_of_one_name_make_one(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    staff = gql.as_user(factory.token(north.staff))
    results = await asyncio.gather(*(create(staff, name="Same") for _ in range(4)))
    assert sorted(code for result in results for code, _ in errors(result)) == ["CONFLICT"] * 3
    assert await template_count(session_factory) == 1


async def test_update_with_versions_and_archive(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    staff = gql.as_user(factory.token(north.staff))
    template_id = (await create(staff))["template"]["id"]
    other_id = (await create(staff, name="Other"))["template"]["id"]

    changed = await update(
        staff, template_id, body="{{class.title}} with {{teacher.name}}", expectedVersion=1
    )
    assert changed["userErrors"] == []
    assert changed["template"]["version"] == 2
    assert changed["template"]["variables"] == ["student.firstName", "class.title", "teacher.name"]
    assert changed["template"]["title"] == REMINDER["title"]
    stale = await update(staff, template_id, title="Late", expectedVersion=1)
    assert errors(stale) == [("VERSION_CONFLICT", ["input", "expectedVersion"])]
    assert errors(await update(staff, template_id, name="Other")) == [("CONFLICT", ["input", "name"])]
    assert errors(await update(staff, template_id, body="{{nope}}")) == [
        ("UNKNOWN_VARIABLE", ["input", "body"])
    ]
    renamed = await update(staff, template_id, name="Renamed", category="ATTENDANCE")
    assert renamed["template"]["name"] == "Renamed"
    assert renamed["template"]["version"] == 3
    south = await factory.school("south")
    foreign = await update(gql.as_user(factory.token(south.staff)), template_id, title="Mine")
    assert errors(foreign) == [("NOT_FOUND", ["input", "templateId"])]
    teacher_try = await gql.as_user(factory.token(north.teacher)).execute(
        UPDATE, {"input": {"templateId": template_id, "title": "x"}}
    )
    assert teacher_try["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    archived = (await staff.data(ARCHIVE, {"input": {"templateId": template_id}}))["archiveMessageTemplate"]
    assert archived == {"template": {"id": template_id, "archived": True}, "userErrors": []}
    again = (await staff.data(ARCHIVE, {"input": {"templateId": template_id}}))["archiveMessageTemplate"]
    assert again["template"]["archived"] is True
    listed = (await staff.data(TEMPLATES))["messageTemplates"]
    assert [node["id"] for node in listed["nodes"]] == [other_id]
    everything = (await staff.data(TEMPLATES, {"includeArchived": True}))["messageTemplates"]
    assert [(node["name"], node["archived"]) for node in everything["nodes"]] == [
        ("Other", False),
        ("Renamed", True),
    ]
    unknown = (await staff.data(ARCHIVE, {"input": {"templateId": encode_id("MessageTemplate", 999)}}))[
        "archiveMessageTemplate"
    ]
    assert errors(unknown) == [("NOT_FOUND", ["input", "templateId"])]

    async with session_factory() as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.subject_type == "MessageTemplate")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert actions == [
        "message_template.created",
        "message_template.created",
        "message_template.updated",
        "message_template.updated",
        "message_template.archived",
    ]
