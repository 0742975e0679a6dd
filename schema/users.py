"""Schools and users as the API shows them."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import strawberry

from models import School as SchoolModel
from models import User as UserModel
from resolvers.ids import encode_id
from schema.base import Info, Node
from schema.enums import Role, Tier


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
