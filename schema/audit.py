"""The audit trail, for staff and admins."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from models import AuditEntry as AuditEntryModel
from resolvers import audit
from resolvers.ids import decode_id, encode_id
from schema.base import Connection, Info, Node, connection_of


@strawberry.type(description="Who did what, when, from where. Nobody can change it through the API.")
class AuditEntry(Node):
    action: str
    subject_type: str
    subject_id: strawberry.ID | None
    actor_id: strawberry.ID | None
    ip: str | None
    at: datetime
    detail: JSON

    @classmethod
    def from_model(cls, entry: AuditEntryModel) -> AuditEntry:
        return cls(
            id=strawberry.ID(encode_id("AuditEntry", entry.id)),
            action=entry.action,
            subject_type=entry.subject_type,
            subject_id=strawberry.ID(encode_id(entry.subject_type, entry.subject_id))
            if entry.subject_id
            else None,
            actor_id=strawberry.ID(encode_id("User", entry.actor_id)) if entry.actor_id else None,
            ip=entry.ip,
            at=entry.at,
            detail=cast(JSON, entry.detail),
        )


@strawberry.type
class AuditQueries:
    @strawberry.field(description="The school's audit trail, newest first (staff and admins).")
    async def audit_log(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        subject_id: strawberry.ID | None = None,
    ) -> Connection[AuditEntry]:
        subject_type, subject_pk = decode_id(subject_id) if subject_id else (None, None)
        page = await audit.entries(
            info.context, first=first, after=after, subject_type=subject_type, subject_id=subject_pk
        )
        return connection_of(page, AuditEntry.from_model)
