"""createAnnouncement and updateAnnouncement through the contract: who may address whom (the
denials as carefully as the successes), what is refused as userErrors (and then nothing is
written), templates, files, versions, and cancelAnnouncement."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from models import Announcement, AnnouncementAttachment, MessageTemplate
from models.base import utcnow
from models.enums import NotificationCategory
from resolvers.ids import decode_id_of, encode_id
from tests.clients import GraphQLClient
from tests.factories import Factory, SchoolData
from tests.resolvers.announcements.helpers import (
    CANCEL,
    CREATE,
    UPDATE,
    audit_actions,
    cancel,
    class_audience,
    codes,
    count,
    create,
    created,
    error_codes,
    multipart,
    new_announcement,
    png,
    publish,
    update,
)

SCHOOL = {"scope": "SCHOOL"}


def client(gql: GraphQLClient, factory: Factory, user: Any) -> GraphQLClient:
    return gql.as_user(factory.token(user))


async def test_staff_and_admins_address_the_school_and_grade_levels_teachers_do_not(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    for role in ("staff", "admin"):
        school_wide = await created(client(gql, factory, north.users[role]), new_announcement(SCHOOL))
        assert school_wide["status"] == "DRAFT"
        assert school_wide["version"] == 1
        assert school_wide["audience"] == {
            "scope": "SCHOOL", "gradeLevels": None, "class": None, "includeStudents": True,
            "includeGuardians": False, "includeStaff": False, "description": "Students of the whole school",
        }  # fmt: skip
    grades = {
        "scope": "GRADE_LEVELS",
        "gradeLevels": [10],
        "includeGuardians": True,
        "includeStudents": False,
    }
    by_grade = await created(client(gql, factory, north.staff), new_announcement(grades, category="SAFETY"))
    assert by_grade["audience"]["description"] == "Guardians of grade 10"
    assert by_grade["category"] == "SAFETY"

    teacher = client(gql, factory, north.teacher)
    for audience in (SCHOOL, grades):
        result = await teacher.execute(CREATE, {"input": new_announcement(audience)})
        assert error_codes(result) == ["FORBIDDEN"]
        assert result["data"] is None
    assert await count(session_factory, Announcement) == 3
    assert await audit_actions(session_factory, "Announcement") == ["announcement.created"] * 3


@pytest.mark.parametrize("role", ["student", "guardian", "mentor"])
async def test_students_guardians_and_mentors_only_receive(
    gql: GraphQLClient,
    factory: Factory,
    north: SchoolData,
    role: str,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    caller = client(gql, factory, north.users[role])
    for audience in (SCHOOL, class_audience(north.klass.id)):
        result = await caller.execute(CREATE, {"input": new_announcement(audience)})
        assert error_codes(result) == ["FORBIDDEN"]
    draft = await created(client(gql, factory, north.staff), new_announcement(SCHOOL))
    for operation in (UPDATE, CANCEL):
        result = await caller.execute(operation, {"input": {"announcementId": draft["id"]}})
        assert error_codes(result) == ["FORBIDDEN"]
    assert await count(session_factory, Announcement) == 1


async def test_a_class_is_addressed_by_its_teachers_co_teachers_included_staff_and_admins(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    co_taught = await factory.section(north, "Biology", teachers=[north.other_teacher, north.teacher])
    alone = await factory.section(north, "Chemistry", teachers=[north.other_teacher])
    for user, klass in (
        (north.teacher, north.klass),
        (north.teacher, co_taught),
        (north.other_teacher, co_taught),
        (north.staff, alone),
        (north.admin, alone),
    ):
        announcement = await created(client(gql, factory, user), new_announcement(class_audience(klass.id)))
        assert announcement["audience"]["class"] == {"id": encode_id("Class", klass.id), "title": klass.title}

    teacher = client(gql, factory, north.teacher)
    refused = await teacher.execute(CREATE, {"input": new_announcement(class_audience(alone.id))})
    assert error_codes(refused) == ["FORBIDDEN"]
    safety = new_announcement(class_audience(north.klass.id), category="SAFETY")
    assert error_codes(await teacher.execute(CREATE, {"input": safety})) == ["FORBIDDEN"]
    assert await count(session_factory, Announcement) == 5


async def test_another_schools_class_is_answered_like_a_missing_one(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    south = await factory.school("south")
    for user in (north.teacher, north.staff):
        for class_id in (south.klass.id, 999_999):
            payload = await create(client(gql, factory, user), new_announcement(class_audience(class_id)))
            assert payload["announcement"] is None
            assert payload["userErrors"] == [
                {
                    "field": ["input", "audience", "classId"],
                    "message": "No such class, or not yours to manage.",
                    "code": "NOT_FOUND",
                }
            ]


async def test_what_is_wrong_is_answered_as_user_errors_and_nothing_is_written(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    staff = client(gql, factory, north.staff)
    cases: list[tuple[dict[str, Any], list[tuple[list[str], str]]]] = [
        (
            new_announcement(SCHOOL, title="  ", body=""),
            [(["input", "title"], "INVALID"), (["input", "body"], "INVALID")],
        ),
        (new_announcement(SCHOOL, channels=[]), [(["input", "channels"], "INVALID")]),
        (
            new_announcement({"scope": "GRADE_LEVELS", "gradeLevels": [10, 3]}),
            [(["input", "audience", "gradeLevels"], "INVALID")],
        ),
        (new_announcement({"scope": "GRADE_LEVELS"}), [(["input", "audience", "gradeLevels"], "INVALID")]),
        (
            new_announcement({"scope": "SCHOOL", "includeStudents": False}),
            [(["input", "audience"], "INVALID")],
        ),
        (
            new_announcement(SCHOOL, body="Hi {{recipient.nickname}}"),
            [(["input", "body"], "UNKNOWN_VARIABLE")],
        ),
        (
            new_announcement(SCHOOL, title="About {{class.title}}"),
            [(["input", "title"], "VARIABLE_UNAVAILABLE")],
        ),
        (
            new_announcement(SCHOOL | {"includeStaff": True}, body="For {{student.firstName}}"),
            [(["input", "body"], "VARIABLE_UNAVAILABLE")],
        ),
        (new_announcement(SCHOOL, body="Hi {{recipient.name"), [(["input", "body"], "INVALID")]),
        (new_announcement(SCHOOL, language="xx"), [(["input", "language"], "INVALID")]),
        (new_announcement(SCHOOL, title="x" * 201), [(["input", "title"], "INVALID")]),
    ]
    for input, expected in cases:
        payload = await create(staff, input)
        assert [(error["field"], error["code"]) for error in payload["userErrors"]] == expected, input
        assert payload["announcement"] is None
    grade_error = (await create(staff, cases[2][0]))["userErrors"][0]["message"]
    assert "no grade 3" in grade_error
    unknown = (await create(staff, cases[5][0]))["userErrors"][0]["message"]
    assert "recipient.nickname" in unknown
    assert await count(session_factory, Announcement) == 0
    assert await audit_actions(session_factory, "Announcement") == []

    usable = new_announcement(
        class_audience(north.klass.id, includeGuardians=True),
        title="{{class.title}} for {{student.firstName}}",
        body="Dear {{ recipient.firstName }}, {{teacher.name}} of {{school.name}} ({{author.name}}).",
    )
    assert (await create(staff, usable))["userErrors"] == []


async def test_a_template_starts_an_announcement_with_its_text(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    south = await factory.school("south")
    async with session_factory.begin() as session:
        templates = [
            MessageTemplate(
                school_id=school.school.id, name=name, category=NotificationCategory.SAFETY,
                title="Drill at {{school.name}}", body="Meet outside, {{recipient.firstName}}.",
                language="es",
                archived_at=utcnow() if name == "old" else None,
            )
            for school, name in ((north, "drill"), (north, "old"), (south, "drill"))
        ]  # fmt: skip
        session.add_all(templates)
    ours, archived, theirs = (encode_id("MessageTemplate", t.id) for t in templates)
    staff = client(gql, factory, north.staff)
    from_template = {"audience": SCHOOL, "templateId": ours, "channels": ["IN_APP"]}
    announcement = await created(staff, from_template)
    assert (announcement["title"], announcement["body"], announcement["category"]) == (
        "Drill at {{school.name}}", "Meet outside, {{recipient.firstName}}.", "SAFETY",
    )  # fmt: skip
    overridden = await created(staff, from_template | {"title": "Drill today", "category": "ANNOUNCEMENTS"})
    assert (overridden["title"], overridden["category"]) == ("Drill today", "ANNOUNCEMENTS")
    # Without the template's text, the title and body are missing too.
    for template_id, code in ((theirs, "NOT_FOUND"), (archived, "INVALID")):
        refused = await create(staff, from_template | {"templateId": template_id})
        assert [(error["field"], error["code"]) for error in refused["userErrors"]] == [
            (["input", "templateId"], code), (["input", "title"], "INVALID"), (["input", "body"], "INVALID"),
        ]  # fmt: skip
    async with session_factory() as session:
        row = await session.get_one(Announcement, decode_id_of(announcement["id"], "Announcement"))
    assert (row.template_id, row.language) == (templates[0].id, "es")


async def test_updates_change_what_is_given_bump_the_version_and_refuse_stale_versions(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    teacher = client(gql, factory, north.teacher)
    draft = await created(teacher, new_announcement(class_audience(north.klass.id)))
    changed = await update(
        teacher, draft["id"], title="Trip moved", channels=["EMAIL", "IN_APP", "EMAIL"], expectedVersion=1
    )
    assert changed["userErrors"] == []
    assert changed["announcement"] | {"updatedAt": None} == {
        "id": draft["id"], "title": "Trip moved", "body": "Bring a lunch.", "status": "DRAFT", "version": 2,
        "channels": ["IN_APP", "EMAIL"], "category": "ANNOUNCEMENTS", "attachments": [], "updatedAt": None,
    }  # fmt: skip
    stale = await update(teacher, draft["id"], title="Lost", expectedVersion=1)
    assert stale["userErrors"] == [
        {
            "field": ["input", "expectedVersion"],
            "message": "The announcement was changed meanwhile: it is at version 2 now.",
            "code": "VERSION_CONFLICT",
        }
    ]
    assert codes(await update(teacher, draft["id"], body="{{nope}}")) == ["UNKNOWN_VARIABLE"]
    widened = await teacher.execute(
        UPDATE, {"input": {"announcementId": draft["id"], "audience": {"scope": "SCHOOL"}}}
    )
    assert error_codes(widened) == ["FORBIDDEN"]

    other_teacher = client(gql, factory, north.other_teacher)
    result = await other_teacher.execute(UPDATE, {"input": {"announcementId": draft["id"], "title": "Mine"}})
    assert error_codes(result) == ["FORBIDDEN"]
    by_staff = await update(client(gql, factory, north.staff), draft["id"], audience={"scope": "SCHOOL"})
    assert by_staff["announcement"]["version"] == 3
    async with session_factory() as session:
        row = await session.get_one(Announcement, decode_id_of(draft["id"], "Announcement"))
    assert (row.title, row.scope.value, row.class_id, row.version) == ("Trip moved", "SCHOOL", None, 3)
    assert await audit_actions(session_factory, "Announcement") == [
        "announcement.created", "announcement.updated", "announcement.updated",
    ]  # fmt: skip


async def test_another_schools_announcement_is_not_found_and_sent_or_cancelled_ones_do_not_change(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    south = await factory.school("south")
    theirs = await created(client(gql, factory, south.staff), new_announcement(SCHOOL))
    staff = client(gql, factory, north.staff)
    for operation in (update, publish, cancel):
        payload = await operation(staff, theirs["id"])
        assert payload["userErrors"] == [
            {
                "field": ["input", "announcementId"],
                "message": "No such announcement, or not yours to manage.",
                "code": "NOT_FOUND",
            }
        ]
    sent = await created(staff, new_announcement(SCHOOL))
    assert (await publish(staff, sent["id"]))["userErrors"] == []
    cancelled = await created(staff, new_announcement(SCHOOL))
    assert (await cancel(staff, cancelled["id"]))["announcement"]["status"] == "CANCELLED"
    for announcement in (sent, cancelled):
        assert codes(await update(staff, announcement["id"], title="Again")) == ["FORBIDDEN_STATE"]
        assert codes(await cancel(staff, announcement["id"])) == ["FORBIDDEN_STATE"]
        assert codes(await publish(staff, announcement["id"])) == ["FORBIDDEN_STATE"]


async def test_a_scheduled_announcement_keeps_its_time_when_changed(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    teacher = client(gql, factory, north.teacher)
    draft = await created(teacher, new_announcement(class_audience(north.klass.id)))
    at = (utcnow() + timedelta(days=2)).replace(microsecond=0)
    scheduled = await publish(teacher, draft["id"], scheduledAt=at.isoformat())
    assert (scheduled["announcement"]["status"], scheduled["announcement"]["sentAt"]) == ("SCHEDULED", None)
    changed = await update(teacher, draft["id"], title="Trip is on", expectedVersion=2)
    assert (changed["announcement"]["status"], changed["announcement"]["version"]) == ("SCHEDULED", 3)
    async with session_factory() as session:
        row = await session.get_one(Announcement, decode_id_of(draft["id"], "Announcement"))
    assert (row.title, row.scheduled_at, row.status.value) == ("Trip is on", at, "SCHEDULED")


async def test_only_the_author_staff_and_admins_cancel(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    teacher = client(gql, factory, north.teacher)
    draft = await created(teacher, new_announcement(class_audience(north.klass.id)))
    at = (utcnow() + timedelta(days=2)).replace(microsecond=0)
    assert (await publish(teacher, draft["id"], scheduledAt=at.isoformat()))["userErrors"] == []
    variables = {"input": {"announcementId": draft["id"]}}
    for user in (north.other_teacher, north.student, north.guardian):
        assert error_codes(await client(gql, factory, user).execute(CANCEL, variables)) == ["FORBIDDEN"]
    cancelled = (await cancel(teacher, draft["id"]))["announcement"]
    assert cancelled["status"] == "CANCELLED"
    assert cancelled["cancelledAt"] is not None
    async with session_factory() as session:
        row = await session.get_one(Announcement, decode_id_of(draft["id"], "Announcement"))
    assert (row.scheduled_at, row.sent_at, row.recipient_count) == (at, None, None)
    assert await audit_actions(session_factory, "Announcement") == [
        "announcement.created", "announcement.scheduled", "announcement.cancelled",
    ]  # fmt: skip


async def test_files_are_checked_from_their_content_and_a_refused_one_refuses_the_write(
    http: httpx.AsyncClient,
    factory: Factory,
    north: SchoolData,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    token = factory.token(north.staff)
    input = new_announcement(SCHOOL)
    refused = await multipart(
        http, token, CREATE, input, "attachments", [("map.png", png()), ("run.exe", b"MZ\x90\x00binary")]
    )
    payload = refused["data"]["createAnnouncement"]
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["input", "attachments", "1"], "INVALID")
    ]
    assert await count(session_factory, Announcement) == 0
    assert not settings.media_dir.exists() or not any(p.is_file() for p in settings.media_dir.rglob("*"))

    made = await multipart(
        http, token, CREATE, input, "attachments", [("map.png", png()), ("notes.txt", b"Bring water.\n")]
    )
    announcement = made["data"]["createAnnouncement"]["announcement"]
    assert [(f["filename"], f["contentType"], f["size"]) for f in announcement["attachments"]] == [
        ("map.png", "image/png", len(png())),
        ("notes.txt", "text/plain; charset=utf-8", 13),
    ]
    assert all(f["url"].startswith("/media/") for f in announcement["attachments"])
    first_file = announcement["attachments"][0]["id"]

    other = await multipart(http, token, CREATE, input, "attachments", [("other.png", png())])
    foreign_file = other["data"]["createAnnouncement"]["announcement"]["attachments"][0]["id"]
    not_ours = await update(
        GraphQLClient(http, token), announcement["id"], removeAttachmentIds=[foreign_file]
    )
    assert not_ours["userErrors"] == [
        {
            "field": ["input", "removeAttachmentIds", "0"],
            "message": "No such attachment, or not yours to manage.",
            "code": "NOT_FOUND",
        }
    ]
    swapped = await multipart(
        http, token, UPDATE, {"announcementId": announcement["id"], "removeAttachmentIds": [first_file]},
        "addAttachments", [("plan.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n")],
    )  # fmt: skip
    changed = swapped["data"]["updateAnnouncement"]
    assert changed["userErrors"] == []
    assert [f["filename"] for f in changed["announcement"]["attachments"]] == ["notes.txt", "plan.pdf"]
    too_many = await multipart(
        http, token, UPDATE, {"announcementId": announcement["id"]}, "addAttachments",
        [(f"{n}.txt", b"text\n") for n in range(9)],
    )  # fmt: skip
    assert [(e["field"], e["code"]) for e in too_many["data"]["updateAnnouncement"]["userErrors"]] == [
        (["input", "addAttachments"], "INVALID")
    ]
    async with session_factory() as session:
        kept = await session.scalars(
            select(AnnouncementAttachment.filename)
            .where(AnnouncementAttachment.announcement_id == decode_id_of(announcement["id"], "Announcement"))
            .order_by(AnnouncementAttachment.id)
        )
        assert list(kept) == ["notes.txt", "plan.pdf"]
        keys = set(await session.scalars(select(AnnouncementAttachment.storage_key)))
    on_disk = {str(p.relative_to(settings.media_dir)) for p in settings.media_dir.rglob("*") if p.is_file()}
    assert on_disk == keys, "the removed file is deleted, the refused ones were never kept"
    assert len(keys) == 3
