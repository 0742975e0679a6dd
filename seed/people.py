"""Writing a school's people: the users (all with the one demo password hash), their student and
teacher profiles, and the links of guardians and mentors to the students they look after.
"""

from __future__ import annotations

from models import EmergencyContact, GuardianLink, MentorLink, StudentProfile, TeacherProfile, User
from models.enums import UserStatus
from seed.calendar import utc
from seed.world import World
from seed.writer import Writer


async def create_people(db: Writer, world: World, password_hash: str) -> None:
    """Users (all with the one demo password hash), then student and teacher profiles."""
    rows = [
        {
            "school_id": world.school_id,
            "email": member.email,
            "name": member.name,
            "password_hash": password_hash,
            "role": member.role,
            "tier": member.tier,
            "status": UserStatus.ACTIVE if member.active else UserStatus.DEACTIVATED,
            "created_at": member.joined,
        }
        for member in world.members
    ]
    user_ids = await db.insert_returning_ids(User, rows, key=("email",))
    for member, user_id in zip(world.members, user_ids, strict=True):
        member.id = user_id
    await db.insert(
        StudentProfile,
        [
            {
                "user_id": pupil.member.id,
                "school_id": world.school_id,
                "student_number": pupil.number,
                "grade_level": pupil.grade_level,
                "cohort_year": pupil.cohort_year,
                "status": pupil.status,
            }
            for pupil in world.students
        ],
    )
    await db.insert(
        TeacherProfile,
        [
            {
                "user_id": teacher.member.id,
                "school_id": world.school_id,
                "department": teacher.department.name,
                "session_rate_cents": teacher.rate_cents,
                "currency": "USD",
            }
            for teacher in world.teachers
        ],
    )


async def create_links(db: Writer, world: World) -> None:
    linked = world.calendar.moment(utc(2026, 9, 8, 14))
    await db.insert(
        GuardianLink,
        [
            {
                "guardian_id": guardian.id,
                "student_id": child.member.id,
                "relationship": "mother",
                "linked_at": linked,
            }
            for guardian, child in world.guardian_links
        ],
    )
    # The guardian is the first person to call; the number is one of the 555-01xx fictional ones.
    await db.insert(
        EmergencyContact,
        [
            {
                "student_id": child.member.id,
                "position": 0,
                "name": guardian.name,
                "relationship": "mother",
                "phone": f"+1 202-555-01{int(child.number[-2:]) % 100:02d}",
                "email": guardian.email,
            }
            for guardian, child in world.guardian_links
        ],
    )
    await db.insert(
        MentorLink,
        [
            {"mentor_id": mentor.id, "student_id": mentee.member.id, "created_at": linked}
            for mentor, mentee in world.mentor_links
        ],
    )
