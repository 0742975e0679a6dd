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
