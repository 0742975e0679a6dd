"""Channel names on the event bus, in one place so publishers and subscribers agree."""

from __future__ import annotations


def user_sessions_channel(user_id: int) -> str:
    """Session revocations of a user: SessionRevoked (subscriptions/events.py)."""
    return f"user:{user_id}:sessions"


def user_notifications_channel(user_id: int) -> str:
    """New notifications of a user: NotificationAdded."""
    return f"user:{user_id}:notifications"


def user_announcements_channel(user_id: int) -> str:
    """New announcement copies of a user (their in-app delivery made): AnnouncementPublished."""
    return f"user:{user_id}:announcements"


def gradebook_channel(class_id: int) -> str:
    """Everything that happens in a class's gradebook: a GradebookEvent (told apart by `type`)."""
    return f"class:{class_id}:gradebook"


def student_dashboard_channel(student_id: int) -> str:
    """A student's newly assembled dashboard: StudentDashboardChanged."""
    return f"student:{student_id}:dashboard"


def conversation_channel(conversation_id: int) -> str:
    """New messages of a conversation: MessageAdded."""
    return f"conversation:{conversation_id}:messages"


def teacher_dashboard_channel(teacher_id: int) -> str:
    """Something on a teacher's dashboard changed: TeacherDashboardChanged (subscribers
    assemble the new one)."""
    return f"teacher:{teacher_id}:dashboard"


def roster_import_channel(import_id: int) -> str:
    """A OneRoster import's progress: RosterImportProgressed."""
    return f"roster-import:{import_id}:progress"
