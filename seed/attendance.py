"""Writing attendance: one record per student for each meeting of this term's classes before the
seeding day, mostly present and absent, excused or late as often as the student tends to be;
guardians are told of absences and late arrivals.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from models import AttendanceRecord
from models.enums import AttendanceStatus
from seed.calendar import PERIODS
from seed.world import Pupil, Section, World, local_day
from seed.writer import Row, Writer

EXCUSES = ("Doctor's appointment", "Illness, note from parent", "Family emergency", "School sports trip")


async def create_attendance(db: Writer, world: World) -> None:
    """One record per student for each meeting of this term's classes before today."""
    guardians = {child: guardian for guardian, child in world.guardian_links}
    calendar = world.calendar
    days = calendar.school_days(calendar.term.starts_on, calendar.today - timedelta(days=1))
    rows: list[Row] = []
    for section in world.sections:
        period = PERIODS[section.period]
        for day in (day for day in days if day.weekday() in period.weekdays):
            starts, ends = world.local(day, period.starts), world.local(day, period.ends)
            for pupil in section.students:
                row = attendance(world.rng, section, pupil, day, (starts, ends))
                rows.append(row)
                guardian = guardians.get(pupil)
                status = row["status"]
                if guardian is not None and status in (AttendanceStatus.ABSENT, AttendanceStatus.LATE):
                    world.notify(
                        guardian,
                        "attendance",
                        f"{pupil.member.first_name} was {status.value.lower()} in {section.title}",
                        f"{local_day(world, starts)}, period {section.period + 1}",
                        starts + timedelta(hours=1),
                    )
    await db.insert(AttendanceRecord, rows)


def attendance(
    rng: random.Random, section: Section, pupil: Pupil, day: date, meeting: tuple[datetime, datetime]
) -> Row:
    """Mostly present; absent, excused and late as often as the student tends to be."""
    starts, ends = meeting
    draw = rng.random()
    check_in: datetime | None = None
    check_out: datetime | None = None
    note = None
    if draw < pupil.absence_rate * 0.7:
        status = AttendanceStatus.ABSENT
    elif draw < pupil.absence_rate:
        status, note = AttendanceStatus.EXCUSED, rng.choice(EXCUSES)
    elif draw < pupil.absence_rate + 0.05:
        status, check_out = AttendanceStatus.LATE, ends
        check_in = starts + timedelta(minutes=rng.randint(5, 20))
    else:
        status, check_out = AttendanceStatus.PRESENT, ends
        check_in = starts - timedelta(minutes=rng.randint(0, 6))
    return {
        "class_id": section.id,
        "student_id": pupil.member.id,
        "date": day,
        "status": status,
        "check_in_at": check_in,
        "check_out_at": check_out,
        "note": note,
        "recorded_by_id": section.teacher.member.id,
        "recorded_at": starts + timedelta(minutes=15),
    }
