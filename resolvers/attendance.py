"""Attendance at class meetings: a teacher records many students at once, or shows a short-lived
signed code (and its QR image) that each student scans to check in.

A code is signed with the app's secret and names the class, its school, the meeting date (in
the school's timezone), when it was issued and when it expires; nothing is stored. A student
who checks in with it is PRESENT, or LATE when they come more than GRACE after the start of
the class's meeting that day (the latest one that started before they came, else the day's
first), or, on a day without a scheduled meeting, more than GRACE after the code was issued.
A second check-in changes nothing: the first one stands. A check-in over an ABSENT or EXCUSED
record (marked before the student arrived) replaces it.
"""

from __future__ import annotations

import asyncio
import base64
import io
import math
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import qrcode
from itsdangerous import BadSignature, URLSafeSerializer
from qrcode.image.pil import PilImage
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from errors import BadInput, Forbidden, Problem, ProblemError
from models import AttendanceRecord, Enrollment, MeetingTime, School
from models.base import utcnow
from models.enums import AttendanceStatus, EnrollmentStatus, Role
from models.upsert import upsert_insert
from resolvers import audit
from resolvers.after_commit import teacher_dashboards_changed
from resolvers.analytics import refresh_student_risk
from resolvers.ids import decode_id_of
from resolvers.policy import require_class_teacher, require_user

if TYPE_CHECKING:
    from context import Context

MAX_ENTRIES = 500
MAX_NOTE_LENGTH = 500
CODE_SALT = "campusgraph-attendance-code"
DEFAULT_VALID_SECONDS, MIN_VALID_SECONDS, MAX_VALID_SECONDS = 120, 10, 900
GRACE = timedelta(minutes=10)
ATTENDED = (AttendanceStatus.PRESENT, AttendanceStatus.LATE)
KEY = ("class_id", "student_id", "date")


@dataclass
class Entry:
    student_id: str
    status: AttendanceStatus
    note: str | None


async def record_attendance(
    ctx: Context, class_global_id: str, day: date, entries: list[Entry]
) -> tuple[list[AttendanceRecord], list[Problem]]:
    """All the entries or none (each problem names its entry's index), in one transaction."""
    class_id = decode_id_of(class_global_id, "Class")
    klass = await ctx.loaders.class_by_id.load(class_id)
    await require_class_teacher(ctx, class_id, klass.school_id if klass else None)
    assert klass is not None
    school = await ctx.loaders.school_by_id.load_existing(klass.school_id)
    if len(entries) > MAX_ENTRIES:
        return [], [Problem(f"At most {MAX_ENTRIES} students at once.", "INVALID", ("input", "records"))]
    if day > utcnow().astimezone(ZoneInfo(school.timezone)).date():
        return [], [Problem("Attendance is not taken ahead of the day.", "INVALID", ("input", "date"))]
    students, problems = _entry_students(entries)
    if problems:
        return [], problems
    user = require_user(ctx)
    now = utcnow()
    try:
        async with ctx.writer.begin() as session:
            enrolled = set(
                (
                    await session.scalars(
                        select(Enrollment.student_id).where(
                            Enrollment.class_id == class_id,
                            Enrollment.student_id.in_(students),
                            Enrollment.status == EnrollmentStatus.ACTIVE,
                        )
                    )
                ).all()
            )
            missing = [
                Problem("This student is not in the class.", "NOT_ENROLLED", _entry_field(index, "studentId"))
                for index, student_id in enumerate(students)
                if student_id not in enrolled
            ]
            if missing:
                raise ProblemError(*missing)
            rows = [
                {
                    "class_id": class_id, "student_id": student_id, "date": day, "status": entry.status,
                    "note": entry.note, "recorded_by_id": user.id, "recorded_at": now,
                }
                for student_id, entry in zip(students, entries, strict=True)
            ]  # fmt: skip
            if rows:
                insert = upsert_insert(session, AttendanceRecord)
                await session.execute(
                    insert.on_conflict_do_update(
                        index_elements=KEY,
                        set_={
                            name: insert.excluded[name]
                            for name in ("status", "note", "recorded_by_id", "recorded_at")
                        },
                    ),
                    rows,
                )
            records = await _records(session, class_id, students, day)
            await refresh_student_risk(session, students, now)
            await audit.record_many(
                session,
                ctx,
                "attendance.recorded",
                "Student",
                students,
                classId=class_id,
                date=day.isoformat(),
            )
    except ProblemError as refused:
        return [], refused.problems
    await teacher_dashboards_changed(ctx.app, class_ids=[class_id], student_ids=students)
    return records, []


