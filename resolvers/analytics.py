"""Keeping the risk snapshots current, and reading them for search and analytics."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select

from loaders.signals import Executor, gather_signals
from models import StudentProfile, StudentRisk
from models.risk import assess
from models.upsert import upsert_insert

REFRESH_CHUNK = 500


async def refresh_student_risk(db: Executor, student_ids: Sequence[int], as_of: datetime) -> None:
    """Recomputes the snapshots of these students; writes call it in their own transaction
    whenever grades, attendance or sessions change.

    An upsert, in student order: two transactions refreshing the same student (two teachers
    grading them at once) then wait for each other instead of colliding on the primary key."""
    for start in range(0, len(student_ids), REFRESH_CHUNK):
        chunk = list(student_ids[start : start + REFRESH_CHUNK])
        schools = dict(
            (
                await db.execute(
                    select(StudentProfile.user_id, StudentProfile.school_id).where(
                        StudentProfile.user_id.in_(chunk)
                    )
                )
            ).all()
        )
        signals = await gather_signals(db, list(schools), as_of)
        rows = []
        for student_id, school_id in sorted(schools.items()):
            result = assess(signals[student_id])
            rows.append(
                {
                    "student_id": student_id,
                    "school_id": school_id,
                    "risk_score": result.risk_score,
                    "risk_level": result.risk_level,
                    "factors": result.factors,
                    "recommendations": result.recommendations,
                    "success_probability": result.success_probability,
                    "confidence": result.confidence,
                    "key_factors": result.key_factors,
                    "computed_at": as_of,
                }
            )
        gone = set(chunk) - set(schools)
        if gone:
            await db.execute(delete(StudentRisk).where(StudentRisk.student_id.in_(gone)))
        if rows:
            insert = upsert_insert(db, StudentRisk)
            columns = [name for name in rows[0] if name != "student_id"]
            upsert = insert.on_conflict_do_update(
                index_elements=[StudentRisk.student_id],
                set_={name: insert.excluded[name] for name in columns},
            )
            await db.execute(upsert, rows)


async def refresh_school_risk(db: Executor, school_id: int, as_of: datetime) -> None:
    ids = (
        await db.execute(select(StudentProfile.user_id).where(StudentProfile.school_id == school_id))
    ).scalars()
    await refresh_student_risk(db, list(ids), as_of)
