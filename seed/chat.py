"""Writing conversations: the demo accounts' scripted ones and an office-hours question to each
generated teacher, with their participants (and what each has read), their messages and replies, and
notifications of the unread ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, update

from models import Conversation, ConversationParticipant, Message
from seed.schools import ConversationScript
from seed.world import Member, Teacher, World
from seed.writer import Row, Writer


@dataclass(eq=False)
class Thread:
    """A conversation to write: its lines are (author, body, index of the line replied to)."""

    title: str
    participants: list[Member]
    starts: datetime
    lines: list[tuple[Member, str, int | None]]
    unread_for: list[Member]


async def create_conversations(db: Writer, world: World) -> None:
    """The scripted conversations of the demo accounts, and one office-hours question to each
    generated teacher. Messages are written in order, so ids grow with time."""
    threads = [scripted_thread(world, script) for script in world.spec.conversations]
    threads += [office_hours(world, teacher) for teacher in world.teachers if teacher.member.key is None]
    sent = [[t.starts + timedelta(minutes=37 * n) for n in range(len(t.lines))] for t in threads]
    rows = [
        {
            "school_id": world.school_id,
            "title": thread.title,
            "created_by_id": thread.lines[0][0].id,
            "created_at": thread.starts,
            "last_message_at": times[-1],
        }
        for thread, times in zip(threads, sent, strict=True)
    ]
    conversation_ids = await db.insert_returning_ids(Conversation, rows, key=("title", "created_at"))
    await db.insert(
        ConversationParticipant,
        [
            {
                "conversation_id": conversation_id,
                "user_id": member.id,
                "joined_at": thread.starts,
                "last_read_at": times[-2] if member in thread.unread_for else times[-1],
            }
            for thread, times, conversation_id in zip(threads, sent, conversation_ids, strict=True)
            for member in thread.participants
        ],
    )
    await create_messages(db, world, threads, sent, conversation_ids)


async def create_messages(
    db: Writer, world: World, threads: list[Thread], sent: list[list[datetime]], conversation_ids: list[int]
) -> None:
    rows: list[Row] = []
    replies: list[tuple[int, int]] = []  # (row, the row it replies to)
    for thread, times, conversation_id in zip(threads, sent, conversation_ids, strict=True):
        first = len(rows)
        for (author, body, reply_to), at in zip(thread.lines, times, strict=True):
            if reply_to is not None:
                replies.append((len(rows), first + reply_to))
            rows.append(
                {
                    "conversation_id": conversation_id,
                    "author_id": author.id,
                    "body": body,
                    "reply_to_id": None,
                    "sent_at": at,
                }
            )
        for member in thread.unread_for:
            author, body, _ = thread.lines[-1]
            world.notify(member, "message", f"New message from {author.name}", body, times[-1], unread=True)
    ids = await db.insert_returning_ids(Message, rows, key=("conversation_id", "sent_at"))
    statement = (
        update(Message).where(Message.id == bindparam("message_id")).values(reply_to_id=bindparam("reply_id"))
    )
    await db.connection.execute(statement, [{"message_id": ids[n], "reply_id": ids[to]} for n, to in replies])


def scripted_thread(world: World, script: ConversationScript) -> Thread:
    member = world.accounts
    return Thread(
        title=script.title,
        participants=[member[key] for key in script.participants],
        starts=world.calendar.moment(script.starts),
        lines=[(member[line.author], world.scripted(line.body), line.reply_to) for line in script.lines],
        unread_for=[member[key] for key in script.unread_for],
    )


def office_hours(world: World, teacher: Teacher) -> Thread:
    section = next(section for section in world.sections if section.teacher is teacher)
    pupil = section.students[-1].member
    topic = world.rng.choice(section.course.topics[:4])
    starts = world.calendar.now - timedelta(days=world.rng.randint(3, 40), hours=world.rng.randint(0, 8))
    return Thread(
        title=f"{section.title}: question about {topic}",
        participants=[pupil, teacher.member],
        starts=starts,
        lines=[
            (pupil, f"Hi! I'm stuck on the homework about {topic}. Could we go over it after class?", None),
            (teacher.member, f"Of course. Come to {teacher.room} after school and bring your notes.", 0),
            (pupil, "Thank you, see you then!", None),
        ],
        unread_for=[],
    )
