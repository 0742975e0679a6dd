"""Schools and users as the API shows them."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import strawberry

from models import School as SchoolModel
from models import User as UserModel
from models.enums import UserStatus  # a GraphQL enum (schema/enums.py registers it)
from resolvers import audit
from resolvers.ids import encode_id
from resolvers.policy import SCHOOL_WIDE_ROLES
from schema.base import Info, Node
from schema.enums import Role, Tier

if TYPE_CHECKING:
    from schema.academics import Teacher
    from schema.students import Student


@strawberry.type
class School(Node):
    name: str
    time_zone: str = strawberry.field(
        description="IANA time zone (e.g. America/Chicago): the school's days, as in `today`, "
        "attendance dates and monthly figures, are days of this zone."
    )

    @classmethod
    def from_model(cls, school: SchoolModel) -> School:
        return cls(
            id=strawberry.ID(encode_id("School", school.id)), name=school.name, time_zone=school.timezone
        )

    @strawberry.field(description="The school's current calendar day (in its time zone).")
    def today(self) -> date:
        return datetime.now(ZoneInfo(self.time_zone)).date()


@strawberry.type(
    description="A person with an account. Wherever a person appears (a lock's holder, a grade's "
    "author, a chat participant), it is this type with this id, so a client's cache keeps one copy."
)
class User(Node):
    name: str
    pk: strawberry.Private[int]
    # The row, when the parent had it; a reference (`User.ref`) loads it only for fields that need it.
    row: strawberry.Private[UserModel | None] = None

    @classmethod
    def from_model(cls, user: UserModel) -> User:
        return cls(id=strawberry.ID(encode_id("User", user.id)), name=user.name, pk=user.id, row=user)

    @classmethod
    def ref(cls, user_id: int, name: str) -> User:
        """A user known by id and name only (a lock, a presence entry, an event)."""
        return cls(id=strawberry.ID(encode_id("User", user_id)), name=name, pk=user_id)

    @classmethod
    async def by_id(cls, info: Info, user_id: int | None) -> User | None:
        """The account of `user_id` (an author, a closer, a changer); null for none."""
        if user_id is None:
            return None
        user = await info.context.loaders.user_by_id.load(user_id)
        return cls.from_model(user) if user else None

    async def _row(self, info: Info) -> UserModel:
        if self.row is None:
            self.row = await info.context.loaders.user_by_id.load_existing(self.pk)
        return self.row

    @strawberry.field
    async def email(self, info: Info) -> str:
        return (await self._row(info)).email

    @strawberry.field
    async def role(self, info: Info) -> Role:
        return (await self._row(info)).role

    @strawberry.field
    async def tier(self, info: Info) -> Tier:
        return (await self._row(info)).tier

    @strawberry.field
    async def joined_at(self, info: Info) -> datetime:
        return (await self._row(info)).created_at

    @strawberry.field
    async def school(self, info: Info) -> School:
        school_id = (await self._row(info)).school_id
        return School.from_model(await info.context.loaders.school_by_id.load_existing(school_id))

    @strawberry.field
    async def status(self, info: Info) -> UserStatus:
        return (await self._row(info)).status

    async def _own_records(self, info: Info) -> UserModel | None:
        """The row, if the caller may see this person's own records and account dates: the
        person themself and their school's staff and admins."""
        caller = info.context.user
        row = await self._row(info)
        if caller is None or not (
            caller.id == row.id or (caller.role in SCHOOL_WIDE_ROLES and caller.school_id == row.school_id)
        ):
            return None
        return row

    @strawberry.field(description="The last sign-in (the person and their school's staff and admins).")
    async def last_sign_in_at(self, info: Info) -> datetime | None:
        row = await self._own_records(info)
        return row.last_sign_in_at if row else None

    @strawberry.field(description="When the account was deactivated (the person, staff and admins).")
    async def deactivated_at(self, info: Info) -> datetime | None:
        row = await self._own_records(info)
        return row.deactivated_at if row else None

    @strawberry.field(description="The account's id in the school's SIS (OneRoster), if it came from there.")
    async def sourced_id(self, info: Info) -> str | None:
        row = await self._own_records(info)
        return row.sourced_id if row else None

    @strawberry.field(
        description="A student's own record (to the student and their school's staff and admins)."
    )
    async def student(self, info: Info) -> Annotated[Student, strawberry.lazy("schema.students")] | None:
        from schema.students import Student  # noqa: PLC0415 (schema.students imports this module)

        row = await self._own_records(info)
        if row is None or row.role != Role.STUDENT:
            return None
        profile = await info.context.loaders.student_profile_by_user_id.load(row.id)
        if profile is None:
            return None
        if info.context.user and info.context.user.id != row.id:
            audit.note_read(info.context, "Student", row.id)
        return Student.from_model(row, profile)

    @strawberry.field(
        description="A teacher's own record (to the teacher and their school's staff and admins)."
    )
    async def teacher(self, info: Info) -> Annotated[Teacher, strawberry.lazy("schema.academics")] | None:
        from schema.academics import Teacher  # noqa: PLC0415 (schema.academics imports this module)

        row = await self._own_records(info)
        return Teacher.from_model(row) if row is not None and row.role == Role.TEACHER else None

    @strawberry.field(
        description="A guardian's wards, the earliest linked first (to the guardian and their school's "
        "staff and admins; empty for anyone else)."
    )
    async def wards(self, info: Info) -> list[Annotated[Student, strawberry.lazy("schema.students")]]:
        from schema.students import Student  # noqa: PLC0415 (schema.students imports this module)

        row = await self._own_records(info)
        if row is None or row.role != Role.GUARDIAN:
            return []
        loaders = info.context.loaders
        ids = [link.student_id for link in await loaders.people.guardian_links_by_guardian.load(row.id)]
        accounts, profiles = await asyncio.gather(
            loaders.user_by_id.load_many(ids), loaders.student_profile_by_user_id.load_many(ids)
        )
        for student_id in ids:
            audit.note_read(info.context, "Student", student_id)
        return [
            Student.from_model(account, profile)
            for account, profile in zip(accounts, profiles, strict=True)
            if account is not None and profile is not None
        ]
