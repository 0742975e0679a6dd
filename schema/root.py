"""The Query, Mutation and Subscription roots. Fields stay thin: they call resolvers."""

from __future__ import annotations

import asyncio
from typing import Any

import strawberry

from errors import BadInput, Unauthenticated
from resolvers.nodes import load_node
from resolvers.policy import EXPIRED
from schema.academics import Class, Course, Teacher
from schema.announcement_drafts import AnnouncementMutations
from schema.announcements import AnnouncementQueries, AnnouncementSubscriptions
from schema.attendance import AttendanceMutations
from schema.audit import AuditQueries
from schema.auth import AuthMutations
from schema.base import Info, Node
from schema.calendars import CalendarMutations, CalendarQueries
from schema.chat import ChatMutations, ChatQueries, ChatSubscriptions
from schema.classes import ClassMutations, ClassQueries
from schema.coach import CoachMutations
from schema.communication_history import CommunicationHistoryQueries
from schema.courses import CourseMutations, CourseQueries
from schema.enrollments import EnrollmentMutations
from schema.fees import FeeMutations, FeeQueries
from schema.finance_accounts import AccountQueries
from schema.finance_analytics import FinanceAnalyticsMutations, FinanceAnalyticsQueries
from schema.grading import GradingMutations, GradingQueries, GradingSubscriptions
from schema.invoices import InvoiceMutations, InvoiceQueries
from schema.notifications import NotificationMutations, NotificationQueries, NotificationSubscriptions
from schema.overview import OverviewQueries
from schema.password_reset import PasswordResetMutations
from schema.payments import PaymentMutations, PaymentQueries
from schema.people import PeopleMutations, PeopleQueries
from schema.preferences import PreferenceMutations, PreferenceQueries
from schema.progress import ProgressMutations, ProgressQueries
from schema.reminders import ReminderMutations, ReminderQueries
from schema.roster_imports import RosterImportMutations, RosterImportQueries, RosterImportSubscriptions
from schema.schedule import ScheduleQueries
from schema.scholarship_awards import ScholarshipAwardMutations
from schema.scholarships import ScholarshipMutations, ScholarshipQueries
from schema.sessions import SessionMutations, SessionQueries
from schema.sso import SsoMutations, SsoQueries
from schema.student_dashboard import DashboardMutations, DashboardQueries, DashboardSubscriptions
from schema.students import Student, StudentMutations, StudentQueries
from schema.teacher_dashboard import TeacherDashboardQueries, TeacherDashboardSubscriptions
from schema.templates import TemplateMutations, TemplateQueries
from schema.terms import GradingPeriod, Term, TermMutations, TermQueries
from schema.tutoring import TutoringMutations, TutoringQueries
from schema.users import School, User


def _wrap_node(type_name: str, row: Any) -> Node:
    if type_name == "Student":
        account, profile = row
        return Student.from_model(account, profile)
    wrappers: dict[str, Any] = {
        "User": User.from_model,
        "Teacher": Teacher.from_model,
        "Class": Class.from_model,
        "Course": Course.from_model,
        "Term": Term.from_model,
        "GradingPeriod": GradingPeriod.from_model,
        "School": School.from_model,
    }
    node: Node = wrappers[type_name](row)
    return node


@strawberry.type
class Mutation(
    AuthMutations,
    ChatMutations,
    DashboardMutations,
    GradingMutations,
    NotificationMutations,
    CoachMutations,
    StudentMutations,
    TutoringMutations,
    ProgressMutations,
    AttendanceMutations,
    TermMutations,
    CourseMutations,
    FeeMutations,
    InvoiceMutations,
    PaymentMutations,
    ScholarshipMutations,
    ScholarshipAwardMutations,
    FinanceAnalyticsMutations,
    ReminderMutations,
    ClassMutations,
    EnrollmentMutations,
    PeopleMutations,
    RosterImportMutations,
    CalendarMutations,
    SessionMutations,
    TemplateMutations,
    PreferenceMutations,
    PasswordResetMutations,
    SsoMutations,
    AnnouncementMutations,
):
    pass


@strawberry.type
class Subscription(
    ChatSubscriptions,
    DashboardSubscriptions,
    GradingSubscriptions,
    NotificationSubscriptions,
    TeacherDashboardSubscriptions,
    RosterImportSubscriptions,
    AnnouncementSubscriptions,
):
    pass


@strawberry.type
class Query(
    AuditQueries,
    ChatQueries,
    DashboardQueries,
    GradingQueries,
    NotificationQueries,
    OverviewQueries,
    StudentQueries,
    TeacherDashboardQueries,
    TutoringQueries,
    ProgressQueries,
    ScheduleQueries,
    TermQueries,
    CourseQueries,
    FeeQueries,
    InvoiceQueries,
    PaymentQueries,
    AccountQueries,
    FinanceAnalyticsQueries,
    ScholarshipQueries,
    ReminderQueries,
    ClassQueries,
    PeopleQueries,
    RosterImportQueries,
    CalendarQueries,
    SessionQueries,
    TemplateQueries,
    PreferenceQueries,
    SsoQueries,
    AnnouncementQueries,
    CommunicationHistoryQueries,
):
    @strawberry.field(description="The signed-in user, or null when nobody is signed in.")
    async def me(self, info: Info) -> User | None:
        if info.context.token_rejected:
            raise Unauthenticated(EXPIRED)
        if info.context.user is None:
            return None
        user = await info.context.loaders.user_by_id.load(info.context.user.id)
        return User.from_model(user) if user else None

    @strawberry.field(description="Any object by its global id.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return _wrap_node(*await load_node(info.context, id))

    @strawberry.field(description="Objects by their global ids, in the same order (at most 100).")
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node]:
        if len(ids) > info.context.settings.max_page_size:
            raise BadInput(f"At most {info.context.settings.max_page_size} ids at once.")
        found = await asyncio.gather(*(load_node(info.context, global_id) for global_id in ids))
        return [_wrap_node(*pair) for pair in found]
