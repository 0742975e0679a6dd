"""SQLAlchemy models, one module per domain. Importing this package registers every table."""

from models.academics import (
    Class,
    ClassTeacher,
    Course,
    CoursePrerequisite,
    Enrollment,
    EnrollmentChange,
    MeetingTime,
)
from models.ai import AiChat, AiMessage, GeneratedImage
from models.analytics import StudentRisk
from models.attendance import AttendanceRecord
from models.auth import AuditEntry, PasswordReset, RefreshToken
from models.base import Base
from models.billing import Fee, FeeInstallment, FinanceCounter, Invoice, InvoiceLine
from models.calendars import CalendarFeed
from models.chat import Attachment, Conversation, ConversationParticipant, Message
from models.communications import (
    Announcement,
    AnnouncementAttachment,
    Communication,
    Delivery,
    MessageTemplate,
)
from models.dashboards import DashboardAction
from models.grading import Assignment, CategoryWeight, FinalGrade, Grade, GradeChange
from models.ledger import Allocation, LedgerEntry, Payment, Refund
from models.notifications import Notification, NotificationOutbox
from models.preferences import NotificationSettings, NotificationSwitch
from models.progress import Assessment
from models.reminders import PaymentReminder, PaymentReminderRule
from models.roster_imports import RosterImport, RosterImportProblem
from models.scholarships import FinancialAidProfile, Scholarship, ScholarshipAward
from models.schools import GradingPeriod, School, Term
from models.sso import SsoProvider
from models.tutoring import TutoringSession
from models.users import (
    EmergencyContact,
    GuardianLink,
    Invitation,
    MentorLink,
    StudentProfile,
    TeacherProfile,
    User,
)

__all__ = [
    "AiChat",
    "AiMessage",
    "Allocation",
    "Announcement",
    "AnnouncementAttachment",
    "Assessment",
    "Assignment",
    "Attachment",
    "AttendanceRecord",
    "AuditEntry",
    "Base",
    "CalendarFeed",
    "CategoryWeight",
    "Class",
    "ClassTeacher",
    "Communication",
    "Conversation",
    "ConversationParticipant",
    "Course",
    "CoursePrerequisite",
    "DashboardAction",
    "Delivery",
    "EmergencyContact",
    "Enrollment",
    "EnrollmentChange",
    "Fee",
    "FeeInstallment",
    "FinalGrade",
    "FinanceCounter",
    "FinancialAidProfile",
    "GeneratedImage",
    "Grade",
    "GradeChange",
    "GradingPeriod",
    "GuardianLink",
    "Invitation",
    "Invoice",
    "InvoiceLine",
    "LedgerEntry",
    "MeetingTime",
    "MentorLink",
    "Message",
    "MessageTemplate",
    "Notification",
    "NotificationOutbox",
    "NotificationSettings",
    "NotificationSwitch",
    "PasswordReset",
    "Payment",
    "PaymentReminder",
    "PaymentReminderRule",
    "RefreshToken",
    "Refund",
    "RosterImport",
    "RosterImportProblem",
    "Scholarship",
    "ScholarshipAward",
    "School",
    "SsoProvider",
    "StudentProfile",
    "StudentRisk",
    "TeacherProfile",
    "Term",
    "TutoringSession",
    "User",
]
