"""Who is related to whom, for the authorization policy: ids of students by teacher, mentor, guardian."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loaders.base import SessionLoader
from models import ClassTeacher, Enrollment, GuardianLink, MentorLink
from models.enums import EnrollmentStatus


class IdsByKeyLoader(SessionLoader[int, frozenset[int]]):
    """Each key's set of related ids, from a query of (key, id) pairs for many keys at once."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        pairs: Callable[[Sequence[int]], Select[int, int]],
    ) -> None:
        super().__init__(session_factory)
        self._pairs = pairs

    async def batch_load_fn(self, keys: Sequence[int]) -> list[frozenset[int]]:
        async with self._session_factory() as session:
            rows = (await session.execute(self._pairs(keys))).all()
        grouped: defaultdict[int, set[int]] = defaultdict(set)
        for key, value in rows:
            grouped[key].add(value)
        return [frozenset(grouped.get(key, ())) for key in keys]


def student_ids_by_teacher(keys: Sequence[int]) -> Select[int, int]:
    """Students actively enrolled in a class the teacher teaches (co-teaching included)."""
    return (
        select(ClassTeacher.teacher_id, Enrollment.student_id)
        .join(Enrollment, Enrollment.class_id == ClassTeacher.class_id)
        .where(ClassTeacher.teacher_id.in_(keys), Enrollment.status == EnrollmentStatus.ACTIVE)
    )


def class_ids_by_teacher(keys: Sequence[int]) -> Select[int, int]:
    return select(ClassTeacher.teacher_id, ClassTeacher.class_id).where(ClassTeacher.teacher_id.in_(keys))


def student_ids_by_mentor(keys: Sequence[int]) -> Select[int, int]:
    return select(MentorLink.mentor_id, MentorLink.student_id).where(MentorLink.mentor_id.in_(keys))


def student_ids_by_guardian(keys: Sequence[int]) -> Select[int, int]:
    return select(GuardianLink.guardian_id, GuardianLink.student_id).where(GuardianLink.guardian_id.in_(keys))
