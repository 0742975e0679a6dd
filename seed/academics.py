"""Writing a school's academic records: the school itself, its terms and course catalog with the
prerequisites, both terms' classes with their teachers, meeting times and (this term's) category
weights, and the enrollments (active this term, completed last term) with last term's final grades.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from models import (
    CategoryWeight,
    Class,
    ClassTeacher,
    Course,
    CoursePrerequisite,
    Enrollment,
    EnrollmentChange,
    FinalGrade,
    GradingPeriod,
    MeetingTime,
    School,
    Term,
)
from models.enums import EnrollmentStatus, TermStatus
from models.grade_math import letter_grade
from models.schools import DEFAULT_GRADING_SCALE
from seed.calendar import PERIODS, TermSpec, utc
from seed.grades import clamp
from seed.planning import offered_courses
from seed.world import Pupil, Section, World
from seed.writer import Row, Writer

CLASS_SEATS = 30  # a class's capacity, or its size where the plan put more students in it
FINAL_GRADES_AT = utc(2026, 6, 15, 18)  # when last term's final grades were calculated (template)


async def create_school(db: Writer, world: World) -> None:
    spec = world.spec
    row = {
        "name": spec.name,
        "slug": spec.slug,
        "invitation_code": spec.invitation_code,
        "timezone": spec.timezone,
        "grading_scale": DEFAULT_GRADING_SCALE,
        "created_at": world.calendar.moment(spec.onboarded),
    }
    [world.school_id] = await db.insert_returning_ids(School, [row], key=("slug",))


async def create_catalog(db: Writer, world: World) -> None:
    """The terms, the courses and their prerequisites."""
    last, current = world.calendar.last_term, world.calendar.term
    terms: list[Row] = [
        {
            "school_id": world.school_id,
            "name": t.name,
            "starts_on": t.starts_on,
            "ends_on": t.ends_on,
            # Last term was closed when its final grades were calculated (create_enrollments).
            "status": TermStatus.CLOSED if t is last else TermStatus.OPEN,
            "closed_at": world.calendar.moment(FINAL_GRADES_AT) if t is last else None,
        }
        for t in (last, current)
    ]
    term_ids = await db.insert_returning_ids(Term, terms, key=("name",))
    world.term_ids = {row["name"]: term_id for row, term_id in zip(terms, term_ids, strict=True)}
    await db.insert(
        GradingPeriod,
        [
            {"school_id": world.school_id, "term_id": world.term_ids[t.name], **period}
            for t in (last, current)
            for period in halves(t)
        ],
    )
    courses = [course for dept in world.spec.departments for course in offered_courses(world.spec, dept)]
    rows = [
        {
            "school_id": world.school_id,
            "code": course.code,
            "title": course.title,
            "credits": course.credits,
            "description": f"Units: {'; '.join(course.topics)}.",
        }
        for course in courses
    ]
    course_ids = await db.insert_returning_ids(Course, rows, key=("code",))
    world.course_ids = {course.code: course_id for course, course_id in zip(courses, course_ids, strict=True)}
    await db.insert(
        CoursePrerequisite,
        [
            {"course_id": world.course_ids[course.code], "prerequisite_id": world.course_ids[required]}
            for course in courses
            for required in course.requires
            if required in world.course_ids
        ],
    )


def halves(term: TermSpec) -> list[Row]:
    """A term's two grading periods: its first and second half."""
    middle = term.starts_on + (term.ends_on - term.starts_on) / 2
    return [
        {"name": f"{term.name}, first half", "starts_on": term.starts_on, "ends_on": middle},
        {
            "name": f"{term.name}, second half",
            "starts_on": middle + timedelta(days=1),
            "ends_on": term.ends_on,
        },
    ]


async def create_classes(db: Writer, world: World) -> None:
    """Both terms' classes with their teachers and meeting times; this term's category weights."""
    sections = world.past_sections + world.sections
    rows = [
        {
            "school_id": world.school_id,
            "course_id": world.course_ids[section.course.code],
            "term_id": world.term_ids[section.term.name],
            "title": section.title,
            "room": section.teacher.room,
            "capacity": max(CLASS_SEATS, len(section.students)),
        }
        for section in sections
    ]
    class_ids = await db.insert_returning_ids(Class, rows, key=("term_id", "title"))
    for section, class_id in zip(sections, class_ids, strict=True):
        section.id = class_id
    await db.insert(
        ClassTeacher,
        [
            {
                "class_id": section.id,
                "teacher_id": teacher.member.id,
                "is_primary": teacher is section.teacher,
            }
            for section in sections
            for teacher in (section.teacher, section.co_teacher)
            if teacher is not None
        ],
    )
    await db.insert(
        MeetingTime,
        [
            {
                "class_id": section.id,
                "weekday": weekday,
                "starts_at": PERIODS[section.period].starts,
                "ends_at": PERIODS[section.period].ends,
            }
            for section in sections
            for weekday in PERIODS[section.period].weekdays
        ],
    )
    await db.insert(
        CategoryWeight,
        [
            {"class_id": section.id, "category": category, "weight": weight}
            for section in world.sections
            for category, weight in section.department.weights.items()
        ],
    )


async def create_enrollments(db: Writer, world: World) -> None:
    """Active enrollments this term; completed ones last term, with their final grades."""
    rng, moment = world.rng, world.calendar.moment
    rows: list[Row] = [
        {
            "class_id": section.id,
            "student_id": pupil.member.id,
            "status": EnrollmentStatus.ACTIVE,
            "enrolled_at": moment(utc(2026, 8, 24, 14) + timedelta(days=rng.randint(0, 6))),
        }
        for section in world.sections
        for pupil in section.students
    ]
    rows += [
        {
            "class_id": section.id,
            "student_id": pupil.member.id,
            "status": EnrollmentStatus.COMPLETED,
            "enrolled_at": moment(utc(2026, 1, 5, 14) + timedelta(days=rng.randint(0, 4))),
        }
        for section in world.past_sections
        for pupil in section.students
    ]
    enrollment_ids = await db.insert_returning_ids(Enrollment, rows, key=("class_id", "student_id"))
    graded = moment(FINAL_GRADES_AT)
    history = [
        {
            "enrollment_id": enrollment_id,
            "status": EnrollmentStatus.ACTIVE,
            "effective_date": row["enrolled_at"].date(),
            "changed_at": row["enrolled_at"],
        }
        for row, enrollment_id in zip(rows, enrollment_ids, strict=True)
    ]
    history += [
        {
            "enrollment_id": enrollment_id,
            "status": EnrollmentStatus.COMPLETED,
            "effective_date": world.calendar.last_term.ends_on,
            "changed_at": graded,
        }
        for row, enrollment_id in zip(rows, enrollment_ids, strict=True)
        if row["status"] == EnrollmentStatus.COMPLETED
    ]
    await db.insert(EnrollmentChange, history)
    await db.insert(
        FinalGrade,
        [
            final_grade(section, pupil, clamp(pupil.ability + rng.gauss(0.0, 0.04)), graded)
            for section in world.past_sections
            for pupil in section.students
        ],
    )


def final_grade(section: Section, pupil: Pupil, share: float, calculated_at: datetime) -> Row:
    percentage = round(share * 100, 1)
    grade = letter_grade(percentage)
    return {
        "class_id": section.id,
        "student_id": pupil.member.id,
        "percentage": percentage,
        "letter": grade.letter,
        "grade_points": grade.points,
        "calculated_at": calculated_at,
    }
