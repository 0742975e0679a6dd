"""Mentorship chat: conversations between users who may talk (resolvers/policy.may_contact),
messages with replies and attachments, read marks, and live messages.

Only participants see a conversation, its messages and its attachments' URLs; to anyone else
(and across schools) it does not exist (FORBIDDEN, the same answer as for a missing one).

Unread counts compare each message's `sent_at` with the participant's `last_read_at`. A
participant who has not read the conversation for `AWAY` is away: the first message they
miss while away notifies them (one notification, not one per message, until they read).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Select, func, literal, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from errors import BadInput, Forbidden, Problem
from models import Conversation, ConversationParticipant, Message
from models.base import UTCDateTime, utcnow
from models.enums import NotificationCategory
from resolvers import audit
from resolvers.attachments import check_files, stored_files
from resolvers.ids import decode_id, decode_id_of
from resolvers.notifications import add_notifications, announce
from resolvers.pagination import cursor_id, cursor_key, cursor_time, decode_cursor, encode_cursor, page_size
from resolvers.policy import NOT_VISIBLE, may_contact, require_user
from subscriptions.channels import conversation_channel
from subscriptions.events import MessageAdded

if TYPE_CHECKING:
    from auth.identity import CurrentUser
    from context import Context

MAX_BODY_LENGTH = 10_000
MAX_TITLE_LENGTH = 200
MAX_PARTICIPANTS = 20
AWAY = timedelta(minutes=5)
PREVIEW_LENGTH = 140
# Users appear under these global ids (a student found by search is a Student, and so on).
USER_ID_TYPES = frozenset({"User", "Student", "Teacher"})


async def require_participant(ctx: Context, conversation_id: int) -> Conversation:
    user = require_user(ctx)
    conversation = await ctx.loaders.chat.conversation_by_id.load(conversation_id)
    if conversation is None or conversation.school_id != user.school_id:
        raise Forbidden(NOT_VISIBLE)
    participants = await ctx.loaders.chat.participants_by_conversation.load(conversation_id)
    if all(participant.user_id != user.id for participant in participants):
        raise Forbidden(NOT_VISIBLE)
    return conversation


async def conversation(ctx: Context, global_id: str) -> Conversation:
    return await require_participant(ctx, decode_id_of(global_id, "Conversation"))


# --- Starting one -------------------------------------------------------------------------------


async def start_conversation(
    ctx: Context, participant_ids: list[str], title: str | None
) -> Conversation | list[Problem]:
    """A conversation of the caller and users they may each contact. Between two people without
    a title, the existing untitled conversation of the pair is reused rather than duplicated."""
    user = require_user(ctx)
    title = (title or "").strip() or None
    others, problems = await _contactable(ctx, participant_ids)
    if title is not None and len(title) > MAX_TITLE_LENGTH:
        problems.append(
            Problem(f"The title is limited to {MAX_TITLE_LENGTH} characters.", "INVALID", ("input", "title"))
        )
    if not others and not problems:
        problems.append(Problem("Choose someone to talk to.", "INVALID", ("input", "participantIds")))
    if problems:
        return problems
    async with ctx.writer.begin() as session:
        existing = (
            await _pair_conversation(session, user.id, others[0]) if len(others) == 1 and not title else None
        )
        if existing is not None:
            return existing
        now = utcnow()
        started = Conversation(school_id=user.school_id, title=title, created_by_id=user.id, created_at=now)
        session.add(started)
        await session.flush()
        session.add_all(
            ConversationParticipant(conversation_id=started.id, user_id=member, joined_at=now)
            for member in [user.id, *others]
        )
        audit.record(
            session, ctx, "conversation.started", "Conversation", started.id, detail={"with": others}
        )
    return started


async def _contactable(ctx: Context, global_ids: list[str]) -> tuple[list[int], list[Problem]]:
    """The distinct other users named, if the caller may contact each; a problem per one they may not."""
    user = require_user(ctx)
    if len(global_ids) > MAX_PARTICIPANTS:
        field = ("input", "participantIds")
        return [], [Problem(f"At most {MAX_PARTICIPANTS} people a conversation.", "INVALID", field)]
    wanted: dict[int, int] = {}
    problems: list[Problem] = []
    for index, global_id in enumerate(global_ids):
        try:
            type_name, pk = decode_id(global_id)
        except BadInput:
            type_name, pk = "", 0
        if type_name not in USER_ID_TYPES:
            problems.append(Problem("Not a user id.", "INVALID", ("input", "participantIds", str(index))))
        elif pk != user.id:
            wanted.setdefault(pk, index)
    found = await ctx.loaders.user_by_id.load_many(list(wanted))
    candidates = [other for other in found if other is not None and other.is_active]
    # Together, so that the loaders batch the relations of all of them.
    reachable = await asyncio.gather(*(may_contact(ctx, o.id, o.role, o.school_id) for o in candidates))
    allowed = {other.id for other, ok in zip(candidates, reachable, strict=True) if ok}
    others: list[int] = []
    for pk, index in wanted.items():
        if pk in allowed:
            others.append(pk)
        else:
            problems.append(Problem(NOT_VISIBLE, "NOT_FOUND", ("input", "participantIds", str(index))))
    return others, sorted(problems, key=lambda p: int(p.field[-1]) if p.field else 0)


async def _pair_conversation(session: AsyncSession, user_id: int, other_id: int) -> Conversation | None:
    participant = ConversationParticipant

    def with_member(member_id: int) -> Select[int]:
        return select(participant.conversation_id).where(participant.user_id == member_id)

    of_two = (
        select(participant.conversation_id).group_by(participant.conversation_id).having(func.count() == 2)
    )
    query = (
        select(Conversation)
        .where(
            Conversation.id.in_(with_member(user_id)),
            Conversation.id.in_(with_member(other_id)),
            Conversation.id.in_(of_two),
            Conversation.title.is_(None),
        )
        .order_by(Conversation.id)
        .limit(1)
    )
    return (await session.scalars(query)).first()


# --- Reading ------------------------------------------------------------------------------------


@dataclass
class ConversationPage:
    items: list[Conversation]
    cursors: list[str]
    total_count: int
    has_next_page: bool


def _activity(conversation: Conversation) -> datetime:
    return conversation.last_message_at or conversation.created_at


async def conversations(ctx: Context, *, first: int | None, after: str | None) -> ConversationPage:
    """The caller's conversations, the most recently active first."""
    user = require_user(ctx)
    limit = page_size(first, ctx.settings.max_page_size)
    activity = func.coalesce(Conversation.last_message_at, Conversation.created_at)
    mine = (
        select(Conversation)
        .join(ConversationParticipant, ConversationParticipant.conversation_id == Conversation.id)
        .where(ConversationParticipant.user_id == user.id, Conversation.school_id == user.school_id)
    )
    query = mine
    if after is not None:
        at, pk = _decode_activity(after)
        query = query.where(
            tuple_(activity, Conversation.id) < tuple_(literal(at, UTCDateTime()), literal(pk))
        )
    query = query.order_by(activity.desc(), Conversation.id.desc()).limit(limit + 1)
    async with ctx.session_factory() as session:
        total = await session.scalar(select(func.count()).select_from(mine.subquery()))
        rows = list((await session.scalars(query)).all())
    items = rows[:limit]
    cursors = [encode_cursor(json.dumps([_activity(row).isoformat(), row.id])) for row in items]
    return ConversationPage(items, cursors, total or 0, len(rows) > limit)


