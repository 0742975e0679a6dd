"""Per-operation DataLoaders: one `Loaders` per request, or per event of a subscription."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loaders.access import (
    IdsByKeyLoader,
    class_ids_by_teacher,
    student_ids_by_guardian,
    student_ids_by_mentor,
    student_ids_by_teacher,
)
from loaders.base import RowByKeyLoader
from models import Class, Course, School, StudentProfile, TeacherProfile, User


class Loaders:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self.user_by_id: RowByKeyLoader[int, User] = RowByKeyLoader(session_factory, User.id)
        self.school_by_id: RowByKeyLoader[int, School] = RowByKeyLoader(session_factory, School.id)
        self.student_profile_by_user_id: RowByKeyLoader[int, StudentProfile] = RowByKeyLoader(
            session_factory, StudentProfile.user_id
        )
        self.teacher_profile_by_user_id: RowByKeyLoader[int, TeacherProfile] = RowByKeyLoader(
            session_factory, TeacherProfile.user_id
        )
        self.class_by_id: RowByKeyLoader[int, Class] = RowByKeyLoader(session_factory, Class.id)
        self.course_by_id: RowByKeyLoader[int, Course] = RowByKeyLoader(session_factory, Course.id)
        self.student_ids_by_teacher = IdsByKeyLoader(session_factory, student_ids_by_teacher)
        self.class_ids_by_teacher = IdsByKeyLoader(session_factory, class_ids_by_teacher)
        self.student_ids_by_mentor = IdsByKeyLoader(session_factory, student_ids_by_mentor)
        self.student_ids_by_guardian = IdsByKeyLoader(session_factory, student_ids_by_guardian)
