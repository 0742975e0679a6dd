"""The student dashboard: the platform's own data plus the eight microservices' sections,
assembled into one JSON document that is cached, refreshed in the background and pushed.

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
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from loaders import Loaders
from models import Assignment, Class, DashboardAction, Enrollment, Notification
from models.base import utcnow
from models.enums import EnrollmentStatus, Role, Tier
from resolvers.dashboard_cache import FRESH_SECONDS
from resolvers.errors import BadInput
from resolvers.grade_math import letter_grade
from resolvers.ids import decode_id_of
from resolvers.policy import SCHOOL_WIDE_ROLES, require_role, require_student_visible, require_user
from resolvers.problems import Problem
from services.clients import Section, SectionStatus
from subscriptions.bus import CONNECTION_ERRORS
from subscriptions.channels import student_dashboard_channel

if TYPE_CHECKING:
    from context import AppState, Context

log = logging.getLogger(__name__)

UPCOMING = 20
PREMIUM_SECTIONS = frozenset({"aiCoach"})
# Dashboard section -> the service behind it (services.md).
SECTION_SERVICES = {
    "skills": "talentscope",
    "coaching": "coaching_os",
    "missions": "missions",
    "portfolio": "portfolio",
    "cohort": "cohort",
    "leaderboard": "leaderboard",
    "aiCoach": "ai_coach",
}
MAX_ACTION_LENGTH = 80
REFRESH_BATCH = 50  # dashboards assembled together (the services take up to 100 students a call)


async def student_for_dashboard(ctx: Context, student_global_id: str | None) -> int:
    """The student whose dashboard the caller asks for (themselves by default), if allowed."""
    user = require_user(ctx)
    if student_global_id is None:
        if user.role != Role.STUDENT:
            raise BadInput("Give the studentId of the dashboard to show.")
        return user.id
    student_id = decode_id_of(student_global_id, "Student")
    profile = await ctx.loaders.student_profile_by_user_id.load(student_id)
    await require_student_visible(ctx, student_id, profile.school_id if profile else None)
    return student_id


async def dashboard(ctx: Context, student_id: int) -> dict[str, Any]:
    """From the cache when there (queueing a refresh if it is getting old), else assembled now.
    Without its cache (Redis unreachable) the dashboard is assembled for every request."""
    try:
        cached = await ctx.app.dashboards.get(student_id)
        if cached is not None:
            if time.time() - cached["generatedAt"] > FRESH_SECONDS:
                await ctx.app.refresh_queue.enqueue([student_id])
                return cached | {"stale": True}
            return cached
    except CONNECTION_ERRORS as error:
        log.warning("dashboard cache unreachable: %s", type(error).__name__)
    assembled = await assemble(ctx.app, ctx.loaders, student_id)
    with contextlib.suppress(*CONNECTION_ERRORS):
        await ctx.app.dashboards.put(student_id, assembled)
    return assembled


async def assemble(app: AppState, loaders: Loaders, student_id: int) -> dict[str, Any]:
    user = await loaders.user_by_id.load_existing(student_id)
    profile = await loaders.student_profile_by_user_id.load_existing(student_id)
    school = await loaders.school_by_id.load_existing(profile.school_id)
    sections, courses, upcoming, unread = await asyncio.gather(
        _sections(app, loaders, profile.student_number, user.tier),
        _courses(loaders, student_id, school.grading_scale),
        _upcoming(app, student_id),
        _unread(app, student_id),
    )
    sections["notifications"] = {"status": SectionStatus.OK.value, "unreadCount": unread}
    return {
        "studentId": student_id,
        "name": user.name,
        "tier": user.tier.value,
        "generatedAt": time.time(),
        "stale": False,
        "courses": courses,
        "upcoming": upcoming,
        "sections": sections,
    }


async def _sections(app: AppState, loaders: Loaders, student_number: str, tier: Tier) -> dict[str, Any]:
    async def section(name: str, service: str) -> tuple[str, dict[str, Any]]:
        if name in PREMIUM_SECTIONS and tier != Tier.PREMIUM:
            return name, {"status": "LOCKED"}
        found: Section[Any] = await loaders.service_section(service).load(student_number)
        return name, _section_json(found)

    pairs = await asyncio.gather(*(section(name, service) for name, service in SECTION_SERVICES.items()))
    return dict(pairs)


def _section_json(section: Section[Any]) -> dict[str, Any]:
    data = section.data.model_dump(mode="json", by_alias=True) if section.data is not None else None
    return {
        "status": section.status.value,
        "updatedAt": section.updated_at.isoformat() if section.updated_at else None,
        "data": data,
    }


async def _courses(loaders: Loaders, student_id: int, scale: list[dict[str, Any]]) -> list[dict[str, Any]]:
    enrollments = await loaders.active_enrollments_by_student.load(student_id)
    keys = [(e.class_id, student_id) for e in enrollments]
    classes = await loaders.class_by_id.load_many([e.class_id for e in enrollments])
    percentages = await loaders.current_percentage.load_many(keys)
    rates = await loaders.attendance_rate.load_many(keys)
    return [
        {
            "classId": klass.id,
            "title": klass.title,
            "percentage": percentage,
            "letter": letter_grade(percentage, scale).letter if percentage is not None else None,
            "attendanceRate": rate,
        }
        for klass, percentage, rate in zip(classes, percentages, rates, strict=True)
        if klass is not None
    ]


async def _upcoming(app: AppState, student_id: int) -> list[dict[str, Any]]:
    query = (
        select(Assignment.id, Assignment.title, Assignment.due_at, Class.id, Class.title)
        .join(Class, Class.id == Assignment.class_id)
        .join(Enrollment, Enrollment.class_id == Class.id)
        .where(
            Enrollment.student_id == student_id,
            Enrollment.status == EnrollmentStatus.ACTIVE,
            Assignment.due_at >= utcnow(),
        )
        .order_by(Assignment.due_at, Assignment.id)
        .limit(UPCOMING)
    )
    async with app.session_factory() as session:
        rows = (await session.execute(query)).all()
    return [
        {
            "id": a_id,
            "title": title,
            "dueAt": due.isoformat() if due else None,
            "classId": c_id,
            "classTitle": title_,
        }
        for a_id, title, due, c_id, title_ in rows
    ]


async def _unread(app: AppState, student_id: int) -> int:
    query = select(func.count()).where(Notification.user_id == student_id, Notification.read_at.is_(None))
    async with app.session_factory() as session:
        return int(await session.scalar(query) or 0)


async def updates(ctx: Context, student_global_id: str | None) -> AsyncIterator[dict[str, Any]]:
    """The student's dashboards as they are refreshed, from any process, while subscribed."""
    student_id = await student_for_dashboard(ctx, student_global_id)
    async with ctx.bus.subscribe(student_dashboard_channel(student_id)) as events:
        async for payload in events:
            yield payload["dashboard"]


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
    """Assembles, caches and pushes these dashboards (a batch of refresh jobs). They share one
    set of loaders, so the batch costs one call per microservice, not one per student."""
    loaders = Loaders(app.session_factory, app.services)
    assembled = await asyncio.gather(
        *(assemble(app, loaders, student_id) for student_id in student_ids), return_exceptions=True
    )
    for student_id, dashboard in zip(student_ids, assembled, strict=True):
        if isinstance(dashboard, CONNECTION_ERRORS):
            raise dashboard
        if isinstance(dashboard, BaseException):
            log.error("refreshing the dashboard of student %s failed", student_id, exc_info=dashboard)
            continue
        await app.dashboards.put(student_id, dashboard)
        await app.bus.publish(student_dashboard_channel(student_id), {"dashboard": dashboard})


