"""Who is calling: the signed-in user as every resolver sees it."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from models.enums import Role, Tier
from models.users import User


@dataclass(frozen=True)
class CurrentUser:
    id: int
    school_id: int
    role: Role
    tier: Tier
    name: str
    email: str

    @classmethod
    def from_model(cls, user: User) -> CurrentUser:
        return cls(user.id, user.school_id, user.role, user.tier, user.name, user.email)


class SignInMethod(enum.Enum):
    """How a session began; stored on each of its refresh tokens (RefreshToken.sign_in_method)."""

    PASSWORD = "PASSWORD"  # noqa: S105 (a name, not a password)
    INVITATION = "INVITATION"
    SSO = "SSO"
