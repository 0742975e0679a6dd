"""Reports as the API shows them: the gradebook's export and a student's transcript, each a
file behind a signed URL."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from resolvers import reports
from schema.base import Info, UserError


@strawberry.enum
class ExportFormat(enum.Enum):
    CSV = "CSV"
    PDF = "PDF"


@strawberry.input
class ExportGradebookInput:
    class_id: strawberry.ID
    format: ExportFormat


@strawberry.input
class GenerateTranscriptInput:
    student_id: strawberry.ID


@strawberry.type(description="A file behind a signed URL; after `expiresAt` the URL answers 403.")
class FileLinkPayload:
    url: str | None
    expires_at: datetime | None
    user_errors: list[UserError]


@strawberry.type
class ReportMutations:
    @strawberry.mutation(description="The grade sheet as CSV or PDF, for whoever may read it.")
    async def export_gradebook(self, info: Info, input: ExportGradebookInput) -> FileLinkPayload:
        url, expires_at = await reports.export_gradebook(
            info.context, str(input.class_id), input.format.value
        )
        return FileLinkPayload(url=url, expires_at=expires_at, user_errors=[])

    @strawberry.mutation(description="A PDF transcript, for the student, their guardians and school staff.")
    async def generate_transcript(self, info: Info, input: GenerateTranscriptInput) -> FileLinkPayload:
        url, expires_at = await reports.generate_transcript(info.context, str(input.student_id))
        return FileLinkPayload(url=url, expires_at=expires_at, user_errors=[])
