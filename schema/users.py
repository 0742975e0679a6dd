"""Schools and users as the API shows them."""

from __future__ import annotations

from datetime import datetime

import strawberry

from models import School as SchoolModel
from models import User as UserModel
from resolvers.ids import encode_id
from schema.base import Info, Node
from schema.enums import Role, Tier


@strawberry.type
class School(Node):
    name: str

    @classmethod
    def from_model(cls, school: SchoolModel) -> School:
        return cls(id=strawberry.ID(encode_id("School", school.id)), name=school.name)


@strawberry.type
class User(Node):
    name: str
    email: str
    role: Role
    tier: Tier
    joined_at: datetime
    school_id: strawberry.Private[int]

    @classmethod
    def from_model(cls, user: UserModel) -> User:
        return cls(
            id=strawberry.ID(encode_id("User", user.id)),
            name=user.name,
            email=user.email,
            role=user.role,
            tier=user.tier,
            joined_at=user.created_at,
            school_id=user.school_id,
        )

    @strawberry.field
    async def school(self, info: Info) -> School:
        school = await info.context.loaders.school_by_id.load_existing(self.school_id)
        return School.from_model(school)
