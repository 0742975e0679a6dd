"""Files made from records: gradebook exports (CSV, PDF) and transcripts (PDF).

Each file is rendered off the event loop, stored under an opaque key, and handed out as a
signed URL that expires (stores/media.py); a wrong or expired signature gets 403.

The resolvers here load the records and apply who may see them. The renderers, in the
modules below, are pure functions made from plain data: the caller loads the data into their
dataclasses, calls one function, and stores the bytes (`MediaStore.save`, then `sign_url`).
Rendering a PDF is CPU-bound (a 120-student, 25-assignment sheet takes about half a second)
and renders take turns within a process: from async code call them with `asyncio.to_thread`.

- `gradebook`: a class's grade sheet (`GradebookSheet`) and `gradebook_pdf`.
- `spreadsheets`: `gradebook_csv`, the same sheet as CSV.
- `transcripts`: a student's record (`Transcript`), `term_gpa` and `transcript_pdf`.
- `pdf`: what the PDFs share (fonts, styles, page furniture, the deterministic render).
- `formatting`: how numbers, times and missing values are written in both formats.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select

from errors import Forbidden
from models import Term
from models.base import utcnow
from resolvers import audit
from resolvers.grading import sheet
from resolvers.policy import require_user
from resolvers.reports.gradebook import GradebookSheet, SheetAssignment, SheetRow, gradebook_pdf
from resolvers.reports.spreadsheets import gradebook_csv
from resolvers.reports.transcripts import printed_transcript, transcript_pdf
from resolvers.students import get_student
from resolvers.transcripts import NOT_A_READER, TRANSCRIPT_READERS, transcript_of
from stores.media import MediaStore, sign_url

if TYPE_CHECKING:
    from context import Context

__all__ = ["export_gradebook", "generate_transcript"]

LINK_SECONDS = 900


async def _store_and_sign(
    ctx: Context, data: bytes, *, suffix: str, filename: str, content_type: str
) -> tuple[str, datetime]:
    key = await asyncio.to_thread(MediaStore(ctx.settings.media_dir).save, data, suffix=suffix)
    return sign_url(
        ctx.settings, key, filename=filename, content_type=content_type,
        expires_in_seconds=LINK_SECONDS, disposition="attachment",
    )  # fmt: skip


async def export_gradebook(ctx: Context, class_global_id: str, file_format: str) -> tuple[str, datetime]:
    """Whoever may read the gradebook may export it (teachers, admins, staff)."""
    grades = await sheet(ctx, class_global_id)
    klass = grades.klass
    loaders = ctx.loaders
    school = await loaders.school_by_id.load_existing(klass.school_id)
    course = await loaders.course_by_id.load_existing(klass.course_id)
    teacher_links = await loaders.teachers_by_class.load(klass.id)
    teachers = await loaders.user_by_id.load_many([link.teacher_id for link in teacher_links])
    profiles = await loaders.student_profile_by_user_id.load_many([row.student.id for row in grades.rows])
    async with ctx.session_factory() as session:
        term_name = await session.scalar(select(Term.name).where(Term.id == klass.term_id)) or ""
    local = ZoneInfo(school.timezone)
    export = GradebookSheet(
        school_name=school.name,
        class_title=klass.title,
        course_code=course.code,
        term_name=term_name,
        teacher_names=[t.name for t in teachers if t is not None],
        generated_at=utcnow().astimezone(local),
        assignments=[
            SheetAssignment(
                title=a.title,
                category=a.category.value.capitalize(),
                max_score=a.max_score,
                due_at=a.due_at.astimezone(local) if a.due_at else None,
            )
            for a in grades.assignments
        ],
        rows=[
            SheetRow(
                student_name=row.student.name,
                student_number=profile.student_number if profile else "",
                scores=[cell.score for cell in row.cells],
                final_percentage=row.final.percentage,
                final_letter=row.final.letter,
            )
            for row, profile in zip(grades.rows, profiles, strict=True)
        ],
    )
    name = f"gradebook-{course.code}-{klass.id}"
    if file_format == "CSV":
        data = gradebook_csv(export)
        link = await _store_and_sign(
            ctx, data, suffix=".csv", filename=f"{name}.csv", content_type="text/csv; charset=utf-8"
        )
    else:
        data = await asyncio.to_thread(gradebook_pdf, export)
        link = await _store_and_sign(
            ctx, data, suffix=".pdf", filename=f"{name}.pdf", content_type="application/pdf"
        )
    async with ctx.writer.begin() as session:
        audit.record(session, ctx, "gradebook.exported", "Class", klass.id, detail={"format": file_format})
    return link


async def generate_transcript(ctx: Context, student_global_id: str) -> tuple[str, datetime]:
    """The student, their guardians and the school's staff may have a transcript made: the
    transcript as data (`resolvers.transcripts`), closed terms with their frozen final grades."""
    require_user(ctx)
    student, profile, relation = await get_student(ctx, student_global_id)
    if relation not in TRANSCRIPT_READERS:
        raise Forbidden(NOT_A_READER)
    record = await transcript_of(ctx, student.id, profile.school_id)
    school = await ctx.loaders.school_by_id.load_existing(profile.school_id)
    transcript = printed_transcript(
        record,
        school_name=school.name,
        student_name=student.name,
        student_number=profile.student_number,
        generated_at=utcnow().astimezone(ZoneInfo(school.timezone)),
    )
    data = await asyncio.to_thread(transcript_pdf, transcript)
    async with ctx.writer.begin() as session:
        audit.record(session, ctx, "transcript.generated", "Student", student.id)
    return await _store_and_sign(
        ctx,
        data,
        suffix=".pdf",
        filename=f"transcript-{profile.student_number}.pdf",
        content_type="application/pdf",
    )
