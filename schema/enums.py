"""The domain enums, registered as GraphQL enums (Strawberry marks the classes in place),
and the enums that exist only in the API."""

from __future__ import annotations

import enum

import strawberry

from auth.identity import SignInMethod
from models.enums import (
    AnnouncementScope,
    AnnouncementStatus,
    AssignmentCategory,
    AttendanceStatus,
    AwardStatus,
    CommunicationChannel,
    DeliveryStatus,
    EnrollmentStatus,
    EntryKind,
    GradeStatus,
    HouseholdIncomeBand,
    InvitationStatus,
    InvoiceStatus,
    NotificationCategory,
    PaymentMethod,
    ReminderTrigger,
    RiskLevel,
    Role,
    RosterImportStatus,
    ScholarshipKind,
    SessionStatus,
    SkipReason,
    SsoProviderKind,
    StudentStatus,
    TermStatus,
    Tier,
    UserStatus,
)

for domain_enum in (
    AnnouncementScope,
    AnnouncementStatus,
    AssignmentCategory,
    AttendanceStatus,
    AwardStatus,
    CommunicationChannel,
    DeliveryStatus,
    EnrollmentStatus,
    EntryKind,
    GradeStatus,
    HouseholdIncomeBand,
    InvitationStatus,
    InvoiceStatus,
    NotificationCategory,
    PaymentMethod,
    ReminderTrigger,
    RiskLevel,
    Role,
    RosterImportStatus,
    ScholarshipKind,
    SessionStatus,
    SkipReason,
    SsoProviderKind,
    StudentStatus,
    TermStatus,
    Tier,
    UserStatus,
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


@strawberry.enum(description="A meeting's day; stored as 0 (Monday) to 6 (Sunday).")
class Weekday(enum.Enum):
    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"


WEEKDAYS = list(Weekday)  # index = the stored weekday number


@strawberry.enum
class ClassOrderField(enum.Enum):
    TITLE = "TITLE"
    COURSE_CODE = "COURSE_CODE"
    TERM_START = "TERM_START"


@strawberry.enum
class CourseOrderField(enum.Enum):
    CODE = "CODE"
    TITLE = "TITLE"


@strawberry.enum
class UserOrderField(enum.Enum):
    NAME = "NAME"
    EMAIL = "EMAIL"
    JOINED_AT = "JOINED_AT"


@strawberry.enum(description="What a calendar event is (LESSON_PLAN: none yet, lesson plans come later).")
class CalendarEventKind(enum.Enum):
    CLASS_MEETING = "CLASS_MEETING"
    TUTORING_SESSION = "TUTORING_SESSION"
    ASSIGNMENT_DUE = "ASSIGNMENT_DUE"
    LESSON_PLAN = "LESSON_PLAN"


strawberry.enum(SignInMethod, description="How a session began.")


__all__ = [
    "WEEKDAYS",
    "AcademicStanding",
    "AssignmentCategory",
    "AttendanceStatus",
    "BulkStudentActionKind",
    "CalendarEventKind",
    "ClassOrderField",
    "CourseOrderField",
    "EnrollmentStatus",
    "GradeStatus",
    "InvitationStatus",
    "OrderDirection",
    "RiskLevel",
    "Role",
    "RosterImportStatus",
    "SessionStatus",
    "SignInMethod",
    "StudentOrderField",
    "StudentStatus",
    "TermStatus",
    "Tier",
    "TimelineKind",
    "UserOrderField",
    "UserStatus",
    "Weekday",
]


@strawberry.enum(description="Whether a recipient has read their copy in the app.")
class ReceiptStatus(enum.Enum):
    READ = "READ"
    UNREAD = "UNREAD"