async def refresh_forever(
    app: AppState,
    *,
    stop: asyncio.Event | None = None,
    stale_every: float = 30.0,
    health: Callable[[], None] | None = None,
) -> None:
    """The refresh worker: takes queued dashboards in batches; every `stale_every` seconds it
    puts back the jobs of dead workers (expired leases) and queues the stale dashboards (so hot
    ones stay warm). While Redis is unreachable it waits and tries again; any other error ends
    it (worker.py's supervisor logs it and starts it again). `health` is called after each
    iteration that went through. Setting `stop` ends it between jobs, so that no database work
    is cut off half-way at shutdown."""
    stop = stop or asyncio.Event()
    last_sweep = -stale_every
    while not stop.is_set():
        try:
            if time.monotonic() - last_sweep >= stale_every:
                last_sweep = time.monotonic()
                await app.refresh_queue.recover()
                await app.refresh_queue.enqueue(await app.dashboards.stale_ids(limit=500))
            student_id = await _take_unless_stopped(app, stop)
            if student_id is not None:
                batch = [student_id, *await app.refresh_queue.take_more(REFRESH_BATCH - 1)]
                await refresh(app, batch)
                await app.refresh_queue.done(batch)
        except CONNECTION_ERRORS as error:
            log.warning("dashboard refresh paused, Redis unreachable: %s", type(error).__name__)
            await asyncio.sleep(1.0)
            continue
        if health is not None:
            health()


async def _take_unless_stopped(app: AppState, stop: asyncio.Event) -> int | None:
    """The next queued student, or None after a second or when `stop` is set."""
    take = asyncio.ensure_future(app.refresh_queue.take(wait_seconds=1))
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({take, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not take.done():
        take.cancel()
        await asyncio.gather(take, return_exceptions=True)
        return None
    return take.result()


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


async def metrics(ctx: Context) -> dict[str, Any]:
    require_role(require_user(ctx), SCHOOL_WIDE_ROLES)
    stats = await ctx.app.dashboards.stats()
    lookups = stats.hits + stats.misses
    return {
        "cacheHitRate": round(stats.hits / lookups, 4) if lookups else None,
        "cachedDashboards": stats.cached,
        "staleDashboards": stats.stale,
        "refreshQueueDepth": await ctx.app.refresh_queue.depth(),
        "oldestStaleSeconds": stats.oldest_stale_seconds,
        "serviceHealth": ctx.app.services.health(),
    }
