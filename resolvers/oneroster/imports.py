"""importRoster, rosterImport(s) and rosterImportProgress: starting an import, reading it, following it.

An upload is the set's CSV files or one zip of them; either way the import keeps one zip
(`RosterImport.payload`), so any process can run it. A set of at most INLINE_MAX_ROWS lines
runs in the request (the answer is its final state); a larger one is QUEUED for the worker
(the answer is QUEUED, and `rosterImportProgress` follows it): 2,000 lines take about a second,
while 60,000 would hold a request for most of a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import zipfile
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, tuple_
from starlette.datastructures import UploadFile

from context import AppState, Context
from errors import BadInput, Forbidden, Problem
from models import RosterImport, RosterImportProblem
from models.base import utcnow
from models.enums import RosterImportStatus
from resolvers.ids import decode_id_of
from resolvers.oneroster.csv_files import MAX_FILES, PackageRejected, RosterPackage, plan_files
from resolvers.oneroster.importer import FINAL_STATUSES, run_import
from resolvers.oneroster.progress import LeaseLost
from resolvers.pagination import Page, decode_cursor, encode_cursor, newest_first, page_size
from resolvers.photos import TooLarge, read_upload_limited
from resolvers.policy import NOT_VISIBLE
from resolvers.roster_rules import require_staff
from stores.media import safe_filename
from subscriptions.channels import roster_import_channel
from subscriptions.events import RosterImportProgressed

INLINE_MAX_ROWS = 2_000
MAX_PROBLEMS_PAGE = 100
# A subscriber reads the import again this often even without an event (pub/sub may lose one).
RECHECK_SECONDS = 5.0
ZIP_MAGIC = b"PK\x03\x04"
FILES_FIELD = ("input", "files")


@dataclass(frozen=True)
class Upload:
    name: str
    data: bytes


def package_of(uploads: Sequence[Upload]) -> bytes:
    """The set as one zip: the zip itself, or a new zip of the CSV files. PackageRejected (its
    message safe to show) for anything else."""
    if len(uploads) == 1 and uploads[0].data.startswith(ZIP_MAGIC):
        payload = uploads[0].data
    else:
        if not uploads or len(uploads) > MAX_FILES:
            raise PackageRejected(f"Send 1 to {MAX_FILES} CSV files, or one zip of them.")
        names = [upload.name for upload in uploads]
        if any(not name.endswith(".csv") for name in names) or len(set(names)) != len(names):
            raise PackageRejected("Send CSV files with distinct names (users.csv...), or one zip of them.")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for upload in uploads:
                archive.writestr(upload.name, upload.data)
        payload = buffer.getvalue()
    RosterPackage.open(payload)  # refuses what is not a set
    return payload


def rows_of(payload: bytes) -> tuple[list[str], int]:
    """The set's file names and the number of lines an import of it reads."""
    package = RosterPackage.open(payload)
    return package.file_names, sum(package.count_lines(name) for name in plan_files(package).files)


async def create_import(
    app: AppState,
    payload: bytes,
    *,
    school_id: int,
    started_by_id: int | None,
    dry_run: bool,
    inline_max: int | None,
) -> RosterImport:
    """The import's row: RUNNING, for its starter to run at once (its first run, leased to it: see
    claims.py), when it has at most `inline_max` lines (None: any number); else QUEUED for the worker."""
    file_names, total = await asyncio.to_thread(rows_of, payload)
    run_now = inline_max is None or total <= inline_max
    status = RosterImportStatus.RUNNING if run_now else RosterImportStatus.QUEUED
    async with app.writer_session_factory.begin() as session:
        job = RosterImport(
            school_id=school_id, started_by_id=started_by_id, status=status, dry_run=dry_run,
            file_names=file_names, total=total, processed=0, counts={}, payload=payload,
            heartbeat_at=utcnow() if run_now else None, attempts=1 if run_now else 0,
        )  # fmt: skip
        session.add(job)
    return job


