"""Domain enumerations, shared by the models and (wrapped) by the GraphQL schema."""

from __future__ import annotations

import enum


class Role(enum.Enum):
    STUDENT = "STUDENT"
    TEACHER = "TEACHER"
    STAFF = "STAFF"
    ADMIN = "ADMIN"
    MENTOR = "MENTOR"
    GUARDIAN = "GUARDIAN"


class Tier(enum.Enum):
    FREE = "FREE"
    PREMIUM = "PREMIUM"


class StudentStatus(enum.Enum):
    ENROLLED = "ENROLLED"
    ON_LEAVE = "ON_LEAVE"
    GRADUATED = "GRADUATED"
    WITHDRAWN = "WITHDRAWN"


class AssignmentCategory(enum.Enum):
    HOMEWORK = "HOMEWORK"
    QUIZ = "QUIZ"
    EXAM = "EXAM"
    PROJECT = "PROJECT"
    PARTICIPATION = "PARTICIPATION"


class AttendanceStatus(enum.Enum):
    PRESENT = "PRESENT"
    LATE = "LATE"
    ABSENT = "ABSENT"
    EXCUSED = "EXCUSED"


class SessionStatus(enum.Enum):
    SCHEDULED = "SCHEDULED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    NO_SHOW = "NO_SHOW"


class EnrollmentStatus(enum.Enum):
    ACTIVE = "ACTIVE"
    DROPPED = "DROPPED"
    COMPLETED = "COMPLETED"


class AiMessageRole(enum.Enum):
    USER = "USER"
    ASSISTANT = "ASSISTANT"


class RiskLevel(enum.Enum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class TermStatus(enum.Enum):
    OPEN = "OPEN"
    CLOSED = "CLOSED"


class GradeStatus(enum.Enum):
    """A grade cell's status: MISSING counts as zero, EXCUSED is left out of the final grade,
    LATE takes off its `late_penalty` (percent of the score)."""

    NONE = "NONE"
    LATE = "LATE"
    MISSING = "MISSING"
    EXCUSED = "EXCUSED"


class UserStatus(enum.Enum):
    """INVITED: made by the school, no password yet; DEACTIVATED: cannot sign in."""

    INVITED = "INVITED"
    ACTIVE = "ACTIVE"
    DEACTIVATED = "DEACTIVATED"


class InvitationStatus(enum.Enum):
    """Derived from an invitation's timestamps, never stored."""

    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"


class RosterImportStatus(enum.Enum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    COMPLETED_WITH_ERRORS = "COMPLETED_WITH_ERRORS"
    FAILED = "FAILED"


class CommunicationChannel(enum.Enum):
    IN_APP = "IN_APP"
    EMAIL = "EMAIL"
    SMS = "SMS"


class NotificationCategory(enum.Enum):
    """What a message is about; each user switches channels on or off per category (SAFETY's
    in-app copy cannot be turned off, and SAFETY never waits for quiet hours)."""

    GRADES = "GRADES"
    ATTENDANCE = "ATTENDANCE"
    ANNOUNCEMENTS = "ANNOUNCEMENTS"
    MESSAGES = "MESSAGES"
    FINANCE = "FINANCE"
    SAFETY = "SAFETY"


class AnnouncementScope(enum.Enum):
    SCHOOL = "SCHOOL"
    GRADE_LEVELS = "GRADE_LEVELS"
    CLASS = "CLASS"


class AnnouncementStatus(enum.Enum):
    DRAFT = "DRAFT"
    SCHEDULED = "SCHEDULED"
    SENT = "SENT"
    CANCELLED = "CANCELLED"


class DeliveryStatus(enum.Enum):
    QUEUED = "QUEUED"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    BOUNCED = "BOUNCED"
    SKIPPED = "SKIPPED"


class SkipReason(enum.Enum):
    """Why a delivery was not attempted."""

    PREFERENCE_OFF = "PREFERENCE_OFF"
    NO_ADDRESS = "NO_ADDRESS"


class SsoProviderKind(enum.Enum):
    MICROSOFT = "MICROSOFT"
    GOOGLE = "GOOGLE"
    OIDC = "OIDC"


class LedgerAccount(enum.Enum):
    """The accounts of a student's double-entry ledger. RECEIVABLE is what the student owes (a
    debit, positive, adds to it); the others are the school's side of each transaction."""

    RECEIVABLE = "RECEIVABLE"
    REVENUE = "REVENUE"
    CASH = "CASH"
    SCHOLARSHIP = "SCHOLARSHIP"


class EntryKind(enum.Enum):
    CHARGE = "CHARGE"
    PAYMENT = "PAYMENT"
    REFUND = "REFUND"
    VOID = "VOID"
    AWARD = "AWARD"
    AWARD_REVOKED = "AWARD_REVOKED"


class PaymentMethod(enum.Enum):
    CASH = "CASH"
    CARD = "CARD"
    BANK_TRANSFER = "BANK_TRANSFER"
    CHECK = "CHECK"


class InvoiceStatus(enum.Enum):
    DRAFT = "DRAFT"
    ISSUED = "ISSUED"
    PARTIALLY_PAID = "PARTIALLY_PAID"
    PAID = "PAID"
    VOID = "VOID"


class ReminderTrigger(enum.Enum):
    BEFORE_DUE = "BEFORE_DUE"
    OVERDUE = "OVERDUE"


class HouseholdIncomeBand(enum.Enum):
    """Ordered from lowest to highest: a scholarship's maximum band admits the bands up to it."""

    LOW = "LOW"
    LOWER_MIDDLE = "LOWER_MIDDLE"
    MIDDLE = "MIDDLE"
    UPPER_MIDDLE = "UPPER_MIDDLE"
    HIGH = "HIGH"


class ScholarshipKind(enum.Enum):
    FIXED = "FIXED"
    PERCENTAGE = "PERCENTAGE"


class AwardStatus(enum.Enum):
    ACTIVE = "ACTIVE"
    REVOKED = "REVOKED"
