"""What a commit makes stale, and who is told: called by the writes after they commit."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import or_, select

from models import ClassTeacher, Enrollment
from models.enums import EnrollmentStatus
from subscriptions.channels import teacher_dashboard_channel
from subscriptions.events import TeacherDashboardChanged

if TYPE_CHECKING:
    from context import AppState


async def teacher_dashboards_changed(
    app: AppState,
    *,
    teacher_ids: Iterable[int] = (),
    class_ids: Iterable[int] = (),
    student_ids: Iterable[int] = (),
) -> None:
    """After a commit that changed what these teachers, the teachers of these classes, or the
    teachers of these students (whose risk was refreshed) see: drops their cached dashboards
    and tells their subscribers, in every process."""
    teachers = set(teacher_ids)
    classes, students = set(class_ids), set(student_ids)
    if classes or students:
        enrolled = select(Enrollment.class_id).where(
            Enrollment.student_id.in_(students), Enrollment.status == EnrollmentStatus.ACTIVE
        )
        query = (
            select(ClassTeacher.teacher_id)
            .distinct()
            .where(or_(ClassTeacher.class_id.in_(classes), ClassTeacher.class_id.in_(enrolled)))
        )
        async with app.session_factory() as session:
            teachers.update((await session.scalars(query)).all())
    await app.teacher_dashboards.invalidate(teachers)
    for teacher_id in sorted(teachers):
        await app.bus.publish(teacher_dashboard_channel(teacher_id), TeacherDashboardChanged())
