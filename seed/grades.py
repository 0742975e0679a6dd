"""Writing the gradebook: this term's assignments of every class (COURSEWORK, titled after the
course's topics), grades for the work that is due with their change history (the newest assignment
only partly graded, a few regraded) and the notifications they bring; `clamp` keeps a share of the
points within 0..1.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from models import Assignment, Grade, GradeChange
from models.enums import AssignmentCategory
from seed.catalog import COURSEWORK, EXAM, HOMEWORK, PARTICIPATION, PROJECT, QUIZ
from seed.world import Section, Teacher, World, local_day
from seed.writer import Row, Writer

DUE_TIME = time(23, 59)
MAX_SCORES = {HOMEWORK: 20.0, QUIZ: 25.0, EXAM: 100.0, PROJECT: 50.0, PARTICIPATION: 10.0}
EXAM_TITLES = ("Midterm exam", "Final exam")


@dataclass(eq=False)
class Work:
    """An assignment of a section."""

    section: Section
    title: str
    category: AssignmentCategory
    max_score: float
    due_at: datetime
    id: int = 0


def clamp(share: float) -> float:
    return min(1.0, max(0.0, share))


async def create_gradebook(db: Writer, world: World) -> None:
    """Assignments, grades for work that is due (the newest only partly graded), their history."""
    by_section = [coursework(world, section) for section in world.sections]
    works = [work for section_works in by_section for work in section_works]
    now = world.calendar.now
    term_opened = world.local(world.calendar.term.starts_on, time(7))
    rows = [
        {
            "class_id": work.section.id,
            "title": work.title,
            "category": work.category,
            "weight": 1.0,
            "max_score": work.max_score,
            "due_at": work.due_at,
            "created_at": max(term_opened, min(work.due_at, now) - timedelta(days=14)),
        }
        for work in works
    ]
    work_ids = await db.insert_returning_ids(Assignment, rows, key=("class_id", "title"))
    for work, work_id in zip(works, work_ids, strict=True):
        work.id = work_id
    grades: list[Row] = []
    histories: list[list[Row]] = []
    for section_works in by_section:
        due = [work for work in section_works if work.due_at < now]
        for work in due:
            grade_work(world, work, newest=work is due[-1], grades=grades, histories=histories)
        for work in section_works:
            if now <= work.due_at < now + timedelta(days=7):
                for pupil in work.section.students:
                    world.notify(
                        pupil.member,
                        "assignment_due",
                        f"Due soon: {work.title}",
                        f"{work.section.title}, due {local_day(world, work.due_at)}",
                        min(work.due_at - timedelta(days=2), now - timedelta(hours=1)),
                    )
    grade_ids = await db.insert_returning_ids(Grade, grades, key=("assignment_id", "student_id"))
    await db.insert(
        GradeChange,
        [
            {**change, "grade_id": grade_id}
            for grade_id, history in zip(grade_ids, histories, strict=True)
            for change in history
        ],
    )


def coursework(world: World, section: Section) -> list[Work]:
    works: list[Work] = []
    numbers: Counter[AssignmentCategory] = Counter()
    topics = section.course.topics
    for index, (category, due) in enumerate(COURSEWORK):
        numbers[category] += 1
        topic = topics[index * len(topics) // len(COURSEWORK)]
        title = assignment_title(category, numbers[category], topic)
        due_at = world.local(world.calendar.day(due), DUE_TIME)
        works.append(Work(section, title, category, MAX_SCORES[category], due_at))
    return works


def assignment_title(category: AssignmentCategory, number: int, topic: str) -> str:
    if category is EXAM:
        return EXAM_TITLES[number - 1]
    if category is PARTICIPATION:
        return f"Participation, quarter {number}"
    if category is PROJECT:
        return f"Project: {topic}"
    return f"{category.value.title()} {number}: {topic}"


def grade_work(
    world: World, work: Work, *, newest: bool, grades: list[Row], histories: list[list[Row]]
) -> None:
    """Grades one assignment for its class. Four in ten of the newest are still to grade; one in a
    hundred of the rest is missing. Three in a hundred were raised on a second look (version 2)."""
    rng, now = world.rng, world.calendar.now
    section = work.section
    grader = section.co_teacher if section.co_teacher and work.category is QUIZ else section.teacher
    weeks = (work.due_at.date() - section.term.starts_on).days / 7
    ungraded = 0
    for pupil in section.students:
        if rng.random() < (0.4 if newest else 0.01):
            ungraded += 1
            continue
        share = clamp(pupil.ability + pupil.trend * weeks + rng.gauss(0.0, 0.07))
        score = round(work.max_score * share * 2) / 2
        graded_at = min(
            work.due_at + timedelta(days=rng.randint(1, 3), hours=rng.randint(0, 6)),
            now - timedelta(hours=2),
        )
        history = [grade_change(None, score, 1, graded_at, grader)]
        world.notify(
            pupil.member,
            "grade_posted",
            f"New grade in {section.title}",
            f"You scored {score:g}/{work.max_score:g} on {work.title}.",
            graded_at,
        )
        regraded_at = graded_at + timedelta(days=5)
        if score < work.max_score and regraded_at < now and rng.random() < 0.03:
            raised = min(work.max_score, score + round(work.max_score * 0.1))
            history.append(grade_change(score, raised, 2, regraded_at, grader))
            world.notify(
                pupil.member,
                "grade_changed",
                f"Grade changed in {section.title}",
                f"{work.title} was regraded from {score:g} to {raised:g}/{work.max_score:g}.",
                regraded_at,
            )
        last = history[-1]
        grades.append(
            {
                "assignment_id": work.id,
                "student_id": pupil.member.id,
                "score": last["new_score"],
                "version": last["version"],
                "updated_at": last["changed_at"],
                "updated_by_id": grader.member.id,
            }
        )
        histories.append(history)
    if newest and ungraded:
        world.notify(
            section.teacher.member,
            "grading_reminder",
            "Grading reminder",
            f"{ungraded} submissions of {work.title} in {section.title} are waiting for a grade.",
            now - timedelta(hours=20),
        )


def grade_change(old: float | None, new: float, version: int, at: datetime, by: Teacher) -> Row:
    return {
        "old_score": old,
        "new_score": new,
        "version": version,
        "changed_at": at,
        "changed_by_id": by.member.id,
    }
