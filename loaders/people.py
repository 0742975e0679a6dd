"""Batched reads behind a person's records: a student's emergency contacts and guardians, a
guardian's wards."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loaders.base import RowsByKeyLoader
from models import EmergencyContact, GuardianLink


class PeopleLoaders:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self.emergency_contacts_by_student: RowsByKeyLoader[int, EmergencyContact] = RowsByKeyLoader(
            session_factory,
            EmergencyContact.student_id,
            order_by=[EmergencyContact.position, EmergencyContact.id],
        )
        self.guardian_links_by_student: RowsByKeyLoader[int, GuardianLink] = RowsByKeyLoader(
            session_factory, GuardianLink.student_id, order_by=[GuardianLink.linked_at, GuardianLink.id]
        )
        self.guardian_links_by_guardian: RowsByKeyLoader[int, GuardianLink] = RowsByKeyLoader(
            session_factory, GuardianLink.guardian_id, order_by=[GuardianLink.linked_at, GuardianLink.id]
        )
