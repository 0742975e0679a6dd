"""createAnnouncement and updateAnnouncement: a DRAFT (or a SCHEDULED one, which keeps its time)
with its title and body, channels, category, language, audience and files.

Each write first checks everything in a read (authorization raises FORBIDDEN; the rest is
collected as userErrors, and any of them writes nothing), then reads and checks the files, then
stores them and writes in one transaction. An update writes with `UPDATE ... WHERE version =
seen`, so a change that another one beat is refused (VERSION_CONFLICT, or FORBIDDEN_STATE once
it was sent or cancelled) and leaves nothing behind, its stored files included.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from errors import Problem, ProblemError
from models import Announcement, AnnouncementAttachment, Class, MessageTemplate
from models.base import utcnow
from models.enums import AnnouncementScope, AnnouncementStatus, CommunicationChannel, NotificationCategory
from models.templating import ParsedText, parse, unavailable
from resolvers import audit
from resolvers.announcements.access import (
    own_announcement,
    require_manager,
    require_may_address,
    require_sender,
)
from resolvers.announcements.audience import Audience, missing_grade_levels
from resolvers.attachments import MAX_ATTACHMENTS, StoredFile, check_files, stored_files
from resolvers.roster_rules import decode_or_none, not_found
from services.translation import LANGUAGES_BY_CODE
from stores.media import MediaStore

if TYPE_CHECKING:
    from auth.identity import CurrentUser
    from context import Context

MAX_TITLE = 200
MAX_BODY = 20_000
EDITABLE = (AnnouncementStatus.DRAFT, AnnouncementStatus.SCHEDULED)


@dataclass(frozen=True)
class AudienceInput:
    scope: AnnouncementScope
    grade_levels: list[int] | None = None
    class_id: str | None = None
    include_students: bool | None = None
    include_guardians: bool | None = None
    include_staff: bool | None = None


@dataclass(frozen=True)
class DraftFields:
    """What createAnnouncement sets, and updateAnnouncement where given (None: unchanged)."""

    audience: AudienceInput | None = None
    title: str | None = None
    body: str | None = None
    template_id: str | None = None
    channels: list[CommunicationChannel] | None = None
    category: NotificationCategory | None = None
    language: str | None = None
    uploads: Sequence[UploadFile] = ()
    remove_attachment_ids: list[str] = field(default_factory=list)
    expected_version: int | None = None


@dataclass(frozen=True)
class Draft:
    """An announcement's text and addressing as a write would leave them."""

    title: str
    body: str
    language: str
    category: NotificationCategory
    channels: tuple[CommunicationChannel, ...]
    audience: Audience
    template_id: int | None = None

    def columns(self) -> dict[str, Any]:
        audience = self.audience
        return {
            "title": self.title,
            "body": self.body,
            "language": self.language,
            "category": self.category,
            "channels": [channel.value for channel in self.channels],
            "scope": audience.scope,
            "grade_levels": list(audience.grade_levels) if audience.grade_levels else None,
            "class_id": audience.class_id,
            "include_students": audience.include_students,
            "include_guardians": audience.include_guardians,
            "include_staff": audience.include_staff,
        }


def channels_of(announcement: Announcement) -> tuple[CommunicationChannel, ...]:
    return tuple(CommunicationChannel(name) for name in announcement.channels)


def draft_of(announcement: Announcement) -> Draft:
    return Draft(
        title=announcement.title,
        body=announcement.body,
        language=announcement.language,
        category=announcement.category,
        channels=channels_of(announcement),
        audience=Audience.of(announcement),
        template_id=announcement.template_id,
    )


def parsed_text(title: str, body: str) -> ParsedText:
    """The variables of a checked title and body together."""
    result = ParsedText()
    for text in (title, body):
        parsed = parse(text, ())
        if isinstance(parsed, ParsedText):
            result = result.union(parsed)
    return result


async def create_announcement(ctx: Context, fields: DraftFields) -> Announcement | list[Problem]:
    user = require_sender(ctx)
    assert fields.audience is not None
    async with ctx.session_factory() as session:
        template, problems = await _template(session, user, fields.template_id)
        start = Draft(
            title=template.title if template else "",
            body=template.body if template else "",
            language=template.language if template else "en",
            category=template.category if template else NotificationCategory.ANNOUNCEMENTS,
            channels=(),
            audience=Audience(AnnouncementScope.SCHOOL),
            template_id=template.id if template else None,
        )
        draft = await _checked(session, user, start, fields, problems)
    files, refused = await check_files(fields.uploads, ctx.settings.max_upload_bytes)
    problems += _as_invalid(refused, "attachments")
    if problems:
        return problems
    async with stored_files(ctx.settings, files) as stored, ctx.writer.begin() as session:
        announcement = Announcement(
            school_id=user.school_id, author_id=user.id, status=AnnouncementStatus.DRAFT, version=1,
            updated_at=utcnow(), template_id=draft.template_id, **draft.columns(),
        )  # fmt: skip
        session.add(announcement)
        await session.flush()
        session.add_all(_attachment(announcement.id, item) for item in stored)
        audit.record(
            session, ctx, "announcement.created", "Announcement", announcement.id,
            detail=_detail(draft) | {"attachments": len(stored)},
        )  # fmt: skip
    return announcement