async def start_import(
    ctx: Context, files: Sequence[UploadFile], dry_run: bool
) -> RosterImport | list[Problem]:
    """Staff and admins (others FORBIDDEN) upload a set: run now when small, else queued."""
    user = require_staff(ctx)
    uploads: list[Upload] = []
    for index, upload in enumerate(files):
        name = safe_filename(upload.filename or "upload")
        try:
            uploads.append(Upload(name, await read_upload_limited(upload, ctx.settings.max_upload_bytes)))
        except TooLarge as too_large:
            return [Problem(f"{name}: {too_large}", "FILE_TOO_LARGE", (*FILES_FIELD, str(index)))]
    try:
        payload = await asyncio.to_thread(package_of, uploads)
    except PackageRejected as rejected:
        return [Problem(str(rejected), "INVALID", FILES_FIELD)]
    job = await create_import(
        ctx.app,
        payload,
        school_id=user.school_id,
        started_by_id=user.id,
        dry_run=dry_run,
        inline_max=INLINE_MAX_ROWS,
    )
    if job.status == RosterImportStatus.RUNNING:
        with contextlib.suppress(LeaseLost):  # a worker took it over: the answer is its state
            await run_import(ctx.app, job.id)
    return await _load(ctx, job.id)


async def _load(ctx: Context, import_id: int) -> RosterImport:
    async with ctx.session_factory() as session:
        job = await session.get(RosterImport, import_id)
    assert job is not None
    return job


async def visible_import(ctx: Context, global_id: str) -> RosterImport:
    """An import of the caller's school (staff and admins); another school's, or none: FORBIDDEN."""
    user = require_staff(ctx)
    import_id = decode_id_of(global_id, "RosterImport")
    async with ctx.session_factory() as session:
        job = await session.get(RosterImport, import_id)
    if job is None or job.school_id != user.school_id:
        raise Forbidden(NOT_VISIBLE)
    return job


async def imports_page(ctx: Context, first: int | None, after: str | None) -> Page[RosterImport]:
    """The school's imports, newest first."""
    user = require_staff(ctx)
    query = select(RosterImport).where(RosterImport.school_id == user.school_id)
    async with ctx.session_factory() as session:
        return await newest_first(
            session, query, RosterImport.id, page_size(first, ctx.settings.max_page_size), after
        )


def _problem_cursor(problem: RosterImportProblem) -> str:
    return encode_cursor(f"{problem.line or 0}:{problem.id}:{problem.file}")


def _after(cursor: str) -> tuple[str, int, int]:
    line, _, rest = decode_cursor(cursor).partition(":")
    problem_id, _, file = rest.partition(":")
    if not (line.isascii() and line.isdigit() and problem_id.isascii() and problem_id.isdigit()):
        raise BadInput("Not a valid cursor.")
    return file, int(line), int(problem_id)


async def problems_page(
    ctx: Context, import_id: int, first: int | None, after: str | None
) -> Page[RosterImportProblem]:
    """An import's problems in file and line order (a file's own problems, without a line, first)."""
    size = page_size(first, MAX_PROBLEMS_PAGE)
    order = (RosterImportProblem.file, func.coalesce(RosterImportProblem.line, 0), RosterImportProblem.id)
    query = select(RosterImportProblem).where(RosterImportProblem.import_id == import_id)
    async with ctx.session_factory() as session:
        total = await session.scalar(select(func.count()).select_from(query.subquery()))
        if after is not None:
            query = query.where(tuple_(*order) > tuple_(*_after(after)))
        rows = list((await session.scalars(query.order_by(*order).limit(size + 1))).all())
    items = rows[:size]
    return Page(items, [_problem_cursor(row) for row in items], total or 0, len(rows) > size)


async def progress_updates(ctx: Context, global_id: str) -> AsyncGenerator[RosterImport, None]:
    """The import at once, then again after each change (from any process), until it is final."""
    job = await visible_import(ctx, global_id)
    async with ctx.bus.subscribe(roster_import_channel(job.id), RosterImportProgressed) as events:
        job = await _load(ctx, job.id)  # read after subscribing: no change is missed in between
        yield job
        pending = asyncio.ensure_future(anext(events))
        try:
            while job.status not in FINAL_STATUSES:
                done, _ = await asyncio.wait({pending}, timeout=RECHECK_SECONDS)
                if done:
                    pending.result()
                    pending = asyncio.ensure_future(anext(events))
                ctx.fresh_loaders()
                fresh = await _load(ctx, job.id)
                if _state(fresh) != _state(job):
                    yield fresh
                job = fresh
        finally:
            pending.cancel()
            await asyncio.gather(pending, return_exceptions=True)


def _state(job: RosterImport) -> tuple[object, ...]:
    return job.status, job.processed, job.total, job.finished_at, repr(job.counts)
