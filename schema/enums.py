"""The domain enums, registered as GraphQL enums (Strawberry marks the classes in place)."""

from __future__ import annotations

import strawberry

from models.enums import Role, StudentStatus, Tier

for domain_enum in (Role, StudentStatus, Tier):
    strawberry.enum(domain_enum)

__all__ = ["Role", "StudentStatus", "Tier"]