def _entry_students(entries: list[Entry]) -> tuple[list[int], list[Problem]]:
    students: list[int] = []
    problems: list[Problem] = []
    for index, entry in enumerate(entries):
        try:
            student_id = decode_id_of(entry.student_id, "Student")
        except BadInput:
            problems.append(Problem("Not a student id.", "INVALID", _entry_field(index, "studentId")))
            continue
        if student_id in students:
            problems.append(
                Problem("This student is listed twice.", "INVALID", _entry_field(index, "studentId"))
            )
        if entry.note and len(entry.note) > MAX_NOTE_LENGTH:
            message = f"A note is limited to {MAX_NOTE_LENGTH} characters."
            problems.append(Problem(message, "INVALID", _entry_field(index, "note")))
        students.append(student_id)
    return students, problems


def _entry_field(index: int, name: str) -> tuple[str, ...]:
    return ("input", "records", str(index), name)


async def _records(
    session: AsyncSession, class_id: int, students: list[int], day: date
) -> list[AttendanceRecord]:
    found = {
        record.student_id: record
        for record in (
            await session.scalars(
                select(AttendanceRecord)
                .where(
                    AttendanceRecord.class_id == class_id,
                    AttendanceRecord.student_id.in_(students),
                    AttendanceRecord.date == day,
                )
                # The rows were just written by SQL: reload objects this session may already hold.
                .execution_options(populate_existing=True)
            )
        ).all()
    }
    return [found[student_id] for student_id in students]


@dataclass(frozen=True)
class AttendanceCode:
    code: str
    qr_png_data_url: str
    expires_at: datetime


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=CODE_SALT)


async def create_code(ctx: Context, class_global_id: str, valid_for: int | None) -> AttendanceCode | Problem:
    class_id = decode_id_of(class_global_id, "Class")
    klass = await ctx.loaders.class_by_id.load(class_id)
    await require_class_teacher(ctx, class_id, klass.school_id if klass else None)
    assert klass is not None
    seconds = DEFAULT_VALID_SECONDS if valid_for is None else valid_for
    if not MIN_VALID_SECONDS <= seconds <= MAX_VALID_SECONDS:
        message = f"A code is valid for {MIN_VALID_SECONDS} to {MAX_VALID_SECONDS} seconds."
        return Problem(message, "INVALID", ("input", "validForSeconds"))
    school = await ctx.loaders.school_by_id.load_existing(klass.school_id)
    issued = math.floor(time.time())
    meeting_day = datetime.fromtimestamp(issued, ZoneInfo(school.timezone)).date()
    claims = {
        "c": class_id,
        "s": klass.school_id,
        "d": meeting_day.isoformat(),
        "i": issued,
        "e": issued + seconds,
    }
    code = _serializer(ctx.settings.secret_key).dumps(claims)
    image = await asyncio.to_thread(qr_png, code)
    return AttendanceCode(
        code=code,
        qr_png_data_url="data:image/png;base64," + base64.b64encode(image).decode(),
        expires_at=datetime.fromtimestamp(issued + seconds, UTC),
    )


def qr_png(text: str) -> bytes:
    """The QR code of `text` as a PNG (blocking: a few milliseconds of CPU)."""
    buffer = io.BytesIO()
    qrcode.make(text, image_factory=PilImage, box_size=8, border=4).save(buffer)
    return buffer.getvalue()


