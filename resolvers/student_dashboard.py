"""The student dashboard: the platform's own data plus the eight microservices' sections,
assembled into one document (resolvers/student_dashboard_document.py) that is cached,
refreshed in the background (worker.py runs the loop, `refresh` is one batch of it) and pushed.

A section whose service is off, slow or failing is UNAVAILABLE (or STALE with the last good
data and its time); premium sections of a free-tier student are LOCKED and their service is
not called. Nothing is ever made up. Service reads go through DataLoaders, so a request for
many dashboards makes one call per service per 100 students, the services in parallel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy import func, select

from errors import BadInput, Problem
from loaders import Loaders
from models import Assignment, Class, DashboardAction, Enrollment, Notification
from models.base import utcnow
from models.enums import EnrollmentStatus, Role, Tier
from models.grade_math import letter_grade
from resolvers import audit
from resolvers.ids import decode_id_of
from resolvers.policy import (
    SCHOOL_WIDE_ROLES,
    Relation,
    require_role,
    require_student_visible,
    require_user,
)
from resolvers.student_dashboard_document import (
    AssignmentDue,
    CourseStanding,
    DashboardSections,
    StudentDashboardDocument,
)
from services.clients import Section, SectionStatus, ServiceHealth
from stores.dashboard_cache import FRESH_SECONDS
from subscriptions.bus import CONNECTION_ERRORS
from subscriptions.channels import student_dashboard_channel
from subscriptions.events import StudentDashboardChanged

if TYPE_CHECKING:
    from context import AppState, Context

log = logging.getLogger(__name__)

UPCOMING = 20
PREMIUM_SECTIONS = frozenset({"ai_coach"})
# Dashboard section (a field of DashboardSections) -> the service behind it (services.md).
SECTION_SERVICES = {
    "skills": "talentscope",
    "coaching": "coaching_os",
    "missions": "missions",
    "portfolio": "portfolio",
    "cohort": "cohort",
    "leaderboard": "leaderboard",
    "ai_coach": "ai_coach",
}
LOCKED: Section[Any] = Section(SectionStatus.LOCKED)
MAX_ACTION_LENGTH = 80


async def student_for_dashboard(ctx: Context, student_global_id: str | None) -> int:
    """The student whose dashboard the caller asks for (themselves by default), if allowed; a
    read by anyone but the student is audited."""
    user = require_user(ctx)
    if student_global_id is None:
        if user.role != Role.STUDENT:
            raise BadInput("Give the studentId of the dashboard to show.")
        return user.id
    student_id = decode_id_of(student_global_id, "Student")
    profile = await ctx.loaders.student_profile_by_user_id.load(student_id)
    relation = await require_student_visible(ctx, student_id, profile.school_id if profile else None)
    if relation is not Relation.SELF:
        audit.note_read(ctx, "Student", student_id)
    return student_id


async def dashboard(ctx: Context, student_id: int) -> StudentDashboardDocument:
    """From the cache when there (queueing a refresh if it is getting old), else assembled now.
    Without its cache (Redis unreachable) the dashboard is assembled for every request."""
    try:
        cached = await _cached(ctx.app, student_id)
        if cached is not None:
            if time.time() - cached.generated_at.timestamp() > FRESH_SECONDS:
                await ctx.app.refresh_queue.enqueue([student_id])
                return cached.model_copy(update={"stale": True})
            return cached
    except CONNECTION_ERRORS as error:
        log.warning("dashboard cache unreachable: %s", type(error).__name__)
    assembled = await assemble(ctx.app, ctx.loaders, student_id)
    with contextlib.suppress(*CONNECTION_ERRORS):
        await _cache(ctx.app, assembled)
    return assembled


async def _cached(app: AppState, student_id: int) -> StudentDashboardDocument | None:
    """The cached document; one the cache holds in an older shape (written before a deploy that
    changed the document) counts as none, and is replaced once assembled again."""
    raw = await app.dashboards.get(student_id)
    if raw is None:
        return None
    try:
        return StudentDashboardDocument.model_validate_json(raw)
    except ValidationError:
        log.warning("cached dashboard of student %s is not a current document; assembling it", student_id)
        return None


async def _cache(app: AppState, document: StudentDashboardDocument) -> None:
    await app.dashboards.put(
        document.student_id, document.model_dump_json().encode(), document.generated_at.timestamp()
    )


async def assemble(app: AppState, loaders: Loaders, student_id: int) -> StudentDashboardDocument:
    user = await loaders.user_by_id.load_existing(student_id)
    profile = await loaders.student_profile_by_user_id.load_existing(student_id)
    school = await loaders.school_by_id.load_existing(profile.school_id)
    sections, courses, upcoming, unread = await asyncio.gather(
        _sections(loaders, profile.student_number, user.tier),
        _courses(loaders, student_id, school.grading_scale),
        _upcoming(app, student_id),
        _unread(app, student_id),
    )
    return StudentDashboardDocument(
        student_id=student_id,
        name=user.name,
        tier=user.tier,
        generated_at=datetime.now(UTC),
        courses=courses,
        upcoming=upcoming,
        sections=sections,
        unread_notifications=unread,
    )


async def _sections(loaders: Loaders, student_number: str, tier: Tier) -> DashboardSections:
    async def section(name: str, service: str) -> tuple[str, Section[Any]]:
        if name in PREMIUM_SECTIONS and tier != Tier.PREMIUM:
            return name, LOCKED
        return name, await loaders.service_section(service).load(student_number)

    pairs = await asyncio.gather(*(section(name, service) for name, service in SECTION_SERVICES.items()))
    # Each section is validated against its field's item model (the loader's are untyped).
    return DashboardSections.model_validate(dict(pairs), from_attributes=True)


async def _courses(
    loaders: Loaders, student_id: int, scale: list[dict[str, Any]]
) -> tuple[CourseStanding, ...]:
    enrollments = await loaders.active_enrollments_by_student.load(student_id)
    keys = [(e.class_id, student_id) for e in enrollments]
    classes = await loaders.class_by_id.load_many([e.class_id for e in enrollments])
    percentages = await loaders.current_percentage.load_many(keys)
    rates = await loaders.attendance_rate.load_many(keys)
    return tuple(
        CourseStanding(
            class_id=klass.id,
            title=klass.title,
            percentage=percentage,
            letter=letter_grade(percentage, scale).letter if percentage is not None else None,
            attendance_rate=rate,
        )
        for klass, percentage, rate in zip(classes, percentages, rates, strict=True)
        if klass is not None
    )


async def _upcoming(app: AppState, student_id: int) -> tuple[AssignmentDue, ...]:
    query = (
        select(Assignment.id, Assignment.title, Assignment.due_at, Class.id, Class.title)
        .join(Class, Class.id == Assignment.class_id)
        .join(Enrollment, Enrollment.class_id == Class.id)
        .where(
            Enrollment.student_id == student_id,
            Enrollment.status == EnrollmentStatus.ACTIVE,
            Assignment.due_at >= utcnow(),
            Assignment.published.is_(True),
            Assignment.archived_at.is_(None),
        )
        .order_by(Assignment.due_at, Assignment.id)
        .limit(UPCOMING)
    )
    async with app.session_factory() as session:
        rows = (await session.execute(query)).all()
    return tuple(
        AssignmentDue(id=a_id, title=title, due_at=due, class_id=c_id, class_title=class_title)
        for a_id, title, due, c_id, class_title in rows
    )


async def _unread(app: AppState, student_id: int) -> int:
    query = select(func.count()).where(Notification.user_id == student_id, Notification.read_at.is_(None))
    async with app.session_factory() as session:
        return int(await session.scalar(query) or 0)


def _pushed_document(event: StudentDashboardChanged) -> StudentDashboardDocument:
    """What `refresh` publishes, back as the document (once per event for all subscribers)."""
    return StudentDashboardDocument.model_validate(event.dashboard)


async def updates(ctx: Context, student_global_id: str | None) -> AsyncIterator[StudentDashboardDocument]:
    """The student's dashboards as they are refreshed, from any process, while subscribed."""
    student_id = await student_for_dashboard(ctx, student_global_id)
    channel = student_dashboard_channel(student_id)
    async with ctx.bus.subscribe(channel, StudentDashboardChanged, _pushed_document) as events:
        async for document in events:
            yield document


