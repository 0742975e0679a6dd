"""Per-operation DataLoaders: one `Loaders` per request, or per event of a subscription."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loaders.academics import AcademicRecordLoader, AttendanceRateLoader, CurrentPercentageLoader
from loaders.access import (
    IdsByKeyLoader,
    class_ids_by_teacher,
    student_ids_by_guardian,
    student_ids_by_mentor,
    student_ids_by_teacher,
)
from loaders.base import RowByKeyLoader, RowsByKeyLoader
from loaders.chat import ChatLoaders
from loaders.services import ServiceSectionLoader
from models import (
    Class,
    ClassTeacher,
    Course,
    CoursePrerequisite,
    Enrollment,
    School,
    StudentProfile,
    StudentRisk,
    TeacherProfile,
    User,
)
from models.enums import EnrollmentStatus
from services.clients import ServiceClients


class Loaders:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession], services: ServiceClients) -> None:
        self._services = services
        self._service_sections: dict[str, ServiceSectionLoader] = {}
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
        self.prerequisites_by_course: RowsByKeyLoader[int, CoursePrerequisite] = RowsByKeyLoader(
            session_factory, CoursePrerequisite.course_id, order_by=[CoursePrerequisite.prerequisite_id]
        )
        self.active_enrollments_by_student: RowsByKeyLoader[int, Enrollment] = RowsByKeyLoader(
            session_factory,
            Enrollment.student_id,
            order_by=[Enrollment.class_id],
            where=[Enrollment.status == EnrollmentStatus.ACTIVE],
        )
        self.teachers_by_class: RowsByKeyLoader[int, ClassTeacher] = RowsByKeyLoader(
            session_factory,
            ClassTeacher.class_id,
            order_by=[ClassTeacher.is_primary.desc(), ClassTeacher.teacher_id],
        )
        self.risk_by_student: RowByKeyLoader[int, StudentRisk] = RowByKeyLoader(
            session_factory, StudentRisk.student_id
        )
        self.current_percentage = CurrentPercentageLoader(session_factory)
        self.attendance_rate = AttendanceRateLoader(session_factory)
        self.academic_record = AcademicRecordLoader(session_factory)
        self.student_ids_by_teacher = IdsByKeyLoader(session_factory, student_ids_by_teacher)
        self.class_ids_by_teacher = IdsByKeyLoader(session_factory, class_ids_by_teacher)
        self.student_ids_by_mentor = IdsByKeyLoader(session_factory, student_ids_by_mentor)
        self.student_ids_by_guardian = IdsByKeyLoader(session_factory, student_ids_by_guardian)
        self.chat = ChatLoaders(session_factory)

    def service_section(self, service: str) -> ServiceSectionLoader:
        if service not in self._service_sections:
            self._service_sections[service] = ServiceSectionLoader(self._services, service)
        return self._service_sections[service]
