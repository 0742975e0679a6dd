"""OneRoster CSV import and export (resolvers/oneroster/): importRoster, rosterImport(s),
rosterImportProgress, exportRoster."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import cast

import strawberry
from starlette.datastructures import UploadFile
from strawberry.file_uploads import Upload

from models import RosterImport as RosterImportModel
from models import RosterImportProblem as RosterImportProblemModel
from models.enums import (
    RosterImportStatus,
)  # a GraphQL enum: schema.enums registers it (schema.users imports it)
from resolvers.ids import encode_id
from resolvers.oneroster import exporter, imports
from resolvers.oneroster.progress import ENTITIES
from schema.base import Connection, Info, Node, UserError, connection_of, user_errors
from schema.users import User


@strawberry.type(description="How far an import is: lines read of all the lines of its files.")
class RosterImportProgress:
    processed: int
    total: int


@strawberry.type(
    description="What an import did with one kind of record (users by role: students, teachers, guardians)."
)
class RosterImportCount:
    entity: str
    created: int
    updated: int
    unchanged: int
    failed: int


@strawberry.type(description="A line left out of an import (or a whole file, `line` null), and why.")
class RosterImportProblem:
    file: str
    line: int | None = strawberry.field(description="The line of the file; the header is line 1.")
    field: str | None = strawberry.field(description="The column.")
    sourced_id: str | None
    code: str
    message: str

    @classmethod
    def from_model(cls, problem: RosterImportProblemModel) -> RosterImportProblem:
        return cls(
            file=problem.file, line=problem.line, field=problem.field, sourced_id=problem.sourced_id,
            code=problem.code, message=problem.message,
        )  # fmt: skip


@strawberry.type(
    description="One import of OneRoster CSV files into the school: its state, counts and problems."
)
class RosterImport(Node):
    status: RosterImportStatus
    dry_run: bool
    file_names: list[str]
    created_at: datetime
    finished_at: datetime | None
    progress: RosterImportProgress
    counts: list[RosterImportCount] = strawberry.field(
        description="Per entity, in the order the files are read."
    )
    pk: strawberry.Private[int]
    started_by_id: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, job: RosterImportModel) -> RosterImport:
        counts = job.counts or {}
        return cls(
            id=strawberry.ID(encode_id("RosterImport", job.id)), status=job.status, dry_run=job.dry_run,
            file_names=list(job.file_names or []), created_at=job.created_at, finished_at=job.finished_at,
            progress=RosterImportProgress(processed=job.processed, total=job.total),
            counts=[RosterImportCount(entity=name, **counts[name]) for name in ENTITIES if name in counts],
            pk=job.id, started_by_id=job.started_by_id,
        )  # fmt: skip

    @strawberry.field(description="Who started it; null for the command line.")
    async def started_by(self, info: Info) -> User | None:
        return await User.by_id(info, self.started_by_id)

    @strawberry.field(description="Its problems in file and line order (at most 100 a page).")
    async def problems(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[RosterImportProblem]:
        page = await imports.problems_page(info.context, self.pk, first, after)
        return connection_of(page, RosterImportProblem.from_model)


@strawberry.input
class ImportRosterInput:
    files: list[Upload] = strawberry.field(
        description="The set's CSV files (manifest.csv, users.csv...), or one zip."
    )
    dry_run: bool | None = strawberry.field(
        default=None, description="Report what would change; write nothing."
    )


@strawberry.input
class ExportRosterInput:
    term_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only this term; default: everything."
    )


@strawberry.type
class ImportRosterPayload:
    roster_import: RosterImport | None
    user_errors: list[UserError]


@strawberry.type
class ExportRosterPayload:
    url: str | None = strawberry.field(description="A signed link to the zip; it expires at `expiresAt`.")
    expires_at: datetime | None
    user_errors: list[UserError]


@strawberry.type
class RosterImportQueries:
    @strawberry.field(description="One import of the school (staff and admins).")
    async def roster_import(self, info: Info, id: strawberry.ID) -> RosterImport | None:
        return RosterImport.from_model(await imports.visible_import(info.context, str(id)))

    @strawberry.field(description="The school's imports, newest first (staff and admins).")
    async def roster_imports(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[RosterImport]:
        page = await imports.imports_page(info.context, first, after)
        return connection_of(page, RosterImport.from_model)


@strawberry.type
class RosterImportMutations:
    @strawberry.mutation(
        description="Imports OneRoster 1.2 CSV files (multipart) into the school: small sets at once, "
        "large ones queued for the worker."
    )
    async def import_roster(self, info: Info, input: ImportRosterInput) -> ImportRosterPayload:
        # On Starlette, an Upload is Starlette's UploadFile.
        uploads = [cast(UploadFile, upload) for upload in input.files]
        result = await imports.start_import(info.context, uploads, bool(input.dry_run))
        if isinstance(result, list):
            return ImportRosterPayload(roster_import=None, user_errors=user_errors(result))
        return ImportRosterPayload(roster_import=RosterImport.from_model(result), user_errors=[])

    @strawberry.mutation(description="A signed, expiring link to the school as a OneRoster 1.2 CSV zip.")
    async def export_roster(self, info: Info, input: ExportRosterInput) -> ExportRosterPayload:
        result = await exporter.export_roster(info.context, str(input.term_id) if input.term_id else None)
        if isinstance(result, list):
            return ExportRosterPayload(url=None, expires_at=None, user_errors=user_errors(result))
        return ExportRosterPayload(url=result.url, expires_at=result.expires_at, user_errors=[])


@strawberry.type
class RosterImportSubscriptions:
    @strawberry.subscription(
        description="The import's state at once, then after each change, until it is final."
    )
    async def roster_import_progress(
        self, info: Info, import_id: strawberry.ID
    ) -> AsyncGenerator[RosterImport, None]:
        updates = imports.progress_updates(info.context, str(import_id))
        async with contextlib.aclosing(updates):  # unsubscribed with the subscription
            async for job in updates:
                yield RosterImport.from_model(job)
