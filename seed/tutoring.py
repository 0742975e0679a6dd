"""Writing tutoring sessions: each teacher's after-school sessions with their own students,
completed (and paid out monthly), still to be completed and upcoming, with a no-show and a
cancellation for the demo teachers and one deliberate double booking; students are told of the
sessions booked for them.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from models import TutoringSession
from models.enums import SessionStatus
from seed.calendar import Calendar, utc
from seed.catalog import COURSEWORK, CourseSpec
from seed.world import Pupil, Section, Teacher, World, local_day
from seed.writer import Row, Writer

TUTORING_TIME = (time(15, 30), time(16, 30))
TUTORING_FROM = date(2026, 9, 14)  # the first day of tutoring sessions
SESSIONS_TO_COMPLETE = 2  # a demo teacher's sessions before today that wait to be completed
SESSION_NOTES = (
    "Reviewed {0} and worked through practice problems together.",
    "Focused on {0}; set two extra exercises on {1}.",
    "Went over the mistakes from the last quiz ({0}). Clear progress.",
    "Prepared for the next test: {0} and {1}.",
)


async def create_tutoring_sessions(db: Writer, world: World) -> None:
    """Each teacher tutors their own students (demo students first) after school: completed
    sessions, paid out monthly (this month's still pending), and upcoming ones. Demo teachers have
    more, among them a no-show and a cancellation, and their last two sessions, on the last school
    days before today, are still to be completed. One deliberate double booking gives
    scheduleConflicts something to show."""
    booked: set[tuple[int, date]] = set()
    rows: list[Row] = []
    for teacher in world.teachers:
        tutees = tutees_of(world, teacher)
        for days, statuses in zip(session_days(world.calendar), session_statuses(teacher), strict=True):
            chosen = sorted(world.rng.sample(days, len(statuses)))
            for index, (day, status) in enumerate(zip(chosen, statuses, strict=True)):
                rotated = tutees[index % len(tutees) :] + tutees
                free = next(((p, s) for p, s in rotated if (p.member.id, day) not in booked), None)
                if free is not None:
                    pupil, section = free
                    booked.add((pupil.member.id, day))
                    rows.append(tutoring_session(world, teacher, pupil, section, day=day, status=status))
    if world.spec.double_booking is not None:
        rows.append(double_booking(world, rows, *world.spec.double_booking))
    people = {member.id: member for member in world.members}
    for row in rows:
        if row["status"] is SessionStatus.SCHEDULED:
            starts = row["starts_at"]
            when = f"{local_day(world, starts)} at {starts.astimezone(world.zone):%H:%M}"
            world.notify(
                people[row["student_id"]],
                "session_scheduled",
                f"Tutoring booked with {people[row['teacher_id']].name}",
                f"{when}, {row['room']}",
                min(starts - timedelta(days=7), world.calendar.now - timedelta(hours=5)),
            )
    await db.insert(TutoringSession, rows)


def session_days(calendar: Calendar) -> tuple[list[date], list[date], list[date]]:
    """The school days of completed sessions, of those still to complete (the last two before
    today) and of upcoming ones (from a week ahead): apart, so no teacher has two on a day."""
    before = calendar.school_days(calendar.day(TUTORING_FROM), calendar.today - timedelta(days=1))
    upcoming = calendar.school_days(calendar.today + timedelta(days=7), calendar.term.ends_on)
    return before[:-SESSIONS_TO_COMPLETE], before[-SESSIONS_TO_COMPLETE:], upcoming


def session_statuses(teacher: Teacher) -> tuple[list[SessionStatus], ...]:
    """The statuses of a teacher's sessions on each kind of `session_days`."""
    if teacher.member.key is None:
        return [SessionStatus.COMPLETED] * 4, [], [SessionStatus.SCHEDULED] * 2
    done = [SessionStatus.COMPLETED] * 12
    coming = [SessionStatus.SCHEDULED] * 5
    done[3], coming[-1] = SessionStatus.NO_SHOW, SessionStatus.CANCELLED
    return done, [SessionStatus.SCHEDULED] * SESSIONS_TO_COMPLETE, coming


def tutees_of(world: World, teacher: Teacher) -> list[tuple[Pupil, Section]]:
    """The demo students of the teacher's classes, then six others, each with the class they share."""
    sections = [section for section in world.sections if section.teacher is teacher]
    pairs = [(pupil, section) for section in sections for pupil in section.students]
    demo = [pair for pair in pairs if pair[0].member.key is not None]
    others = [pair for pair in pairs if pair[0].member.key is None]
    return demo + world.rng.sample(others, min(6, len(others)))


def tutoring_session(
    world: World, teacher: Teacher, pupil: Pupil, section: Section, *, day: date, status: SessionStatus
) -> Row:
    starts, ends = world.local(day, TUTORING_TIME[0]), world.local(day, TUTORING_TIME[1])
    topics = world.rng.sample(taught_by(world.calendar, section.course, day), 2)
    done = status in (SessionStatus.COMPLETED, SessionStatus.NO_SHOW)
    notes = {
        SessionStatus.COMPLETED: world.rng.choice(SESSION_NOTES).format(*topics),
        SessionStatus.NO_SHOW: "The student did not come; we will rebook.",
        SessionStatus.CANCELLED: "Cancelled by the family: travelling that week.",
    }.get(status)
    paid_out_at = next_month(starts) if status is SessionStatus.COMPLETED else None
    return {
        "school_id": world.school_id,
        "teacher_id": teacher.member.id,
        "student_id": pupil.member.id,
        "class_id": section.id,
        "room": teacher.room,
        "starts_at": starts,
        "ends_at": ends,
        "status": status,
        "attended": {SessionStatus.COMPLETED: True, SessionStatus.NO_SHOW: False}.get(status),
        "notes": notes,
        "topics_covered": topics if status is SessionStatus.COMPLETED else [],
        "completed_at": ends + timedelta(minutes=10) if done else None,
        "rate_cents": teacher.rate_cents,
        "currency": "USD",
        "paid_out_at": paid_out_at if paid_out_at and paid_out_at < world.calendar.now else None,
    }


def taught_by(calendar: Calendar, course: CourseSpec, day: date) -> tuple[str, ...]:
    """The course's topics up to the one of the next assignment due after `day` (at least two)."""
    due = [index for index, (_, due_on) in enumerate(COURSEWORK) if calendar.day(due_on) >= day]
    position = due[0] if due else len(COURSEWORK) - 1
    return course.topics[: max(2, position * len(course.topics) // len(COURSEWORK) + 1)]


def next_month(moment: datetime) -> datetime:
    """Payouts run on the first of the month after a session."""
    year, month = divmod(moment.month, 12)
    return utc(moment.year + year, month + 1, 1, 17)


def double_booking(world: World, rows: list[Row], teacher_key: str, student_key: str) -> Row:
    """Another teacher's session at the same time as the student's first upcoming one."""
    student = world.accounts[student_key]
    first = next(
        r
        for r in rows
        if r["student_id"] == student.id
        and r["status"] is SessionStatus.SCHEDULED
        and r["starts_at"] > world.calendar.now
    )
    teacher = world.account_teacher(teacher_key)
    section = next(
        s for s in world.sections if s.teacher is teacher and any(p.member is student for p in s.students)
    )
    return {
        **first,
        "teacher_id": teacher.member.id,
        "class_id": section.id,
        "room": teacher.room,
        "rate_cents": teacher.rate_cents,
    }
