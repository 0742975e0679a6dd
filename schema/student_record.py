"""The parts of a student's record the school keeps beside the profile: the sourced id, the
guardians (the school's staff and admins, the student and their guardians) and the emergency
contacts (the school's staff and admins only).

A base class of the type it extends, so that it is written apart from that type's module, which
it must not import at import time (strawberry.lazy for the way back).
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from errors import Forbidden
from resolvers.policy import SCHOOL_WIDE_ROLES, Relation, relation_to_student, require_user
from schema.base import Info
from schema.users import User

GUARDIANS_SEEN_BY = frozenset({Relation.SELF, Relation.SCHOOL, Relation.GUARDIAN})


@strawberry.type(description="Whom to call about a student, in the school's order.")
class EmergencyContact:
    name: str
    relationship: str
    phone: str
    email: str | None


@strawberry.type(description="A guardian of a student, and since when.")
class GuardianLink:
    relationship: str
    linked_at: datetime
    user: User


@strawberry.type
class StudentRecordFields:
    student_id: strawberry.Private[int]
    school_id: strawberry.Private[int]

    @strawberry.field(description="The student's id in the school's SIS (OneRoster), if it came from there.")
    async def sourced_id(self, info: Info) -> str | None:
        return (await info.context.loaders.user_by_id.load_existing(self.student_id)).sourced_id

    @strawberry.field(
        description="Whom to call, in order: the school's staff and admins only (FORBIDDEN for anyone else)."
    )
    async def emergency_contacts(self, info: Info) -> list[EmergencyContact] | None:
        caller = require_user(info.context)
        if caller.role not in SCHOOL_WIDE_ROLES or caller.school_id != self.school_id:
            raise Forbidden("Emergency contacts are for the school's staff and admins.")
        rows = await info.context.loaders.people.emergency_contacts_by_student.load(self.student_id)
        return [
            EmergencyContact(name=row.name, relationship=row.relationship, phone=row.phone, email=row.email)
            for row in rows
        ]

    @strawberry.field(
        description="The student's guardians, the earliest linked first: for the school's staff and "
        "admins, the student and their guardians (FORBIDDEN for anyone else)."
    )
    async def guardians(self, info: Info) -> list[GuardianLink] | None:
        if await relation_to_student(info.context, self.student_id, self.school_id) not in GUARDIANS_SEEN_BY:
            raise Forbidden(
                "A student's guardians are for the school's staff, the student and the guardians."
            )
        loaders = info.context.loaders
        links = await loaders.people.guardian_links_by_student.load(self.student_id)
        users = await loaders.user_by_id.load_many([link.guardian_id for link in links])
        return [
            GuardianLink(relationship=link.relationship, linked_at=link.linked_at, user=User.from_model(user))
            for link, user in zip(links, users, strict=True)
            if user is not None
        ]
