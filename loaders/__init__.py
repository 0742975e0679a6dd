"""Per-operation DataLoaders: one `Loaders` per request, or per event of a subscription."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any, TypeVar, cast

from aiodataloader import DataLoader
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loaders.academics import (
    AcademicRecordLoader,
    AssignmentByIdLoader,
    AssignmentsByClassLoader,
    AttendanceRateLoader,
    CategoryWeightsByClassLoader,
    CurrentPercentageLoader,
    GradesByClassStudentLoader,
)
from loaders.access import (
    IdsByKeyLoader,
    class_ids_by_teacher,
    student_ids_by_guardian,
    student_ids_by_mentor,
    student_ids_by_teacher,
)
from loaders.announcements import AnnouncementLoaders
from loaders.base import RowByKeyLoader, RowsByKeyLoader
from loaders.chat import ChatLoaders
from loaders.people import PeopleLoaders
from loaders.roster import RosterLoaders
from loaders.services import ServiceSectionLoader
from loaders.terms import (
    FinalGradeLoader,
    GradingPeriodsByTermLoader,
    TermByIdLoader,
    TermClassesLoader,
    TranscriptEnrollmentsLoader,
)
from models import (
    Class,
    ClassTeacher,
    Course,
    CoursePrerequisite,
    Enrollment,
    GradingPeriod,
    School,
    StudentProfile,
    StudentRisk,
    TeacherProfile,
    User,
)
from models.billing import Fee, FeeInstallment, Invoice, InvoiceLine
from models.enums import EnrollmentStatus
from models.ledger import Allocation, Payment, Refund
from services.clients import ServiceClients

K = TypeVar("K")
V = TypeVar("V")


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
        self.term_by_id = TermByIdLoader(session_factory)
        self.grading_periods_by_term = GradingPeriodsByTermLoader(session_factory)
        self.term_classes = TermClassesLoader(session_factory)
        self.final_grade = FinalGradeLoader(session_factory)
        self.transcript_enrollments_by_student = TranscriptEnrollmentsLoader(session_factory)
        self.assignment_by_id = AssignmentByIdLoader(session_factory)
        self.assignments_by_class = AssignmentsByClassLoader(session_factory)
        self.category_weights_by_class = CategoryWeightsByClassLoader(session_factory)
        self.grades_by_class_student = GradesByClassStudentLoader(session_factory)
        self.grading_period_by_id: RowByKeyLoader[int, GradingPeriod] = RowByKeyLoader(
            session_factory, GradingPeriod.id
        )
        self.chat = ChatLoaders(session_factory)
        self.announcements = AnnouncementLoaders(session_factory)
        self.roster = RosterLoaders(session_factory)
        self.people = PeopleLoaders(session_factory)
        self.fee_by_id: RowByKeyLoader[int, Fee] = RowByKeyLoader(session_factory, Fee.id)
        self.installments_by_fee: RowsByKeyLoader[int, FeeInstallment] = RowsByKeyLoader(
            session_factory, FeeInstallment.fee_id, order_by=[FeeInstallment.number]
        )
        self.invoice_by_id: RowByKeyLoader[int, Invoice] = RowByKeyLoader(session_factory, Invoice.id)
        self.lines_by_invoice: RowsByKeyLoader[int, InvoiceLine] = RowsByKeyLoader(
            session_factory, InvoiceLine.invoice_id, order_by=[InvoiceLine.due_date, InvoiceLine.id]
        )
        self.allocations_by_invoice: RowsByKeyLoader[int, Allocation] = RowsByKeyLoader(
            session_factory, Allocation.invoice_id, order_by=[Allocation.id]
        )
        self.payment_by_id: RowByKeyLoader[int, Payment] = RowByKeyLoader(session_factory, Payment.id)
        self.allocations_by_payment: RowsByKeyLoader[int, Allocation] = RowsByKeyLoader(
            session_factory, Allocation.payment_id, order_by=[Allocation.id]
        )
        self.refunds_by_payment: RowsByKeyLoader[int, Refund] = RowsByKeyLoader(
            session_factory, Refund.payment_id, order_by=[Refund.id]
        )
        self._session_factory = session_factory
        self._batched: dict[object, DataLoader[Any, Any]] = {}

    def batched(
        self, batch: Callable[[async_sessionmaker[AsyncSession], list[K]], Coroutine[Any, Any, list[V]]]
    ) -> DataLoader[K, V]:
        """The operation's loader of a batch function that a layer above defines (it cannot be
        built here): one per function, each batch given the session factory."""
        if batch not in self._batched:
            self._batched[batch] = DataLoader(partial(batch, self._session_factory))
        return cast("DataLoader[K, V]", self._batched[batch])

    def service_section(self, service: str) -> ServiceSectionLoader:
        if service not in self._service_sections:
            self._service_sections[service] = ServiceSectionLoader(self._services, service)
        return self._service_sections[service]
