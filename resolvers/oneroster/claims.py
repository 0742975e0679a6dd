"""Who runs an import: claims, the run's lease, take-overs, hand-backs, giving up.

- **Claim.** A worker takes the oldest QUEUED import with a conditional UPDATE (QUEUED → RUNNING),
  so each runs in exactly one of the processes polling (`claim_next`).
- **Lease.** A RUNNING import belongs to its run while the run beats: every batch's commit sets
  `heartbeat_at` (progress.write_progress), and does so only while `attempts` is still the run's
  number. An import whose heartbeat is older than LEASE (its process died, or hangs) is taken
  over by a worker, with a conditional UPDATE again, so that exactly one worker takes each; the
  new run starts from the first line (imports are idempotent) under a new number, so the old run,
  should it wake, meets LeaseLost at its next batch and writes nothing more.
- **Hand-back.** A worker told to stop puts its import back in the queue (`hand_back`); that run
  does not count as an attempt.
- **Giving up.** `attempts` counts the runs that neither finished nor handed back (the current one
  included). An import whose MAX_ATTEMPTS runs all died is not run again (a set that kills its
  worker would otherwise do so forever): it ends FAILED with a problem saying so.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update

from context import AppState, Context
from models import RosterImport, RosterImportProblem
from models.base import utcnow
from models.enums import RosterImportStatus
from resolvers import audit
from resolvers.oneroster.progress import ProblemRow, announce, held_by, write_problems

LEASE = timedelta(minutes=2)
"""How long a RUNNING import may go without a heartbeat before a worker takes it over. A run
beats after every batch (BATCH_LINES lines, well under a second; the longest wait between beats
is reading the set before its first batch, seconds for the largest), so only a dead or hung
process stays silent this long. Clocks of the processes are compared: they may differ by far
less than this."""
MAX_ATTEMPTS = 3
"""Runs of one import that may die before it ends FAILED instead of being taken over again."""
CLAIM_CANDIDATES = 10


def _stale(cutoff: datetime) -> ColumnElement[bool]:
    """RUNNING without a heartbeat since `cutoff` (none at all: written by an older version)."""
    return and_(
        RosterImport.status == RosterImportStatus.RUNNING,
        or_(RosterImport.heartbeat_at.is_(None), RosterImport.heartbeat_at < cutoff),
    )


async def claim_next(app: AppState) -> int | None:
    """The oldest QUEUED import, or one whose run died (stale), now RUNNING and this caller's to
    run; None when there is none. A dead import that used up its attempts is ended on the way."""
    cutoff = utcnow() - LEASE
    async with app.session_factory() as session:
        candidates = (
            await session.execute(
                select(RosterImport.id, RosterImport.status, RosterImport.attempts)
                .where(or_(RosterImport.status == RosterImportStatus.QUEUED, _stale(cutoff)))
                .order_by(RosterImport.id)
                .limit(CLAIM_CANDIDATES)
            )
        ).all()
    for import_id, status, attempts in candidates:
        if status == RosterImportStatus.RUNNING and attempts >= MAX_ATTEMPTS:
            await _give_up(app, import_id, attempts, cutoff)
        elif await _take(app, import_id, cutoff):
            return int(import_id)
    return None


async def _take(app: AppState, import_id: int, cutoff: datetime) -> bool:
    """Claims the import if it is still QUEUED or stale, as a new run from its first line."""
    return await _start_over(
        app,
        import_id,
        and_(
            or_(RosterImport.status == RosterImportStatus.QUEUED, _stale(cutoff)),
            RosterImport.attempts < MAX_ATTEMPTS,
        ),
        status=RosterImportStatus.RUNNING,
        heartbeat_at=utcnow(),
        attempts=RosterImport.attempts + 1,
    )


async def hand_back(app: AppState, import_id: int, attempt: int) -> None:
    """Puts run `attempt`'s import back in the queue, as new (unless it is no longer that run's)."""
    await _start_over(
        app, import_id, held_by(import_id, attempt), status=RosterImportStatus.QUEUED, attempts=attempt - 1
    )


async def _start_over(
    app: AppState, import_id: int, condition: ColumnElement[bool], **values: object
) -> bool:
    """Sets `values` and no progress yet on the import, and drops its problems (the next run finds
    them again), if `condition` still holds when the row is written; whether it did."""
    async with app.writer_session_factory.begin() as session:
        changed = await session.execute(
            update(RosterImport)
            .where(RosterImport.id == import_id, condition)
            .values(processed=0, counts={}, **values)
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            return False
        await session.execute(delete(RosterImportProblem).where(RosterImportProblem.import_id == import_id))
    await announce(app.bus, import_id)
    return True


async def _give_up(app: AppState, import_id: int, attempts: int, cutoff: datetime) -> None:
    """Ends a stale import whose `attempts` runs all died FAILED (if no other worker did first),
    keeping what its last run reported and adding a problem that says why."""
    message = (
        f"The import was started {attempts} times and each run stopped before the end (its process"
        " ended); lines imported before were kept. Import the set again, or in smaller parts."
    )
    ctx = Context(app=app, request=None, response=None)
    async with app.writer_session_factory.begin() as session:
        ended = (
            await session.execute(
                update(RosterImport)
                .where(RosterImport.id == import_id, _stale(cutoff), RosterImport.attempts == attempts)
                .values(status=RosterImportStatus.FAILED, finished_at=utcnow(), payload=None)
                .returning(
                    RosterImport.school_id,
                    RosterImport.started_by_id,
                    RosterImport.dry_run,
                    RosterImport.counts,
                )
                .execution_options(synchronize_session=False)
            )
        ).one_or_none()
        if ended is None:
            return
        await write_problems(session, import_id, [ProblemRow("", None, None, None, "FAILED", message)])
        problems = await session.scalar(
            select(func.count())
            .select_from(RosterImportProblem)
            .where(RosterImportProblem.import_id == import_id)
        )
        detail = {
            "dryRun": ended.dry_run, "status": RosterImportStatus.FAILED.value, "counts": ended.counts,
            "problems": problems or 0,
        }  # fmt: skip
        audit.record(
            session, ctx, "roster.imported", "RosterImport", import_id, actor_id=ended.started_by_id,
            school_id=ended.school_id, detail=detail,
        )  # fmt: skip
    await announce(app.bus, import_id)
