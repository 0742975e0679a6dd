"""Running one import: its files in dependency order, in batches, with progress as it goes.

- **Batches.** Each file is read BATCH_LINES lines at a time; a batch is one transaction: its
  lookups, its writes (one statement per table), its problems and the import's new progress
  commit together, and RosterImportProgressed goes out after the commit. An import of 60,000
  lines is about 120 transactions, so other writers wait for a batch, never for the import;
  memory holds one batch of lines and the school's index (see index.py), never a file.
- **Lines whole.** A step checks a line fully before it plans any write for it, so a refused
  line writes nothing. Should a batch meet another writer's row all the same (two imports of one
  set at once: a unique key taken meanwhile), it is rolled back and applied again against a
  freshly loaded index (then, should it collide again, one line at a time); a line that still
  collides is CONFLICT.
- **Dry run.** The same steps run against read-only sessions and skip their writes (created rows
  get fake ids, later lines see them); the import's own row and problems are still written, so
  the dry run reports the same counts and problems as the real one would and can be read back.
- **Who runs it.** Small sets run in the request that uploads them (`imports.start_import`);
  larger ones are QUEUED for `worker.py`'s loop, which claims one (claims.py), so each runs
  exactly once however many processes poll. Each batch's commit is the run's heartbeat; an import
  whose run died is taken over by a worker after claims.LEASE, and one whose runs keep dying ends
  FAILED. A worker told to stop puts its import back in the queue at the next batch; as imports
  are idempotent, the next run starts again from the first line (lines already written then
  count as unchanged).
- **The end.** COMPLETED, COMPLETED_WITH_ERRORS (any problem) or FAILED (the set could not be
  read, or an unexpected error, logged); the uploaded files are then dropped (`payload`), one
  audit entry records the counts, and the changed classes' and students' dashboards are told.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from context import AppState, Context
from models import RosterImport, School
from models.base import utcnow
from models.enums import RosterImportStatus
from resolvers import audit
from resolvers.after_commit import teacher_dashboards_changed
from resolvers.oneroster.academics import ClassesStep, CoursesStep, OrgsStep, SessionsStep
from resolvers.oneroster.batch import Batch, Step
from resolvers.oneroster.claims import hand_back
from resolvers.oneroster.csv_files import FileProblem, Line, PackageRejected, RosterPackage, plan_files
from resolvers.oneroster.enrollments import EnrollmentsStep
from resolvers.oneroster.guardians import DemographicsStep, GuardianLinksStep
from resolvers.oneroster.index import SchoolIndex, load_index
from resolvers.oneroster.people import People, RolesStep, UsersStep
from resolvers.oneroster.progress import LeaseLost, ProblemRow, Tally, announce, write_progress
from resolvers.student_dashboard import dashboards_changed

log = logging.getLogger("campusgraph.oneroster")

FINAL_STATUSES = frozenset(
    {RosterImportStatus.COMPLETED, RosterImportStatus.COMPLETED_WITH_ERRORS, RosterImportStatus.FAILED}
)
# SQLSTATEs worth applying a batch again for: a serialization failure, a deadlock.
RETRYABLE_SQLSTATES = ("40001", "40P01")
ProgressHook = Callable[[int, int], None]
# A batch that meets another writer is applied again (against a fresh index) this many times in
# all, then line by line.
BATCH_ATTEMPTS = 2


class Interrupted(Exception):
    """The worker is stopping: the import goes back to the queue."""


def _retryable(error: DBAPIError) -> bool:
    return isinstance(error, IntegrityError) or getattr(error.orig, "sqlstate", None) in RETRYABLE_SQLSTATES


def steps() -> list[Step]:
    """The steps of an import, in the order the files depend on each other."""
    people = People()
    return [
        OrgsStep(), SessionsStep(), CoursesStep(), ClassesStep(), RolesStep(people), UsersStep(people),
        GuardianLinksStep(people), DemographicsStep(), EnrollmentsStep(),
    ]  # fmt: skip


async def run_import(
    app: AppState,
    import_id: int,
    *,
    stop: asyncio.Event | None = None,
    on_progress: ProgressHook | None = None,
) -> RosterImportStatus:
    """Runs a RUNNING import (claimed, or made RUNNING by its starter) to its final status.
    Interrupted when `stop` is set (the import is back in the queue); LeaseLost when a worker took
    the import over meanwhile (this run was silent longer than the lease)."""
    async with app.session_factory() as session:
        job = await session.get(RosterImport, import_id)
        assert job is not None
        assert job.status == RosterImportStatus.RUNNING, "claim the import first"
        timezone = await session.scalar(select(School.timezone).where(School.id == job.school_id))
        index = await load_index(session, job.school_id)
    run = _Run(app, job, index, datetime.now(ZoneInfo(timezone or "UTC")).date(), on_progress)
    try:
        return await run.execute(job.payload or b"", stop)
    except Interrupted:
        await hand_back(app, import_id, run.attempt)
        raise
    except LeaseLost:
        log.warning("roster import %s was taken over by another worker; run %d stops", import_id, run.attempt)
        raise
    except Exception:
        log.exception("roster import %s failed", import_id)
        message = f"The import stopped unexpectedly at {run.file or 'the start'}; lines before were imported."
        return await run.finish(
            RosterImportStatus.FAILED, [ProblemRow(run.file or "", None, None, None, "FAILED", message)]
        )


class _Run:
    def __init__(
        self,
        app: AppState,
        job: RosterImport,
        index: SchoolIndex,
        today: date,
        on_progress: ProgressHook | None,
    ) -> None:
        self.app, self.index, self.today, self.on_progress = app, index, today, on_progress
        self.import_id, self.school_id, self.attempt = job.id, job.school_id, job.attempts
        self.started_by_id, self.dry_run = job.started_by_id, job.dry_run
        self.tally = Tally()
        self.processed = self.total = self.problem_count = 0
        self.file: str | None = None
        self.changed_classes: set[int] = set()
        self.changed_students: set[int] = set()

    async def execute(self, payload: bytes, stop: asyncio.Event | None) -> RosterImportStatus:
        try:
            package = await asyncio.to_thread(RosterPackage.open, payload)
        except PackageRejected as rejected:
            return await self.finish(
                RosterImportStatus.FAILED, [ProblemRow("", None, None, None, "INVALID", str(rejected))]
            )
        plan = await asyncio.to_thread(plan_files, package)
        sizes = {name: await asyncio.to_thread(package.count_lines, name) for name in plan.files}
        self.total = sum(sizes.values())
        await self._bookkeeping(Tally(), 0, [*map(_row, plan.problems)])
        finished: set[str] = set()
        for step in steps():
            if step.file not in plan.files:
                continue
            self.file = step.file
            file_problems: list[FileProblem] = []
            for lines in step.batches(package, file_problems):
                if stop is not None and stop.is_set():
                    raise Interrupted
                await self._batch(step, lines, file_problems)
            await self._batch(step, None, file_problems)
            finished.add(step.file)
            self.processed = max(self.processed, sum(sizes[name] for name in finished))
        status = (
            RosterImportStatus.COMPLETED_WITH_ERRORS if self.problem_count else RosterImportStatus.COMPLETED
        )
        return await self.finish(status)

    def _new_batch(self, session: AsyncSession) -> Batch:
        return Batch(session, self.index, self.file or "", self.dry_run, self.started_by_id, self.today)

    async def _batch(self, step: Step, lines: list[Line] | None, file_problems: list[FileProblem]) -> None:
        """One batch of `step` (`lines`, or its `finish` with None), committed with the progress."""

        def work(batch: Batch, some: list[Line] | None) -> Awaitable[None]:
            return step.finish(batch) if some is None else step.apply(batch, some)

        count = len(lines or ())
        if self.dry_run:
            async with self.app.session_factory() as session:
                batch = self._new_batch(session)
                await work(batch, lines)
            await self._bookkeeping(batch.tally, count, [*batch.problems, *_drain(file_problems)])
            return
        for attempt in range(BATCH_ATTEMPTS):
            try:
                await self._commit(work, lines, count, file_problems)
                return
            except DBAPIError as error:
                if not _retryable(error) or (lines is None and attempt == BATCH_ATTEMPTS - 1):
                    raise
                await self._reload()
        for line in lines or ():
            await self._one_line(work, line, file_problems)

    async def _commit(
        self,
        work: Callable[[Batch, list[Line] | None], Awaitable[None]],
        lines: list[Line] | None,
        count: int,
        file_problems: list[FileProblem],
    ) -> None:
        async with self.app.writer_session_factory.begin() as session:
            batch = self._new_batch(session)
            await work(batch, lines)
            problems = [*batch.problems, *map(_row, file_problems)]
            await self._write(session, batch.tally, count, problems)
        file_problems.clear()
        self._merged(batch.tally, count, len(problems))
        self.changed_classes |= batch.changed_classes
        self.changed_students |= batch.changed_students
        for channel, event in batch.events:
            await self.app.bus.publish(channel, event)
        await self._announce()

    async def _one_line(
        self,
        work: Callable[[Batch, list[Line] | None], Awaitable[None]],
        line: Line,
        file_problems: list[FileProblem],
    ) -> None:
        try:
            await self._commit(work, [line], 1, file_problems)
        except DBAPIError as error:
            if not _retryable(error):
                raise
            await self._reload()
            message = "Another change to this record was written at the same moment; import again."
            conflict = ProblemRow(
                self.file or "", line.number, None, line.get("sourcedId") or None, "CONFLICT", message
            )
            await self._bookkeeping(Tally(), 1, [conflict])

    async def _bookkeeping(self, tally: Tally, count: int, problems: list[ProblemRow]) -> None:
        """Progress and problems in a transaction of their own (dry runs, and refused lines)."""
        async with self.app.writer_session_factory.begin() as session:
            await self._write(session, tally, count, problems)
        self._merged(tally, count, len(problems))
        await self._announce()

    async def _write(
        self, session: AsyncSession, tally: Tally, count: int, problems: list[ProblemRow]
    ) -> None:
        await write_progress(
            session, self.import_id, self.attempt, processed=min(self.total, self.processed + count),
            total=self.total, tally=self.tally.plus(tally), problems=problems,
        )  # fmt: skip

    def _merged(self, tally: Tally, count: int, problems: int) -> None:
        self.tally = self.tally.plus(tally)
        self.processed = min(self.total, self.processed + count)
        self.problem_count += problems

    async def _announce(self) -> None:
        await announce(self.app.bus, self.import_id)
        if self.on_progress is not None:
            self.on_progress(self.processed, self.total)

    async def _reload(self) -> None:
        """The school's index again from the database (after a batch that met another writer)."""
        async with self.app.session_factory() as session:
            fresh = await load_index(session, self.school_id)
        fresh.orgs, fresh.first_session_start = self.index.orgs, self.index.first_session_start
        self.index = fresh

    async def finish(
        self, status: RosterImportStatus, problems: list[ProblemRow] | None = None
    ) -> RosterImportStatus:
        problems = problems or []
        ctx = Context(app=self.app, request=None, response=None)
        async with self.app.writer_session_factory.begin() as session:
            if status != RosterImportStatus.FAILED:
                self.processed = self.total
            await self._write(session, Tally(), 0, problems)
            await session.execute(
                update(RosterImport)
                .where(RosterImport.id == self.import_id)
                .values(status=status, finished_at=utcnow(), payload=None)
                .execution_options(synchronize_session=False)
            )
            detail = {
                "dryRun": self.dry_run, "status": status.value, "counts": self.tally.as_json(),
                "problems": self.problem_count + len(problems),
            }  # fmt: skip
            audit.record(
                session, ctx, "roster.imported", "RosterImport", self.import_id, actor_id=self.started_by_id,
                school_id=self.school_id, detail=detail,
            )  # fmt: skip
        await self._announce()
        if self.changed_classes or self.changed_students:
            await teacher_dashboards_changed(
                self.app, class_ids=self.changed_classes, student_ids=self.changed_students
            )
            await dashboards_changed(self.app, sorted(self.changed_students))
        return status


def _row(problem: FileProblem) -> ProblemRow:
    return ProblemRow(problem.file, problem.line, problem.field, None, problem.code, problem.message)


def _drain(problems: list[FileProblem]) -> list[ProblemRow]:
    drained = [*map(_row, problems)]
    problems.clear()
    return drained
