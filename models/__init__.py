"""SQLAlchemy models, one module per domain. Importing this package registers every table."""

from models.academics import Class, ClassTeacher, Course, CoursePrerequisite, Enrollment, MeetingTime
from models.ai import AiChat, AiMessage, GeneratedImage
from models.analytics import StudentRisk
from models.attendance import AttendanceRecord
from models.auth import AuditEntry, RefreshToken
from models.base import Base
from models.chat import Attachment, Conversation, ConversationParticipant, Message
from models.dashboards import DashboardAction
from models.grading import Assignment, CategoryWeight, FinalGrade, Grade, GradeChange
from models.notifications import Notification, NotificationOutbox
from models.progress import Assessment
from models.schools import School, Term
from models.tutoring import TutoringSession
from models.users import GuardianLink, MentorLink, StudentProfile, TeacherProfile, User

__all__ = [
    "AiChat",
    "AiMessage",
    "Assessment",
    "Assignment",
    "Attachment",
    "AttendanceRecord",
    "AuditEntry",
    "Base",
    "CategoryWeight",
    "Class",
    "ClassTeacher",
    "Conversation",
    "ConversationParticipant",
    "Course",
    "CoursePrerequisite",
    "DashboardAction",
    "Enrollment",
    "FinalGrade",
    "GeneratedImage",
    "Grade",
    "GradeChange",
    "GuardianLink",
    "MeetingTime",
    "MentorLink",
    "Message",
    "Notification",
    "NotificationOutbox",
    "RefreshToken",
    "School",
    "StudentProfile",
    "StudentRisk",
    "TeacherProfile",
    "Term",
    "TutoringSession",
    "User",
]
