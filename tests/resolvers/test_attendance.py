"""Attendance through the contract's operations: recorded by the teacher, or checked into with a
signed code; forged, expired, foreign codes and strangers refused."""

from __future__ import annotations

import base64
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from models import AttendanceRecord, MeetingTime, School, StudentRisk
from resolvers.attendance import CODE_SALT
from resolvers.ids import encode_id
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData

RECORD = contract_operation("RecordAttendance")
CODE = contract_operation("CreateAttendanceCode")
CHECK_IN = contract_operation("CheckIn")


@pytest.fixture
async def north(factory: Factory, session_factory: async_sessionmaker[AsyncSession]) -> SchoolData:
    """A school whose local time is around noon now, so meetings "this morning" are today."""
    school = await factory.school("north")
    offset = 12 - datetime.now(UTC).hour
    zone = "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"
    async with session_factory.begin() as session:
        await session.execute(update(School).where(School.id == school.school.id).values(timezone=zone))
    school.school.timezone = zone
    return school


def today(school: SchoolData) -> date:
    return datetime.now(ZoneInfo(school.school.timezone)).date()


def student_id(user: Any) -> str:
    return encode_id("Student", user.id)


async def record(client: GraphQLClient, school: SchoolData, entries: list[dict[str, Any]]) -> dict[str, Any]:
    variables = {
        "input": {
            "classId": encode_id("Class", school.klass.id),
            "date": today(school).isoformat(),
            "records": entries,
        }
    }
    payload: dict[str, Any] = (await client.data(RECORD, variables))["recordAttendance"]
    return payload


