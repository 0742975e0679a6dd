"""Message templates: the school's list (teachers, staff and admins read it), and create, update and
archive (staff and admins). A name is unique within the school (a concurrent duplicate is caught by
the database's constraint); titles and bodies may only use the variables of models/templating.py.
An update changes the template only: announcements made from it keep their own text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from errors import Problem, ProblemError
from loaders.roster import keyset_page, text_order
from models import MessageTemplate
from models.base import utcnow
from models.enums import NotificationCategory, Role
from models.templating import ParsedText, parse
from resolvers import audit
from resolvers.classes import contains, decode_position, page_of, search_words
from resolvers.delivery_rules import DEFAULT_LANGUAGE
from resolvers.pagination import Page, page_size
from resolvers.policy import require_role, require_user
from resolvers.roster_rules import flush_or_refuse, own_row, require_staff
from services.translation import LANGUAGES_BY_CODE

if TYPE_CHECKING:
    from auth.identity import CurrentUser
    from context import Context

MAX_NAME = 120
MAX_TITLE = 200
MAX_BODY = 10_000
# Who may read the school's templates (and preview messages).
TEMPLATE_READERS = frozenset({Role.TEACHER, Role.STAFF, Role.ADMIN})


@dataclass(frozen=True)
class TemplateFields:
    """What createMessageTemplate sets, and updateMessageTemplate where given (None: unchanged)."""

    name: str | None = None
    category: NotificationCategory | None = None
    title: str | None = None
    body: str | None = None
    language: str | None = None


def require_template_reader(ctx: Context) -> CurrentUser:
    user = require_user(ctx)
    require_role(user, TEMPLATE_READERS)
    return user


def used_variables(title: str, body: str) -> list[str]:
    """The variables a title and body use, in order of first use (stored texts were checked)."""
    found = ParsedText()
    for text in (title, body):
        parsed = parse(text, ())
        if isinstance(parsed, ParsedText):
            found = found.union(parsed)
    return list(found.names)


async def message_templates(
    ctx: Context,
    *,
    category: NotificationCategory | None,
    query: str | None,
    include_archived: bool,
    first: int | None,
    after: str | None,
) -> Page[MessageTemplate]:
    """The school's templates by name; archived ones only with `include_archived`."""
    user = require_template_reader(ctx)
    statement = select(MessageTemplate).where(MessageTemplate.school_id == user.school_id)
    if not include_archived:
        statement = statement.where(MessageTemplate.archived_at.is_(None))
    if category is not None:
        statement = statement.where(MessageTemplate.category == category)
    for word in search_words(query):
        statement = statement.where(contains(MessageTemplate.name, word))
    limit = page_size(first, ctx.settings.max_page_size)
    sort = text_order(MessageTemplate.name, postgres=not ctx.settings.is_sqlite)
    async with ctx.session_factory() as session:
        found = await keyset_page(
            session, statement, sort, MessageTemplate.id, first=limit, after=decode_position(after)
        )
    return page_of(found)


async def create_template(ctx: Context, fields: TemplateFields) -> MessageTemplate | list[Problem]:
    user = require_staff(ctx)
    fields = _normalized(fields)
    assert fields.name is not None
    assert fields.category is not None
    assert fields.title is not None
    assert fields.body is not None
    problems = _field_problems(fields)
    try:
        async with ctx.writer.begin() as session:
            if await _name_taken(session, user.school_id, fields.name, None):
                problems.append(_conflict())
            if problems:
                raise ProblemError(*problems)
            template = MessageTemplate(
                school_id=user.school_id,
                name=fields.name,
                category=fields.category,
                title=fields.title,
                body=fields.body,
                language=fields.language or DEFAULT_LANGUAGE,
                version=1,
                created_by_id=user.id,
                updated_at=utcnow(),
            )
            session.add(template)
            await flush_or_refuse(session, _conflict())
            audit.record(
                session,
                ctx,
                "message_template.created",
                "MessageTemplate",
                template.id,
                detail=_detail(fields),
            )
    except ProblemError as refused:
        return refused.problems
    return template