async def update_announcement(
    ctx: Context, announcement_global_id: str, fields: DraftFields
) -> Announcement | list[Problem]:
    user = require_sender(ctx)
    try:
        async with ctx.session_factory() as session:
            current = await own_announcement(
                session, user, announcement_global_id, ("input", "announcementId")
            )
            require_manager(user, current)
            if current.status not in EDITABLE:
                raise ProblemError(forbidden_state(current, "changed"))
            if fields.expected_version is not None and fields.expected_version != current.version:
                raise ProblemError(version_conflict(current))
            problems: list[Problem] = []
            draft = await _checked(session, user, draft_of(current), fields, problems)
            kept, removed = await _attachments_left(
                session, current.id, fields.remove_attachment_ids, problems
            )
    except ProblemError as refused:
        return refused.problems
    files, refused_files = await check_files(fields.uploads, ctx.settings.max_upload_bytes)
    problems += _as_invalid(refused_files, "addAttachments")
    if kept + len(fields.uploads) > MAX_ATTACHMENTS:
        message = f"At most {MAX_ATTACHMENTS} files an announcement."
        problems.append(Problem(message, "INVALID", ("input", "addAttachments")))
    if problems:
        return problems
    try:
        async with stored_files(ctx.settings, files) as stored, ctx.writer.begin() as session:
            await _write_update(session, current, draft, list(removed))
            session.add_all(_attachment(current.id, item) for item in stored)
            audit.record(
                session, ctx, "announcement.updated", "Announcement", current.id,
                detail=_detail(draft) | {"added": len(stored), "removed": sorted(removed)},
            )  # fmt: skip
    except ProblemError as refused:
        return refused.problems
    store = MediaStore(ctx.settings.media_dir)
    for key in removed.values():  # once the rows are gone for good
        await asyncio.to_thread(store.delete, key)
    async with ctx.session_factory() as session:
        return await session.get_one(Announcement, current.id)