def _decode_activity(cursor: str) -> tuple[datetime, int]:
    try:
        at, pk = json.loads(decode_cursor(cursor))
        return cursor_time(at), cursor_key(int(pk))
    except (ValueError, TypeError) as error:
        raise BadInput("Not a valid cursor.") from error


@dataclass
class MessagePage:
    items: list[Message]  # oldest first
    cursors: list[str]
    total_count: int
    has_previous_page: bool


async def messages(
    ctx: Context, conversation_id: int, *, last: int | None, before: str | None
) -> MessagePage:
    """The `last` messages before the cursor, newest last (paging backwards through history).
    The caller has already been checked to be a participant."""
    limit = page_size(last, ctx.settings.max_page_size, argument="last")
    in_conversation = select(Message).where(Message.conversation_id == conversation_id)
    query = in_conversation
    before_id = cursor_id(before)
    if before_id is not None:
        query = query.where(Message.id < before_id)
    async with ctx.session_factory() as session:
        total = await session.scalar(select(func.count()).select_from(in_conversation.subquery()))
        rows = list((await session.scalars(query.order_by(Message.id.desc()).limit(limit + 1))).all())
    items = rows[:limit][::-1]
    return MessagePage(
        items=items,
        cursors=[encode_cursor(str(row.id)) for row in items],
        total_count=total or 0,
        has_previous_page=len(rows) > limit,
    )


# --- Writing ------------------------------------------------------------------------------------


