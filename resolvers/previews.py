"""previewMessage: a template (or a title and body) rendered as it would be sent to a sample student
of the caller's school, and with a class when one is given; translated into the language asked for
when a provider is configured. Sends and stores nothing.

The sample is the student asked for, or else the first by name of the class, of the teacher's
classes (teachers) or of the school (staff and admins); a school without students renders with the
variables' examples. Teachers preview only for the classes they teach and their own students.
As with announcements, the texts are translated with their placeholders and rendered afterwards, so
no one's values are sent for translation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from errors import Forbidden, Problem
from models import Class, ClassTeacher, Enrollment, MessageTemplate, School, StudentProfile, User
from models.enums import EnrollmentStatus, Role, UserStatus
from models.templating import BY_NAME, ParsedText, VariableValues, first_name, parse, render, unavailable
from resolvers import audit
from resolvers.delivery_rules import DEFAULT_LANGUAGE
from resolvers.roster_rules import decode_or_none, not_found
from resolvers.templates import require_template_reader, unsupported_language
from services.translation import LANGUAGES_BY_CODE

if TYPE_CHECKING:
    from auth.identity import CurrentUser
    from context import Context

TEACHERS_ONLY_THEIRS = "Teachers preview only for their own classes and students."


@dataclass(frozen=True)
class PreviewRequest:
    template_id: str | None = None
    title: str | None = None
    body: str | None = None
    class_id: str | None = None
    sample_student_id: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class Preview:
    title: str | None = None
    body: str | None = None
    language: str | None = None
    translated: bool = False
    variables: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class _Sample:
    id: int
    name: str
    grade_level: int


async def preview_message(ctx: Context, request: PreviewRequest) -> Preview:
    user = require_template_reader(ctx)
    problems: list[Problem] = []
    if request.language is not None and request.language not in LANGUAGES_BY_CODE:
        problems.append(unsupported_language(("input", "language")))
    async with ctx.session_factory() as session:
        template = await _template(session, request.template_id, user, problems)
        klass = await _class(ctx, session, request.class_id, user, problems)
        student_id = await _student_id(ctx, session, request, user, klass, problems)
        texts = _texts(request, template, problems)
        if problems or texts is None:
            return Preview(problems=problems)
        title, body, parsed = texts
        sample = await _sample(session, user, klass, student_id)
        values = await _values(session, user, klass, sample)
    if sample is not None:
        audit.note_read(ctx, "Student", sample.id)
    source = template.language if template is not None else DEFAULT_LANGUAGE
    language, translated = source, False
    if request.language is not None and request.language != source:
        found = await ctx.app.translator.translate([title, body], source, request.language)
        if found is not None:
            (title, body), language, translated = found, request.language, True
    mapping = values.as_mapping()
    return Preview(
        title=render(title, mapping),
        body=render(body, mapping),
        language=language,
        translated=translated,
        variables=list(parsed.names),
    )


async def _template(
    session: AsyncSession, global_id: str | None, user: CurrentUser, problems: list[Problem]
) -> MessageTemplate | None:
    if global_id is None:
        return None
    pk = decode_or_none(global_id, "MessageTemplate")
    template = await session.get(MessageTemplate, pk) if pk is not None else None
    if template is None or template.school_id != user.school_id:
        problems.append(not_found(("input", "templateId"), "template"))
        return None
    return template


async def _class(
    ctx: Context, session: AsyncSession, global_id: str | None, user: CurrentUser, problems: list[Problem]
) -> Class | None:
    if global_id is None:
        return None
    pk = decode_or_none(global_id, "Class")
    klass = await session.get(Class, pk) if pk is not None else None
    if klass is None or klass.school_id != user.school_id:
        problems.append(not_found(("input", "classId"), "class"))
        return None
    if user.role == Role.TEACHER and klass.id not in await ctx.loaders.class_ids_by_teacher.load(user.id):
        raise Forbidden(TEACHERS_ONLY_THEIRS)
    return klass


async def _student_id(
    ctx: Context,
    session: AsyncSession,
    request: PreviewRequest,
    user: CurrentUser,
    klass: Class | None,
    problems: list[Problem],
) -> int | None:
    """The sample student asked for: a student of the school (a teacher's own; in the class)."""
    if request.sample_student_id is None:
        return None
    field = ("input", "sampleStudentId")
    pk = decode_or_none(request.sample_student_id, "Student")
    student = await session.get(User, pk) if pk is not None else None
    if student is None or student.school_id != user.school_id or student.role != Role.STUDENT:
        problems.append(not_found(field, "student"))
        return None
    if user.role == Role.TEACHER and student.id not in await ctx.loaders.student_ids_by_teacher.load(user.id):
        raise Forbidden(TEACHERS_ONLY_THEIRS)
    if klass is not None:
        enrolled = await session.scalar(
            select(Enrollment.id).where(
                Enrollment.class_id == klass.id,
                Enrollment.student_id == student.id,
                Enrollment.status == EnrollmentStatus.ACTIVE,
            )
        )
        if enrolled is None:
            problems.append(Problem("The student is not in this class.", "NOT_FOUND", field))
            return None
    return student.id


def _texts(
    request: PreviewRequest, template: MessageTemplate | None, problems: list[Problem]
) -> tuple[str, str, ParsedText] | None:
    """The title and body to render (those given, else the template's), checked."""
    if template is None and (request.title is None or request.body is None):
        if request.template_id is None:
            problems.append(Problem("Give a templateId, or a title and a body.", "INVALID", ("input",)))
        return None
    parsed = ParsedText()
    texts: list[str] = []
    for name, given, stored in (
        ("title", request.title, template.title if template else ""),
        ("body", request.body, template.body if template else ""),
    ):
        text, where = (given, ("input", name)) if given is not None else (stored, ("input", "templateId"))
        found = parse(text, where)
        if isinstance(found, Problem):
            problems.append(found)
            continue
        missing = unavailable(found, has_class=request.class_id is not None, include_staff=False, field=where)
        if missing is not None:
            problems.append(missing)
        parsed = parsed.union(found)
        texts.append(text)
    if problems:
        return None
    return texts[0], texts[1], parsed


async def _sample(
    session: AsyncSession, user: CurrentUser, klass: Class | None, student_id: int | None
) -> _Sample | None:
    query = (
        select(User.id, User.name, StudentProfile.grade_level)
        .join(StudentProfile, StudentProfile.user_id == User.id)
        .where(User.school_id == user.school_id, User.role == Role.STUDENT)
    )
    if student_id is not None:
        query = query.where(User.id == student_id)
    else:
        query = query.where(User.status == UserStatus.ACTIVE)
        if klass is not None or user.role == Role.TEACHER:
            query = query.join(Enrollment, Enrollment.student_id == User.id).where(
                Enrollment.status == EnrollmentStatus.ACTIVE
            )
            if klass is not None:
                query = query.where(Enrollment.class_id == klass.id)
            else:
                taught = select(ClassTeacher.class_id).where(ClassTeacher.teacher_id == user.id)
                query = query.where(Enrollment.class_id.in_(taught))
    row = (await session.execute(query.order_by(User.name, User.id).limit(1))).first()
    return _Sample(row[0], row[1], row[2]) if row is not None else None


async def _values(
    session: AsyncSession, user: CurrentUser, klass: Class | None, sample: _Sample | None
) -> VariableValues:
    school_name = await session.scalar(select(School.name).where(School.id == user.school_id))
    author = await session.scalar(select(User.name).where(User.id == user.id))
    teacher = None
    if klass is not None:
        teacher = await session.scalar(
            select(User.name)
            .join(ClassTeacher, ClassTeacher.teacher_id == User.id)
            .where(ClassTeacher.class_id == klass.id)
            .order_by(ClassTeacher.is_primary.desc(), User.name)
            .limit(1)
        )
    name = sample.name if sample is not None else BY_NAME["student.name"].example
    grade = str(sample.grade_level) if sample is not None else BY_NAME["student.gradeLevel"].example
    return VariableValues(
        recipient_first_name=first_name(name),
        recipient_name=name,
        student_first_name=first_name(name),
        student_name=name,
        student_grade_level=grade,
        class_title=klass.title if klass is not None else None,
        class_room=klass.room if klass is not None else None,
        teacher_name=teacher,
        school_name=school_name,
        author_name=author,
    )