async def _write_update(
    session: AsyncSession, current: Announcement, draft: Draft, removed: list[int]
) -> None:
    changed = await session.execute(
        update(Announcement)
        .where(
            Announcement.id == current.id,
            Announcement.version == current.version,
            Announcement.status.in_(EDITABLE),
        )
        .values(**draft.columns(), version=current.version + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount == 0:  # type: ignore[attr-defined]
        raise ProblemError(await lost_race(session, current.id, "changed"))
    if removed:
        await session.execute(
            delete(AnnouncementAttachment).where(
                AnnouncementAttachment.announcement_id == current.id, AnnouncementAttachment.id.in_(removed)
            )
        )


async def lost_race(session: AsyncSession, announcement_id: int, what: str) -> Problem:
    """Why a conditional write of the announcement changed nothing: its status or its version moved."""
    now = await session.get_one(Announcement, announcement_id, populate_existing=True)
    if now.status not in EDITABLE:
        return forbidden_state(now, what)
    return version_conflict(now)


def forbidden_state(announcement: Announcement, what: str) -> Problem:
    message = f"A {announcement.status.value} announcement cannot be {what}."
    return Problem(message, "FORBIDDEN_STATE", ("input", "announcementId"))


def version_conflict(announcement: Announcement) -> Problem:
    message = f"The announcement was changed meanwhile: it is at version {announcement.version} now."
    return Problem(message, "VERSION_CONFLICT", ("input", "expectedVersion"))


async def _template(
    session: AsyncSession, user: CurrentUser, global_id: str | None
) -> tuple[MessageTemplate | None, list[Problem]]:
    if global_id is None:
        return None, []
    pk = decode_or_none(global_id, "MessageTemplate")
    template = await session.get(MessageTemplate, pk) if pk is not None else None
    if template is None or template.school_id != user.school_id:
        return None, [not_found(("input", "templateId"), "template")]
    if template.archived_at is not None:
        message = "This template is archived: it starts no new announcements."
        return None, [Problem(message, "INVALID", ("input", "templateId"))]
    return template, []


async def _checked(
    session: AsyncSession, user: CurrentUser, start: Draft, fields: DraftFields, problems: list[Problem]
) -> Draft:
    """`start` with the given fields applied; what is wrong with it goes to `problems`, what the
    user may not do raises FORBIDDEN."""
    title = fields.title.strip() if fields.title is not None else start.title
    body = fields.body.strip() if fields.body is not None else start.body
    channels = start.channels if fields.channels is None else tuple(dict.fromkeys(fields.channels))
    draft = replace(
        start,
        title=title,
        body=body,
        channels=tuple(sorted(channels, key=list(CommunicationChannel).index)),
        category=fields.category or start.category,
        language=fields.language if fields.language is not None else start.language,
    )
    if fields.audience is not None:
        draft = replace(draft, audience=await _audience(session, user, fields.audience, problems))
    if draft.audience.class_id is not None or draft.audience.scope != AnnouncementScope.CLASS:
        await require_may_address(session, user, draft.audience, draft.category)
    problems += _text_problems(draft)
    if not draft.channels:
        problems.append(Problem("Choose at least one channel.", "INVALID", ("input", "channels")))
    if draft.language not in LANGUAGES_BY_CODE:
        message = f"{draft.language!r} is not a supported language."
        problems.append(Problem(message, "INVALID", ("input", "language")))
    return draft


def _text_problems(draft: Draft) -> list[Problem]:
    problems = []
    for name, text, limit in (("title", draft.title, MAX_TITLE), ("body", draft.body, MAX_BODY)):
        where = ("input", name)
        if not text:
            problems.append(Problem(f"Give a {name}, or start from a template.", "INVALID", where))
        elif len(text) > limit:
            problems.append(Problem(f"A {name} of at most {limit} characters.", "INVALID", where))
        else:
            parsed = parse(text, where)
            if isinstance(parsed, Problem):
                problems.append(parsed)
                continue
            audience = draft.audience
            missing = unavailable(
                parsed,
                has_class=audience.scope == AnnouncementScope.CLASS,
                include_staff=audience.include_staff,
                field=where,
            )
            if missing is not None:
                problems.append(missing)
    return problems


async def _audience(
    session: AsyncSession, user: CurrentUser, given: AudienceInput, problems: list[Problem]
) -> Audience:
    where = ("input", "audience")
    audience = Audience(
        scope=given.scope,
        include_students=given.include_students if given.include_students is not None else True,
        include_guardians=bool(given.include_guardians),
        include_staff=bool(given.include_staff),
    )
    if not audience.includes_anyone:
        problems.append(Problem("Include students, guardians or staff.", "INVALID", where))
    if given.scope == AnnouncementScope.GRADE_LEVELS:
        levels = tuple(sorted(set(given.grade_levels or ())))
        missing = await missing_grade_levels(session, user.school_id, levels) if levels else []
        if not levels or missing:
            message = "Choose grade levels of the school" + (
                f": it has no grade {', '.join(map(str, missing))}." if missing else "."
            )
            problems.append(Problem(message, "INVALID", (*where, "gradeLevels")))
        return replace(audience, grade_levels=levels)
    if given.scope == AnnouncementScope.CLASS:
        pk = decode_or_none(given.class_id, "Class") if given.class_id else None
        klass = await session.get(Class, pk) if pk is not None else None
        if klass is None or klass.school_id != user.school_id:
            problems.append(not_found((*where, "classId"), "class"))
            return audience
        return replace(audience, class_id=klass.id)
    return audience


async def _attachments_left(
    session: AsyncSession, announcement_id: int, remove_ids: list[str], problems: list[Problem]
) -> tuple[int, dict[int, str]]:
    """How many files stay, and those to remove (id → storage key); an id to remove that is not
    one of the announcement's is NOT_FOUND."""
    query = select(AnnouncementAttachment.id, AnnouncementAttachment.storage_key).where(
        AnnouncementAttachment.announcement_id == announcement_id
    )
    files: dict[int, str] = dict((await session.execute(query)).all())
    removed: dict[int, str] = {}
    for index, global_id in enumerate(remove_ids):
        pk = decode_or_none(global_id, "AnnouncementAttachment")
        if pk is None or pk not in files:
            problems.append(not_found(("input", "removeAttachmentIds", index), "attachment"))
        else:
            removed[pk] = files[pk]
    return len(files) - len(removed), removed


def _as_invalid(problems: list[Problem], input_field: str) -> list[Problem]:
    """check_files's problems as the contract reports them: INVALID on the file's index."""
    return [Problem(p.message, "INVALID", ("input", input_field, *(p.field or ())[2:])) for p in problems]


def _attachment(announcement_id: int, item: StoredFile) -> AnnouncementAttachment:
    data = item.checked.data
    return AnnouncementAttachment(
        announcement_id=announcement_id,
        filename=item.checked.filename,
        content_type=item.checked.file_type.content_type,
        size=len(data),
        storage_key=item.key,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _detail(draft: Draft) -> dict[str, Any]:
    audience = draft.audience
    return {
        "title": draft.title,
        "category": draft.category.value,
        "channels": [channel.value for channel in draft.channels],
        "language": draft.language,
        "scope": audience.scope.value,
        "gradeLevels": list(audience.grade_levels),
        "classId": audience.class_id,
        "includeStudents": audience.include_students,
        "includeGuardians": audience.include_guardians,
        "includeStaff": audience.include_staff,
    }
