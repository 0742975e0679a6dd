"""Writing skill assessments: each teacher assesses their students' department skills three times in
the term, and each mentor their mentees' habits four times, so that every skill has a trend.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, time

from models import Assessment
from resolvers.progress import assessment_level
from seed.grades import clamp
from seed.world import Member, Pupil, World
from seed.writer import Row, Writer

ASSESSMENT_DAYS = (date(2026, 9, 25), date(2026, 10, 23), date(2026, 11, 20))
MENTOR_ASSESSMENT_DAYS = (date(2026, 9, 15), date(2026, 10, 6), date(2026, 10, 27), date(2026, 11, 17))
MENTOR_SKILLS = ("Time management", "Goal setting")
ASSESSMENT_NOTES = {
    1: "Needs support: let's set up regular tutoring.",
    2: "Developing; practise the basics every week.",
    3: "Solid understanding, with a few gaps.",
    4: "Strong work and steady improvement.",
    5: "Excellent: ready for extension work.",
}


async def create_assessments(db: Writer, world: World) -> None:
    """Each teacher assesses their students' department skills three times; mentors their mentees'
    habits four times, so every skill has a trend."""
    rows = [
        row
        for section in world.sections
        for pupil in section.students
        for skill in section.department.skills
        for row in assessment_series(world, pupil, section.teacher.member, skill, ASSESSMENT_DAYS)
    ]
    rows += [
        row
        for mentor, mentee in world.mentor_links
        for skill in MENTOR_SKILLS
        for row in assessment_series(world, mentee, mentor, skill, MENTOR_ASSESSMENT_DAYS)
    ]
    await db.insert(Assessment, rows)


def assessment_series(
    world: World, pupil: Pupil, assessor: Member, skill: str, template_days: Sequence[date]
) -> list[Row]:
    rng = world.rng
    bias = rng.gauss(0.0, 0.05)
    days = [world.calendar.day(day) for day in template_days]
    rows = []
    for index, day in enumerate(days):
        weeks = (day - world.calendar.term.starts_on).days / 7
        share = clamp(pupil.ability + bias + pupil.trend * weeks + 0.01 * index + rng.gauss(0.0, 0.04))
        level = assessment_level(share)
        rows.append(
            {
                "student_id": pupil.member.id,
                "assessor_id": assessor.id,
                "skill": skill,
                "score": round(10 * share, 1),
                "max_score": 10.0,
                "level": level,
                "notes": ASSESSMENT_NOTES[level] if index == len(days) - 1 else None,
                "assessed_at": world.local(day, time(15, 45)),
            }
        )
    return rows