async def update_template(
    ctx: Context, template_global_id: str, fields: TemplateFields, expected_version: int | None
) -> MessageTemplate | list[Problem]:
    user = require_staff(ctx)
    fields = _normalized(fields)
    problems = _field_problems(fields)
    try:
        async with ctx.writer.begin() as session:
            template = await _own_template(session, template_global_id, user.school_id)
            if expected_version is not None and expected_version != template.version:
                problems.append(_version_conflict(template.version))
            if fields.name is not None and await _name_taken(
                session, user.school_id, fields.name, template.id
            ):
                problems.append(_conflict())
            if problems:
                raise ProblemError(*problems)
            changes: dict[str, Any] = {
                name: value
                for name, value in (
                    ("name", fields.name),
                    ("category", fields.category),
                    ("title", fields.title),
                    ("body", fields.body),
                    ("language", fields.language),
                )
                if value is not None
            }
            await _write(session, template, changes)
            audit.record(
                session,
                ctx,
                "message_template.updated",
                "MessageTemplate",
                template.id,
                detail=_detail(fields),
            )
    except ProblemError as refused:
        return refused.problems
    return template


async def archive_template(ctx: Context, template_global_id: str) -> MessageTemplate | list[Problem]:
    """Archives the template (once: archiving an archived one changes nothing)."""
    user = require_staff(ctx)
    try:
        async with ctx.writer.begin() as session:
            template = await _own_template(session, template_global_id, user.school_id)
            if template.archived_at is None:
                await _write(session, template, {"archived_at": utcnow()})
                audit.record(session, ctx, "message_template.archived", "MessageTemplate", template.id)
    except ProblemError as refused:
        return refused.problems
    return template


async def _own_template(session: AsyncSession, global_id: str, school_id: int) -> MessageTemplate:
    return await own_row(
        session, MessageTemplate, global_id, "MessageTemplate", school_id, ("input", "templateId")
    )


async def _write(session: AsyncSession, template: MessageTemplate, changes: dict[str, Any]) -> None:
    """Applies `changes` only if no one changed the template since it was read (its version), and
    moves the version on; a concurrent writer that came first makes it VERSION_CONFLICT."""
    seen = template.version
    try:
        written = await session.execute(
            update(MessageTemplate)
            .where(MessageTemplate.id == template.id, MessageTemplate.version == seen)
            .values(**changes, version=seen + 1, updated_at=utcnow())
            .returning(MessageTemplate.id)
            .execution_options(synchronize_session=False)
        )
    except IntegrityError as error:  # a concurrent writer took the name first
        raise ProblemError(_conflict()) from error
    if written.scalar() is None:
        raise ProblemError(_version_conflict(None))
    await session.refresh(template)


def _normalized(fields: TemplateFields) -> TemplateFields:
    return TemplateFields(
        name=fields.name.strip() if fields.name is not None else None,
        category=fields.category,
        title=fields.title.strip() if fields.title is not None else None,
        body=fields.body.strip() if fields.body is not None else None,
        language=fields.language.strip() if fields.language is not None else None,
    )


def _field_problems(fields: TemplateFields) -> list[Problem]:
    problems: list[Problem] = []
    if fields.name is not None and not 0 < len(fields.name) <= MAX_NAME:
        problems.append(Problem(f"A name of 1 to {MAX_NAME} characters.", "INVALID", ("input", "name")))
    for name, text, most in (("title", fields.title, MAX_TITLE), ("body", fields.body, MAX_BODY)):
        if text is None:
            continue
        if not 0 < len(text) <= most:
            problems.append(Problem(f"A {name} of 1 to {most} characters.", "INVALID", ("input", name)))
        elif isinstance(parsed := parse(text, ("input", name)), Problem):
            problems.append(parsed)
    if fields.language is not None and fields.language not in LANGUAGES_BY_CODE:
        problems.append(unsupported_language(("input", "language")))
    return problems


def unsupported_language(field: tuple[str, ...]) -> Problem:
    return Problem("Not one of the supported languages.", "INVALID", field)


def _conflict() -> Problem:
    return Problem("The school has a template of this name.", "CONFLICT", ("input", "name"))


def _version_conflict(current: int | None) -> Problem:
    now = f" (it is at version {current})" if current is not None else ""
    message = f"The template was changed by someone else{now}: reload it and try again."
    return Problem(message, "VERSION_CONFLICT", ("input", "expectedVersion"))


async def _name_taken(session: AsyncSession, school_id: int, name: str, template_id: int | None) -> bool:
    query = select(MessageTemplate.id).where(
        MessageTemplate.school_id == school_id, MessageTemplate.name == name
    )
    if template_id is not None:
        query = query.where(MessageTemplate.id != template_id)
    return await session.scalar(query.limit(1)) is not None


def _detail(fields: TemplateFields) -> dict[str, Any]:
    detail: dict[str, Any] = {
        name: value
        for name, value in (("name", fields.name), ("title", fields.title), ("language", fields.language))
        if value is not None
    }
    if fields.category is not None:
        detail["category"] = fields.category.value
    if fields.body is not None:
        detail["bodyLength"] = len(fields.body)
    return detail
