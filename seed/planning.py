"""Planning one school (`plan_school`), all from the school's own seeded random generator: the demo
accounts; CLASS_SIZE x scale enrolled students per grade level, then those on leave, withdrawn or
graduated; this term's sections of each course, hiring generated teachers so that no one teaches two
classes in a period; last term's sections; and the guardian and mentor links.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from models.enums import Role, StudentStatus, Tier
from seed.calendar import FALL, Calendar, utc
from seed.catalog import CourseSpec, Department
from seed.names import NameMaker
from seed.schools import SchoolSpec
from seed.world import Member, Pupil, Section, Teacher, World

RANDOM_SEED = "campusgraph-demo"
CLASS_SIZE = 30
SESSION_RATES_CENTS = (3500, 4000, 4500, 5000, 5500)


def plan_school(spec: SchoolSpec, scale: int, calendar: Calendar) -> World:
    world = World(
        spec=spec,
        scale=scale,
        rng=random.Random(f"{RANDOM_SEED}/{spec.slug}"),  # noqa: S311 - demo data, not secrets
        zone=ZoneInfo(spec.timezone),
        calendar=calendar,
    )
    names = NameMaker(world.rng, spec.domain)
    plan_accounts(world)
    plan_students(world, names)
    plan_sections(world, names)
    plan_past_sections(world)
    plan_links(world)
    return world


def plan_accounts(world: World) -> None:
    spec = world.spec
    for account in spec.accounts:
        member = Member(
            email=f"{account.key}@{spec.domain}",
            name=account.name,
            role=account.role,
            joined=world.calendar.moment(datetime.combine(account.joined, time(15), tzinfo=UTC)),
            tier=account.tier,
            key=account.key,
        )
        world.members.append(member)
        world.accounts[account.key] = member
        if account.role is Role.TEACHER:
            department = next(d for d in spec.departments if d.name == account.department)
            add_teacher(world, member, department)
        elif account.role is Role.STUDENT:
            grade_level = account.grade_level
            add_pupil(world, member, grade_level, entry_year(grade_level), StudentStatus.ENROLLED)


def entry_year(grade_level: int) -> int:
    """The template year in which students of the grade level entered the school (in grade 9)."""
    return FALL.starts_on.year - (grade_level - 9)


def add_teacher(world: World, member: Member, department: Department) -> Teacher:
    colleagues = sum(1 for teacher in world.teachers if teacher.department is department)
    teacher = Teacher(
        member=member,
        department=department,
        room=department.room_pattern.format(colleagues + 1),
        rate_cents=world.rng.choice(SESSION_RATES_CENTS),
    )
    world.teachers.append(teacher)
    return teacher


def add_pupil(world: World, member: Member, grade_level: int, entered: int, status: StudentStatus) -> Pupil:
    """A student who entered the school in the template year `entered`; demo students do well,
    about one in ten of the others struggles and slips."""
    rng = world.rng
    if member.key is not None:
        ability, trend, absence_rate = 0.86, 0.001, 0.03
    elif rng.random() < 0.1:
        ability, trend, absence_rate = rng.gauss(0.62, 0.06), -0.005, 0.14
    else:
        ability, trend, absence_rate = rng.gauss(0.82, 0.08), rng.gauss(0.0, 0.002), 0.03
    pupil = Pupil(
        member=member,
        number=f"{world.spec.number_prefix}-{len(world.students) + 1:06d}",
        grade_level=grade_level,
        cohort_year=world.calendar.day(FALL.starts_on.replace(year=entered)).year,
        status=status,
        ability=min(0.98, max(0.45, ability)),
        trend=trend,
        absence_rate=absence_rate,
    )
    world.students.append(pupil)
    return pupil


def plan_students(world: World, names: NameMaker) -> None:
    """CLASS_SIZE x scale enrolled students per grade level, then those on leave, withdrawn, graduated."""
    rng = world.rng
    for grade_level in world.spec.grades:
        present = sum(1 for pupil in world.students if pupil.grade_level == grade_level)
        for _ in range(CLASS_SIZE * world.scale - present):
            new_student(world, names, grade_level, entry_year(grade_level), StudentStatus.ENROLLED)
    enrolled = len(world.students)
    for status, share in world.spec.inactive:
        for _ in range(max(1, round(enrolled * share))):
            if status is StudentStatus.GRADUATED:
                new_student(world, names, 12, entry_year(12) - 1, status)
            else:
                grade_level = rng.choice(world.spec.grades)
                new_student(world, names, grade_level, entry_year(grade_level), status)


def new_student(
    world: World, names: NameMaker, grade_level: int, entered: int, status: StudentStatus
) -> None:
    rng = world.rng
    joined = utc(entered, 8, 17, 14) + timedelta(days=rng.randint(0, 10), minutes=rng.randint(0, 300))
    tier = Tier.PREMIUM if rng.random() < 0.15 else Tier.FREE
    member = names.person(Role.STUDENT, world.calendar.moment(joined), tier)
    member.active = status is not StudentStatus.WITHDRAWN
    world.members.append(member)
    add_pupil(world, member, grade_level, entered, status)


def plan_sections(world: World, names: NameMaker) -> None:
    """`scale` sections of each course; the first of a featured course goes to its demo teacher."""
    spec = world.spec
    featured = {offer.course_code: offer for offer in spec.featured}
    for index, department in enumerate(spec.departments):
        for course in offered_courses(spec, department):
            period = (index + course.grade_level) % len(spec.departments)
            roster = class_list(world, course.grade_level)
            for number in range(1, world.scale + 1):
                offer = featured.get(course.code) if number == 1 else None
                if offer is not None:
                    teacher = world.account_teacher(offer.teacher)
                    co_teacher = world.account_teacher(offer.co_teacher) if offer.co_teacher else None
                else:
                    teacher, co_teacher = free_teacher(world, names, department, period), None
                    teacher.busy.add(period)
                students = roster[(number - 1) * CLASS_SIZE : number * CLASS_SIZE]
                term = world.calendar.term
                world.sections.append(
                    Section(course, department, term, period, number, teacher, co_teacher, students)
                )


def offered_courses(spec: SchoolSpec, department: Department) -> list[CourseSpec]:
    return [course for course in department.courses if course.grade_level in spec.grades]


def class_list(world: World, grade_level: int) -> list[Pupil]:
    """The enrolled students of a grade level, demo students first (so in the featured sections)."""
    pupils = [
        p for p in world.students if p.grade_level == grade_level and p.status is StudentStatus.ENROLLED
    ]
    demo = [p for p in pupils if p.member.key is not None]
    others = [p for p in pupils if p.member.key is None]
    world.rng.shuffle(others)
    return demo + others


def free_teacher(world: World, names: NameMaker, department: Department, period: int) -> Teacher:
    """A generated teacher of the department who has no class in the period, hired if need be."""
    for teacher in world.teachers:
        if teacher.department is department and teacher.member.key is None and period not in teacher.busy:
            return teacher
    joined = utc(world.rng.randint(2012, 2025), 8, 10, 14) + timedelta(days=world.rng.randint(0, 14))
    member = names.person(Role.TEACHER, world.calendar.moment(joined))
    world.members.append(member)
    return add_teacher(world, member, department)


def plan_past_sections(world: World) -> None:
    """Last spring, each section's students took the course before theirs, from today's teacher of it."""
    by_course = {(section.course.code, section.number): section for section in world.sections}
    for section in list(world.sections):
        previous = next(
            (
                course
                for course in offered_courses(world.spec, section.department)
                if course.grade_level == section.course.grade_level - 1
            ),
            None,
        )
        if previous is None:
            continue
        taught = by_course[(previous.code, section.number)]
        world.past_sections.append(
            Section(
                previous,
                section.department,
                world.calendar.last_term,
                taught.period,
                section.number,
                taught.teacher,
                None,
                section.students,
            )
        )


def plan_links(world: World) -> None:
    """Guardians and mentors look after the school's first demo student; mentors also the three weakest."""
    child = next(pupil for pupil in world.students if pupil.member.key is not None)
    enrolled = [p for p in world.students if p.member.key is None and p.status is StudentStatus.ENROLLED]
    weakest = sorted(enrolled, key=lambda pupil: pupil.ability)[:3]
    for member in world.accounts.values():
        if member.role is Role.GUARDIAN:
            world.guardian_links.append((member, child))
        elif member.role is Role.MENTOR:
            world.mentor_links.extend((member, mentee) for mentee in [child, *weakest])
