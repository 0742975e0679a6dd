"""Notification preferences through the contract's operations (defaults, changes, userErrors, the
languages), and the platform's own notices obeying the IN_APP switches."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from models import Assignment, AuditEntry, Notification
from models.enums import AssignmentCategory
from resolvers.ids import encode_id
from services.simulator import serving
from services.translation import SUPPORTED_LANGUAGES
from tests.clients import GraphQLClient
from tests.conftest import http_client_for
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData
from tests.services.test_translation import LIBRE_KEY, Provider, provider_app

PREFERENCES = contract_operation("NotificationPreferences")
UPDATE = contract_operation("UpdateNotificationPreferences")
START = contract_operation("StartConversation")
SEND = contract_operation("SendMessage")
GRADE = contract_operation("UpdateGrade")


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


async def change(client: GraphQLClient, **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = (await client.data(UPDATE, {"input": fields}))["updateNotificationPreferences"]
    return payload


def switches(preferences: dict[str, Any]) -> dict[tuple[str, str], tuple[bool, bool]]:
    return {(p["category"], p["channel"]): (p["enabled"], p["locked"]) for p in preferences["preferences"]}


def errors(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(error["code"], error["field"]) for error in payload["userErrors"]]


async def test_defaults_until_changed(gql: GraphQLClient, factory: Factory, north: SchoolData) -> None:
    data = await gql.as_user(factory.token(north.guardian)).data(PREFERENCES)
    mine = data["notificationPreferences"]
    assert (mine["language"], mine["timeZone"], mine["email"]) == ("en", "UTC", north.guardian.email)
    assert (mine["phoneNumber"], mine["quietHours"], mine["updatedAt"]) == (None, None, None)
    found = switches(mine)
    assert len(found) == 18
    for (category, channel), (enabled, locked) in found.items():
        assert enabled is (channel != "SMS" or category == "SAFETY"), (category, channel)
        assert locked is (category == "SAFETY" and channel == "IN_APP")
    languages = data["supportedLanguages"]
    assert [language["code"] for language in languages] == [language.code for language in SUPPORTED_LANGUAGES]
    assert {
        "code": "es",
        "name": "Spanish",
        "nativeName": "Español",
        "translationAvailable": False,
    } in languages
    assert (await gql.execute(PREFERENCES))["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_changes_only_what_is_given(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    guardian = gql.as_user(factory.token(north.guardian))
    first = await change(
        guardian,
        language="es",
        timeZone="America/Chicago",
        phoneNumber="+1 (555) 555-0123",
        quietHours={"enabled": True, "start": "22:00:00", "end": "07:00:00"},
        preferences=[
            {"category": "GRADES", "channel": "EMAIL", "enabled": False},
            {"category": "GRADES", "channel": "SMS", "enabled": True},
            {"category": "SAFETY", "channel": "IN_APP", "enabled": True},
        ],
    )
    assert first["userErrors"] == []
    mine = first["preferences"]
    assert (mine["language"], mine["timeZone"], mine["phoneNumber"]) == (
        "es",
        "America/Chicago",
        "+15555550123",
    )
    assert mine["quietHours"] == {"start": "22:00:00", "end": "07:00:00"}
    assert mine["updatedAt"] is not None
    assert switches(mine)[("GRADES", "EMAIL")] == (False, False)
    assert switches(mine)[("GRADES", "SMS")] == (True, False)

    second = (
        await change(guardian, preferences=[{"category": "GRADES", "channel": "EMAIL", "enabled": True}])
    )["preferences"]
    assert (second["language"], second["phoneNumber"]) == ("es", "+15555550123")
    assert second["quietHours"] == {"start": "22:00:00", "end": "07:00:00"}
    assert switches(second)[("GRADES", "EMAIL")] == (True, False)
    assert switches(second)[("GRADES", "SMS")] == (True, False)

    third = (await change(guardian, phoneNumber=None, quietHours={"enabled": False}))["preferences"]
    assert (third["phoneNumber"], third["quietHours"], third["language"]) == (None, None, "es")
    again = (await guardian.data(PREFERENCES))["notificationPreferences"]
    assert again["quietHours"] is None
    assert again["timeZone"] == "America/Chicago"
    # Someone else's preferences are untouched.
    other = (await gql.as_user(factory.token(north.student)).data(PREFERENCES))["notificationPreferences"]
    assert (other["language"], other["updatedAt"]) == ("en", None)
    async with session_factory() as session:
        actions = list(
            await session.scalars(select(AuditEntry.action).where(AuditEntry.subject_id == north.guardian.id))
        )
    assert actions.count("notification_preferences.updated") == 3


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"language": "tlh"}, [("INVALID", ["input", "language"])]),
        ({"timeZone": "Mars/Olympus_Mons"}, [("INVALID", ["input", "timeZone"])]),
        ({"timeZone": "../../etc/passwd"}, [("INVALID", ["input", "timeZone"])]),
        ({"phoneNumber": "555-0123"}, [("INVALID", ["input", "phoneNumber"])]),
        ({"phoneNumber": "+0123456"}, [("INVALID", ["input", "phoneNumber"])]),
        ({"quietHours": {"enabled": True, "start": "22:00:00"}}, [("INVALID", ["input", "quietHours"])]),
        (
            {"quietHours": {"enabled": True, "start": "22:00:00", "end": "22:00:00"}},
            [("INVALID", ["input", "quietHours"])],
        ),
        (
            {
                "language": "es",
                "preferences": [
                    {"category": "GRADES", "channel": "IN_APP", "enabled": False},
                    {"category": "SAFETY", "channel": "IN_APP", "enabled": False},
                ],
            },
            [("LOCKED", ["input", "preferences", "1"])],
        ),
    ],
)
async def test_refusals_change_nothing(
    gql: GraphQLClient,
    factory: Factory,
    north: SchoolData,
    fields: dict[str, Any],
    expected: list[tuple[str, list[str]]],
) -> None:
    student = gql.as_user(factory.token(north.student))
    refused = await change(student, **fields)
    assert errors(refused) == expected
    assert refused["preferences"] is None
    mine = (await student.data(PREFERENCES))["notificationPreferences"]
    assert (mine["language"], mine["updatedAt"], switches(mine)[("GRADES", "IN_APP")]) == (
        "en",
        None,
        (True, False),
    )


@pytest.fixture
async def libretranslate() -> AsyncIterator[str]:
    async with serving(provider_app(Provider())) as base_url:
        yield base_url


async def test_languages_a_provider_translates_into(
    settings: Settings, factory: Factory, north: SchoolData, libretranslate: str
) -> None:
    configured = settings.model_copy(
        update={"libretranslate_url": libretranslate, "libretranslate_key": LIBRE_KEY}
    )
    async with http_client_for(configured) as http:
        data = await GraphQLClient(http, factory.token(north.student)).data(PREFERENCES)
    available = {
        language["code"] for language in data["supportedLanguages"] if language["translationAvailable"]
    }
    assert available == {"en", "es"}  # what its /languages lists


async def test_platform_notices_obey_in_app_switches(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    student = gql.as_user(factory.token(north.student))
    off = [
        {"category": category, "channel": "IN_APP", "enabled": False} for category in ("MESSAGES", "GRADES")
    ]
    assert (await change(student, preferences=off))["userErrors"] == []

    mentor = gql.as_user(factory.token(north.mentor))
    started = await mentor.data(START, {"input": {"participantIds": [encode_id("User", north.student.id)]}})
    conversation = started["startConversation"]["conversation"]["id"]
    await mentor.data(SEND, {"input": {"conversationId": conversation, "body": "Are you free Tuesday?"}})

    async with session_factory.begin() as session:
        quiz = Assignment(
            class_id=north.klass.id,
            title="Quiz 1",
            category=AssignmentCategory.QUIZ,
            max_score=10.0,
            due_at=datetime.now(UTC) - timedelta(days=1),
        )
        session.add(quiz)
    teacher = gql.as_user(factory.token(north.teacher))
    cell = {
        "studentId": encode_id("Student", north.student.id),
        "assignmentId": encode_id("Assignment", quiz.id),
    }
    posted = (await teacher.data(GRADE, {"input": cell | {"score": 9, "expectedVersion": 0}}))["updateGrade"]
    assert posted["userErrors"] == []

    async def kinds() -> list[str]:
        async with session_factory() as session:
            query = select(Notification.kind).where(Notification.user_id == north.student.id)
            return sorted(await session.scalars(query))

    assert await kinds() == []
    # Switched back on, the next grade notice is made again.
    on = [{"category": "GRADES", "channel": "IN_APP", "enabled": True}]
    assert (await change(student, preferences=on))["userErrors"] == []
    changed = (await teacher.data(GRADE, {"input": cell | {"score": 8, "expectedVersion": 1}}))["updateGrade"]
    assert changed["userErrors"] == []
    assert await kinds() == ["grade_changed"]