async def dashboards_changed(app: AppState, student_ids: list[int]) -> None:
    """After a write that feeds these dashboards: drop them from the cache and queue their
    refresh, which pushes the new ones to their subscribers."""
    if not student_ids:
        return
    try:
        await app.dashboards.delete(student_ids)
        await app.refresh_queue.enqueue(student_ids)
    except CONNECTION_ERRORS as error:  # the write has committed; the cache's age limit ends the rest
        log.warning("dashboards of %s not invalidated: %s", student_ids, type(error).__name__)


async def refresh(app: AppState, student_ids: list[int]) -> None:
    """Assembles, caches and pushes these dashboards (a batch of refresh jobs, see worker.py).
    They share one set of loaders, so the batch costs one call per microservice, not one per
    student."""
    loaders = Loaders(app.session_factory, app.services)
    assembled = await asyncio.gather(
        *(assemble(app, loaders, student_id) for student_id in student_ids), return_exceptions=True
    )
    for student_id, document in zip(student_ids, assembled, strict=True):
        if isinstance(document, CONNECTION_ERRORS):
            raise document
        if isinstance(document, BaseException):
            log.error("refreshing the dashboard of student %s failed", student_id, exc_info=document)
            continue
        await _cache(app, document)
        pushed = StudentDashboardChanged(dashboard=document.model_dump(mode="json"))
        await app.bus.publish(student_dashboard_channel(student_id), pushed)


async def track_action(ctx: Context, action: str, target_id: str | None) -> list[Problem]:
    """Stores what a student did on their dashboard; at most 120 actions a minute each."""
    user = require_user(ctx)
    if not action.strip() or len(action) > MAX_ACTION_LENGTH or (target_id and len(target_id) > 120):
        return [Problem(f"An action is 1 to {MAX_ACTION_LENGTH} characters.", "INVALID", ("input", "action"))]
    if not await ctx.app.limiter.hit("120/minute", "dashboard-action", str(user.id)):
        return [Problem("Too many actions; slow down.", "RATE_LIMITED")]
    async with ctx.writer.begin() as session:
        session.add(DashboardAction(user_id=user.id, action=action.strip(), target_id=target_id))
    return []


@dataclass(frozen=True)
class DashboardMetrics:
    """For operators: the dashboard cache, its refresh queue and the services."""

    cache_hit_rate: float | None
    cached_dashboards: int
    stale_dashboards: int
    refresh_queue_depth: int
    oldest_stale_seconds: float | None
    service_health: list[ServiceHealth]


async def metrics(ctx: Context) -> DashboardMetrics:
    require_role(require_user(ctx), SCHOOL_WIDE_ROLES)
    stats = await ctx.app.dashboards.stats()
    lookups = stats.hits + stats.misses
    return DashboardMetrics(
        cache_hit_rate=round(stats.hits / lookups, 4) if lookups else None,
        cached_dashboards=stats.cached,
        stale_dashboards=stats.stale,
        refresh_queue_depth=await ctx.app.refresh_queue.depth(),
        oldest_stale_seconds=stats.oldest_stale_seconds,
        service_health=ctx.app.services.health(),
    )
