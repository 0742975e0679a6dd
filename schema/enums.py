"""The domain enums, registered as GraphQL enums (Strawberry marks the classes in place),
and the enums that exist only in the API."""

from __future__ import annotations

import enum

import strawberry

from models.enums import (
    AssignmentCategory,
    AttendanceStatus,
    RiskLevel,
    Role,
    SessionStatus,
    StudentStatus,
    Tier,
)

for domain_enum in (
    AssignmentCategory,
    AttendanceStatus,
    RiskLevel,
    Role,
    SessionStatus,
    StudentStatus,
    Tier,
):
    strawberry.enum(domain_enum)


@strawberry.enum
class OrderDirection(enum.Enum):
    ASC = "ASC"
    DESC = "DESC"


@strawberry.enum
class StudentOrderField(enum.Enum):
    NAME = "NAME"
    STUDENT_NUMBER = "STUDENT_NUMBER"
    RISK_SCORE = "RISK_SCORE"


@strawberry.enum
class TimelineKind(enum.Enum):
    GRADE = "GRADE"
    ATTENDANCE = "ATTENDANCE"
    SESSION = "SESSION"
    ASSESSMENT = "ASSESSMENT"
    MESSAGE = "MESSAGE"


@strawberry.enum
class BulkStudentActionKind(enum.Enum):
    SEND_NOTIFICATION = "SEND_NOTIFICATION"
    UPDATE_STATUS = "UPDATE_STATUS"


@strawberry.enum(description="Academic standing from the cumulative GPA: 2.0 and up is good standing.")
class AcademicStanding(enum.Enum):
    GOOD_STANDING = "GOOD_STANDING"
    ACADEMIC_WARNING = "ACADEMIC_WARNING"
    ACADEMIC_PROBATION = "ACADEMIC_PROBATION"
    NO_RECORD = "NO_RECORD"


__all__ = [
    "AcademicStanding",
    "AssignmentCategory",
    "AttendanceStatus",
    "BulkStudentActionKind",
    "OrderDirection",
    "RiskLevel",
    "Role",
    "SessionStatus",
    "StudentOrderField",
    "StudentStatus",
    "Tier",
    "TimelineKind",
]