@dataclass(frozen=True)
class CodeClaims:
    class_id: int
    school_id: int
    day: date
    issued: int
    expires: int


def _claims(secret: str, code: str) -> CodeClaims | None:
    try:
        raw = _serializer(secret).loads(code)
        return CodeClaims(
            class_id=int(raw["c"]),
            school_id=int(raw["s"]),
            day=date.fromisoformat(raw["d"]),
            issued=int(raw["i"]),
            expires=int(raw["e"]),
        )
    except (BadSignature, KeyError, TypeError, ValueError):
        return None


async def check_in(ctx: Context, code: str) -> AttendanceRecord | Problem:
    """A student of the code's class checks in; see the module docstring for PRESENT or LATE."""
    user = require_user(ctx)
    if user.role != Role.STUDENT:
        raise Forbidden("Only students check in.")
    claims = _claims(ctx.settings.secret_key, code) if len(code) <= 1000 else None
    # Another school's code is refused like a forged one: nothing about it is revealed.
    if claims is None or claims.school_id != user.school_id:
        return Problem("This is not a valid attendance code.", "INVALID_CODE", ("input", "code"))
    now = utcnow()
    if now.timestamp() > claims.expires:
        return Problem("This code has expired; scan the current one.", "EXPIRED_CODE", ("input", "code"))
    async with ctx.writer.begin() as session:
        enrolled = await session.scalar(
            select(Enrollment.id).where(
                Enrollment.class_id == claims.class_id,
                Enrollment.student_id == user.id,
                Enrollment.status == EnrollmentStatus.ACTIVE,
            )
        )
        if enrolled is None:
            return Problem("You are not in this class.", "NOT_ENROLLED", ("input", "code"))
        existing = await session.scalar(
            select(AttendanceRecord).where(
                AttendanceRecord.class_id == claims.class_id,
                AttendanceRecord.student_id == user.id,
                AttendanceRecord.date == claims.day,
            )
        )
        if existing is not None and existing.status in ATTENDED:
            return existing
        status = await _arrival_status(session, claims, now)
        insert = upsert_insert(session, AttendanceRecord)
        await session.execute(
            insert.values(
                class_id=claims.class_id, student_id=user.id, date=claims.day, status=status,
                check_in_at=now, recorded_by_id=user.id, recorded_at=now,
            ).on_conflict_do_update(
                index_elements=KEY,
                set_={"status": status, "check_in_at": now, "recorded_by_id": user.id, "recorded_at": now},
                where=AttendanceRecord.status.not_in(ATTENDED),
            )
        )  # fmt: skip
        [record] = await _records(session, claims.class_id, [user.id], claims.day)
        await refresh_student_risk(session, [user.id], now)
        detail = {"classId": claims.class_id, "date": claims.day.isoformat(), "status": record.status.value}
        audit.record(session, ctx, "attendance.checked_in", "Student", user.id, detail=detail)
    await teacher_dashboards_changed(ctx.app, class_ids=[claims.class_id], student_ids=[user.id])
    return record


async def _arrival_status(session: AsyncSession, claims: CodeClaims, now: datetime) -> AttendanceStatus:
    timezone = await session.scalar(select(School.timezone).where(School.id == claims.school_id))
    zone = ZoneInfo(timezone or "UTC")
    starts = sorted(
        datetime.combine(claims.day, meeting.starts_at, tzinfo=zone)
        for meeting in (
            await session.scalars(
                select(MeetingTime).where(
                    MeetingTime.class_id == claims.class_id, MeetingTime.weekday == claims.day.weekday()
                )
            )
        ).all()
    )
    started = [moment for moment in starts if moment <= now]
    reference = (
        started[-1] if started else starts[0] if starts else datetime.fromtimestamp(claims.issued, UTC)
    )
    return AttendanceStatus.LATE if now > reference + GRACE else AttendanceStatus.PRESENT