async def new_code(client: GraphQLClient, school: SchoolData, **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = (
        await client.data(CODE, {"input": {"classId": encode_id("Class", school.klass.id)} | fields})
    )["createAttendanceCode"]
    return payload


async def check_in(client: GraphQLClient, code: str) -> dict[str, Any]:
    payload: dict[str, Any] = (await client.data(CHECK_IN, {"input": {"code": code}}))["checkIn"]
    return payload


async def add_meeting(
    session_factory: async_sessionmaker[AsyncSession], school: SchoolData, ago: timedelta
) -> None:
    local = datetime.now(ZoneInfo(school.school.timezone)) - ago
    async with session_factory.begin() as session:
        session.add(
            MeetingTime(
                class_id=school.klass.id,
                weekday=local.weekday(),
                starts_at=local.time().replace(microsecond=0),
                ends_at=(local + timedelta(minutes=50)).time().replace(microsecond=0),
            )
        )


async def test_the_teacher_records_and_corrects_attendance(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    teacher = gql.as_user(factory.token(north.teacher))
    first = await record(teacher, north, [{"studentId": student_id(north.student), "status": "ABSENT"}])
    assert first["userErrors"] == []
    assert first["records"] == [
        {
            "student": {"id": student_id(north.student)},
            "status": "ABSENT",
            "checkInAt": None,
            "checkOutAt": None,
        }
    ]
    async with session_factory() as session:
        risk_after_first = await session.scalar(
            select(StudentRisk.factors).where(StudentRisk.student_id == north.student.id)
        )
    assert any("1 class meetings" in f["detail"] for f in risk_after_first or []), "risk refreshed at once"
    corrected = await record(
        gql.as_user(factory.token(north.admin)),
        north,
        [{"studentId": student_id(north.student), "status": "EXCUSED", "note": "Doctor"}],
    )
    assert corrected["records"][0]["status"] == "EXCUSED"
    async with session_factory() as session:
        rows = (await session.execute(select(AttendanceRecord.status, AttendanceRecord.note))).all()
    assert [(status.value, note) for status, note in rows] == [("EXCUSED", "Doctor")]


async def test_an_entry_for_a_student_outside_the_class_writes_nothing(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    south = await factory.school("south")
    teacher = gql.as_user(factory.token(north.teacher))
    refused = await record(
        teacher,
        north,
        [
            {"studentId": student_id(north.student), "status": "PRESENT"},
            {"studentId": student_id(north.other_student), "status": "PRESENT"},
            {"studentId": student_id(south.student), "status": "LATE"},
            {"studentId": student_id(north.student), "status": "LATE"},
        ],
    )
    assert refused["records"] == []
    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [
        ("INVALID", ["input", "records", "3", "studentId"])
    ]
    refused = await record(
        teacher,
        north,
        [
            {"studentId": student_id(north.student), "status": "PRESENT"},
            {"studentId": student_id(north.other_student), "status": "PRESENT"},
            {"studentId": student_id(south.student), "status": "LATE"},
        ],
    )
    assert [(e["code"], e["field"][2]) for e in refused["userErrors"]] == [
        ("NOT_ENROLLED", "1"),
        ("NOT_ENROLLED", "2"),
    ]
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(AttendanceRecord)) == 0
    future = (
        await teacher.data(
            RECORD,
            {
                "input": {
                    "classId": encode_id("Class", north.klass.id),
                    "date": (today(north) + timedelta(days=1)).isoformat(),
                    "records": [],
                }
            },
        )
    )["recordAttendance"]
    assert future["userErrors"][0]["field"] == ["input", "date"]


async def test_only_the_class_teachers_and_admins_take_attendance(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    south = await factory.school("south")
    entries = [{"studentId": student_id(north.student), "status": "PRESENT"}]
    variables = {
        "input": {
            "classId": encode_id("Class", north.klass.id),
            "date": today(north).isoformat(),
            "records": entries,
        }
    }
    for user in (north.other_teacher, north.staff, north.student, south.admin, south.teacher):
        client = gql.as_user(factory.token(user))
        assert (await client.execute(RECORD, variables))["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        code = await client.execute(CODE, {"input": {"classId": encode_id("Class", north.klass.id)}})
        assert code["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_code_is_signed_short_lived_and_drawn_as_a_qr_png(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    teacher = gql.as_user(factory.token(north.teacher))
    created = await new_code(teacher, north)
    assert created["userErrors"] == []
    expires = datetime.fromisoformat(created["expiresAt"])
    assert timedelta(seconds=115) < expires - datetime.now(UTC) <= timedelta(seconds=120)
    prefix = "data:image/png;base64,"
    assert created["qrPngDataUrl"].startswith(prefix)
    assert base64.b64decode(created["qrPngDataUrl"].removeprefix(prefix)).startswith(b"\x89PNG\r\n\x1a\n")
    for seconds in (5, 901):
        refused = await new_code(teacher, north, validForSeconds=seconds)
        assert (refused["code"], refused["userErrors"][0]["field"]) == (None, ["input", "validForSeconds"])


async def test_a_student_checks_in_present_then_a_second_scan_changes_nothing(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await add_meeting(session_factory, north, timedelta(minutes=3))
    code = (await new_code(gql.as_user(factory.token(north.teacher)), north))["code"]
    student = gql.as_user(factory.token(north.student))
    first = await check_in(student, code)
    assert first["userErrors"] == []
    assert first["record"]["status"] == "PRESENT"
    await add_meeting(session_factory, north, timedelta(minutes=40))  # now it would be late
    assert await check_in(student, code) == first


async def test_late_after_the_grace_period_and_over_an_absence(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await add_meeting(session_factory, north, timedelta(minutes=25))
    teacher = gql.as_user(factory.token(north.teacher))
    await record(teacher, north, [{"studentId": student_id(north.student), "status": "ABSENT"}])
    late = await check_in(gql.as_user(factory.token(north.student)), (await new_code(teacher, north))["code"])
    assert late["record"]["status"] == "LATE"
    assert datetime.fromisoformat(late["record"]["checkInAt"]) > datetime.now(UTC) - timedelta(minutes=1)


async def test_forged_expired_foreign_and_other_class_codes_are_refused(
    gql: GraphQLClient, factory: Factory, north: SchoolData, settings: Settings
) -> None:
    south = await factory.school("south")
    code = (await new_code(gql.as_user(factory.token(north.teacher)), north))["code"]
    student = gql.as_user(factory.token(north.student))
    forged = code[:-2] + ("AA" if not code.endswith("AA") else "BB")
    signer = URLSafeSerializer(settings.secret_key, salt=CODE_SALT)
    now = int(time.time())
    claims = {
        "c": north.klass.id,
        "s": north.school.id,
        "d": today(north).isoformat(),
        "i": now - 300,
        "e": now - 60,
    }
    wrong_key = URLSafeSerializer("another-secret-of-at-least-32-characters", salt=CODE_SALT)
    for bad, expected in [
        (forged, "INVALID_CODE"),
        ("not a code", "INVALID_CODE"),
        (wrong_key.dumps(claims | {"e": now + 60}), "INVALID_CODE"),
        (signer.dumps(claims), "EXPIRED_CODE"),
        (signer.dumps({"c": north.klass.id}), "INVALID_CODE"),
    ]:
        refused = await check_in(student, bad)
        assert (refused["record"], refused["userErrors"][0]["code"]) == (None, expected), bad
    foreign = (await new_code(gql.as_user(factory.token(south.teacher)), south))["code"]
    assert (await check_in(student, foreign))["userErrors"][0]["code"] == "INVALID_CODE"
    stranger = gql.as_user(factory.token(north.other_student))
    assert (await check_in(stranger, code))["userErrors"][0]["code"] == "NOT_ENROLLED"
    teacher = await gql.as_user(factory.token(north.teacher)).execute(CHECK_IN, {"input": {"code": code}})
    assert teacher["errors"][0]["extensions"]["code"] == "FORBIDDEN"
