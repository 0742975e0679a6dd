"""An announcement's copies as they would be sent now: its recipients resolved, its title and
body translated once per language its recipients read (when a provider is configured), then
rendered for each recipient with their own values.

Only the announcement's text, `{{variables}}` kept as placeholders, goes to the translation
provider: the values (names, classes) never do. Without a provider, or when it fails, a copy
is the original, `translated` false, in the original's language. Nothing here writes, and
nothing waits on the provider inside a transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Announcement, Class, ClassTeacher, School, User
from models.templating import VariableValues, first_name, render
from resolvers.announcements.audience import Audience, Member, resolve
from resolvers.announcements.drafts import channels_of, parsed_text
from resolvers.copies import NewCopy
from resolvers.delivery_rules import RecipientRules, delivery_rules
from services.translation import Translator

if TYPE_CHECKING:
    from context import AppState

KIND = "announcement"


@dataclass(frozen=True)
class Prepared:
    """What sending `announcement_id` at `version` makes."""

    announcement_id: int
    version: int
    copies: list[NewCopy]
    rules: dict[int, RecipientRules]


@dataclass(frozen=True)
class SharedValues:
    """The values every copy of one announcement has in common."""

    school_name: str | None = None
    author_name: str | None = None
    class_title: str | None = None
    class_room: str | None = None
    teacher_name: str | None = None


async def prepare(state: AppState, announcement: Announcement) -> Prepared:
    """Its copies for who is in the audience now (the audience's reads in one short session)."""
    parsed = parsed_text(announcement.title, announcement.body)
    async with state.session_factory() as session:
        members = await resolve(
            session, announcement.school_id, Audience.of(announcement), per_student=parsed.uses_student
        )
        rules = await delivery_rules(session, {member.recipient.id for member in members})
        shared = await _shared_values(session, announcement)
    texts = await translations(state.translator, announcement, {rule.language for rule in rules.values()})
    copies = [
        _copy(announcement, member, rules[member.recipient.id], shared, texts)
        for member in members
        if member.recipient.id in rules
    ]
    return Prepared(announcement.id, announcement.version, copies, rules)


async def translations(
    translator: Translator, announcement: Announcement, languages: set[str]
) -> dict[str, tuple[str, str]]:
    """(title, body) in each of `languages` that is not the announcement's and that the
    provider translated into; one request per language, all at once."""
    wanted = sorted(languages - {announcement.language})
    if not translator.available or not wanted:
        return {}
    answers = await asyncio.gather(
        *(
            translator.translate([announcement.title, announcement.body], announcement.language, language)
            for language in wanted
        )
    )
    return {
        language: (answer[0], answer[1])
        for language, answer in zip(wanted, answers, strict=True)
        if answer is not None
    }


def _copy(
    announcement: Announcement,
    member: Member,
    rules: RecipientRules,
    shared: SharedValues,
    texts: Mapping[str, tuple[str, str]],
) -> NewCopy:
    translated = texts.get(rules.language)
    title, body = translated or (announcement.title, announcement.body)
    student = member.student
    values = VariableValues(
        recipient_first_name=first_name(member.recipient.name),
        recipient_name=member.recipient.name,
        student_first_name=first_name(student.name) if student else None,
        student_name=student.name if student else None,
        student_grade_level=str(student.grade_level) if student else None,
        class_title=shared.class_title,
        class_room=shared.class_room,
        teacher_name=shared.teacher_name,
        school_name=shared.school_name,
        author_name=shared.author_name,
    ).as_mapping()
    return NewCopy(
        school_id=announcement.school_id,
        recipient_id=member.recipient.id,
        kind=KIND,
        category=announcement.category,
        title=render(title, values),
        body=render(body, values),
        language=rules.language if translated else announcement.language,
        channels=channels_of(announcement),
        translated=translated is not None,
        sender_id=announcement.author_id,
        announcement_id=announcement.id,
        student_id=member.about_student_id,
    )


async def _shared_values(session: AsyncSession, announcement: Announcement) -> SharedValues:
    school_name = await session.scalar(select(School.name).where(School.id == announcement.school_id))
    author_name = (
        await session.scalar(select(User.name).where(User.id == announcement.author_id))
        if announcement.author_id is not None
        else None
    )
    if announcement.class_id is None:
        return SharedValues(school_name=school_name, author_name=author_name)
    klass = await session.get(Class, announcement.class_id)
    teacher_name = await session.scalar(
        select(User.name)
        .join(ClassTeacher, ClassTeacher.teacher_id == User.id)
        .where(ClassTeacher.class_id == announcement.class_id)
        .order_by(ClassTeacher.is_primary.desc(), ClassTeacher.teacher_id)
        .limit(1)
    )
    return SharedValues(
        school_name=school_name,
        author_name=author_name,
        class_title=klass.title if klass else None,
        class_room=klass.room if klass else None,
        teacher_name=teacher_name,
    )
