"""Attendance as the API shows it: a class meeting's records taken by the teacher, or checked
into by the students with a short-lived code."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from models import AttendanceRecord as AttendanceRecordModel
from resolvers import attendance
from resolvers.attendance import Entry
from schema.academics import StudentSummary
from schema.base import Info, UserError, user_errors
from schema.enums import AttendanceStatus


@strawberry.type
class AttendanceRecord:
    date: date
    status: AttendanceStatus
    check_in_at: datetime | None
    check_out_at: datetime | None
    note: str | None
    student_id: strawberry.Private[int]

    @classmethod
    def from_model(cls, row: AttendanceRecordModel) -> AttendanceRecord:
        return cls(
            date=row.date,
            status=row.status,
            check_in_at=row.check_in_at,
            check_out_at=row.check_out_at,
            note=row.note,
            student_id=row.student_id,
        )

    @strawberry.field
    async def student(self, info: Info) -> StudentSummary:
        user = await info.context.loaders.user_by_id.load_existing(self.student_id)
        return StudentSummary.of(user.id, user.name)


@strawberry.input
class AttendanceEntryInput:
    student_id: strawberry.ID
    status: AttendanceStatus
    note: str | None = None


@strawberry.input
class RecordAttendanceInput:
    class_id: strawberry.ID
    date: date
    records: list[AttendanceEntryInput]


@strawberry.type
class RecordAttendancePayload:
    records: list[AttendanceRecord]
    user_errors: list[UserError]


@strawberry.input
class CreateAttendanceCodeInput:
    class_id: strawberry.ID
    valid_for_seconds: int | None = strawberry.field(default=None, description="10 to 900; 120 by default.")


@strawberry.type
class CreateAttendanceCodePayload:
    code: str | None
    qr_png_data_url: str | None = strawberry.field(description="The code as a QR image: a PNG data URL.")
    expires_at: datetime | None
    user_errors: list[UserError]


@strawberry.input
class CheckInInput:
    code: str


@strawberry.type
class CheckInPayload:
    record: AttendanceRecord | None
    user_errors: list[UserError]


@strawberry.type
class AttendanceMutations:
    @strawberry.mutation(
        description="A class meeting's attendance, all entries or none (NOT_ENROLLED, INVALID by entry)."
    )
    async def record_attendance(self, info: Info, input: RecordAttendanceInput) -> RecordAttendancePayload:
        records, problems = await attendance.record_attendance(
            info.context,
            str(input.class_id),
            input.date,
            [Entry(str(entry.student_id), entry.status, entry.note) for entry in input.records],
        )
        return RecordAttendancePayload(
            records=[AttendanceRecord.from_model(row) for row in records], user_errors=user_errors(problems)
        )

    @strawberry.mutation(
        description="A signed, short-lived code (and QR image) for students to check in with."
    )
    async def create_attendance_code(
        self, info: Info, input: CreateAttendanceCodeInput
    ) -> CreateAttendanceCodePayload:
        result = await attendance.create_code(info.context, str(input.class_id), input.valid_for_seconds)
        if not isinstance(result, attendance.AttendanceCode):
            return CreateAttendanceCodePayload(
                code=None, qr_png_data_url=None, expires_at=None, user_errors=user_errors([result])
            )
        return CreateAttendanceCodePayload(
            code=result.code,
            qr_png_data_url=result.qr_png_data_url,
            expires_at=result.expires_at,
            user_errors=[],
        )

    @strawberry.mutation(
        description="A student checks in with a code: PRESENT, or LATE after 10 minutes "
        "(INVALID_CODE, EXPIRED_CODE, NOT_ENROLLED)."
    )
    async def check_in(self, info: Info, input: CheckInInput) -> CheckInPayload:
        result = await attendance.check_in(info.context, input.code)
        if not isinstance(result, AttendanceRecordModel):
            return CheckInPayload(record=None, user_errors=user_errors([result]))
        return CheckInPayload(record=AttendanceRecord.from_model(result), user_errors=[])