async def send_message(
    ctx: Context,
    conversation_global_id: str,
    body: str,
    reply_to_global_id: str | None,
    uploads: Sequence[UploadFile],
) -> Message | list[Problem]:
    """A message with its files: all of it, or (any problem, any failure) nothing at all."""
    user = require_user(ctx)
    conversation_id = decode_id_of(conversation_global_id, "Conversation")
    await require_participant(ctx, conversation_id)
    problems = await _message_problems(ctx, conversation_id, body, reply_to_global_id, uploads)
    if problems:
        return problems
    files, problems = await check_files(uploads, ctx.settings.max_upload_bytes)
    if problems:
        return problems
    reply_to_id = decode_id_of(reply_to_global_id, "Message") if reply_to_global_id else None
    async with stored_files(ctx.settings, files) as stored, ctx.writer.begin() as session:
        now = utcnow()
        message = Message(
            conversation_id=conversation_id,
            author_id=user.id,
            body=body,
            reply_to_id=reply_to_id,
            sent_at=now,
        )
        session.add(message)
        await session.flush()
        session.add_all(item.row(message.id) for item in stored)
        notified = await _notify_away(session, ctx, user, message)
        await session.execute(
            update(Conversation).where(Conversation.id == conversation_id).values(last_message_at=now)
        )
        await _mark_read(session, conversation_id, user.id, now)
        audit.record(
            session, ctx, "message.sent", "Conversation", conversation_id,
            detail={"messageId": message.id, "attachments": len(stored)},
        )  # fmt: skip
    await ctx.bus.publish(conversation_channel(conversation_id), MessageAdded(message_id=message.id))
    await announce(ctx, notified)
    return message


async def _message_problems(
    ctx: Context, conversation_id: int, body: str, reply_to: str | None, uploads: Sequence[UploadFile]
) -> list[Problem]:
    problems = []
    if not body.strip() and not uploads:
        problems.append(Problem("Write something or attach a file.", "INVALID", ("input", "body")))
    if len(body) > MAX_BODY_LENGTH:
        message = f"A message is limited to {MAX_BODY_LENGTH} characters."
        problems.append(Problem(message, "INVALID", ("input", "body")))
    if reply_to is not None:
        replied = await ctx.loaders.chat.message_by_id.load(decode_id_of(reply_to, "Message"))
        if replied is None or replied.conversation_id != conversation_id:
            problems.append(
                Problem("No such message in this conversation.", "NOT_FOUND", ("input", "replyToId"))
            )
    return problems


async def _notify_away(
    session: AsyncSession, ctx: Context, author: CurrentUser, message: Message
) -> dict[int, int]:
    """Notifies the participants who are away and had read everything before this message."""
    previous = await session.scalar(
        select(Conversation.last_message_at).where(Conversation.id == message.conversation_id)
    )
    participant = ConversationParticipant
    query = select(participant.user_id).where(
        participant.conversation_id == message.conversation_id,
        participant.user_id != author.id,
        or_(participant.last_read_at.is_(None), participant.last_read_at < message.sent_at - AWAY),
    )
    if previous is not None:
        query = query.where(participant.last_read_at >= previous)
    away = list((await session.scalars(query)).all())
    preview = message.body.strip()[:PREVIEW_LENGTH] or "Sent a file."
    return await add_notifications(
        session,
        ctx.settings,
        away,
        "message",
        f"New message from {author.name}",
        preview,
        category=NotificationCategory.MESSAGES,
    )


async def _mark_read(session: AsyncSession, conversation_id: int, user_id: int, at: datetime) -> None:
    await session.execute(
        update(ConversationParticipant)
        .where(
            ConversationParticipant.conversation_id == conversation_id,
            ConversationParticipant.user_id == user_id,
        )
        .values(last_read_at=at)
    )


async def mark_conversation_read(ctx: Context, global_id: str) -> Conversation:
    """Everything in the conversation so far is read by the caller.

    The mark is the time of the call: on SQLite a message committing meanwhile is impossible
    (writers take turns); on PostgreSQL one whose transaction commits in the same instant may
    count as read."""
    user = require_user(ctx)
    found = await conversation(ctx, global_id)
    async with ctx.writer.begin() as session:
        await _mark_read(session, found.id, user.id, utcnow())
    return found


async def message_events(ctx: Context, global_id: str) -> AsyncGenerator[Message, None]:
    """New messages of a conversation the caller takes part in, from every process."""
    conversation_id = decode_id_of(global_id, "Conversation")
    ctx.fresh_loaders()
    await require_participant(ctx, conversation_id)
    async with ctx.bus.subscribe(conversation_channel(conversation_id), MessageAdded) as events:
        async for event in events:
            message = await ctx.fresh_loaders().chat.message_by_id.load(event.message_id)
            if message is not None and message.conversation_id == conversation_id:
                yield message
