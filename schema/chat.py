"""Mentorship chat as the API shows it: conversations, messages, attachments, live messages."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import cast

import strawberry
from starlette.datastructures import UploadFile
from strawberry.file_uploads import Upload

from models import Attachment as AttachmentModel
from models import Conversation as ConversationModel
from models import Message as MessageModel
from resolvers import chat
from resolvers.attachments import attachment_url
from resolvers.ids import encode_id
from schema.base import Connection, Info, Node, UserError, connection_from_page, user_errors
from schema.users import User


@strawberry.type(description="A file sent with a message; `url` is signed and works for an hour.")
class Attachment(Node):
    filename: str
    content_type: str
    size: int
    url: str

    @classmethod
    def from_model(cls, info: Info, row: AttachmentModel) -> Attachment:
        return cls(
            id=strawberry.ID(encode_id("Attachment", row.id)),
            filename=row.filename,
            content_type=row.content_type,
            size=row.size,
            url=attachment_url(info.context.settings, row),
        )


@strawberry.type
class Message(Node):
    body: str
    sent_at: datetime
    pk: strawberry.Private[int]
    author_id: strawberry.Private[int | None]
    reply_to_id: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, row: MessageModel) -> Message:
        return cls(
            id=strawberry.ID(encode_id("Message", row.id)),
            body=row.body,
            sent_at=row.sent_at,
            pk=row.id,
            author_id=row.author_id,
            reply_to_id=row.reply_to_id,
        )

    @strawberry.field(description="Null when the author's account is gone.")
    async def author(self, info: Info) -> User | None:
        return await User.by_id(info, self.author_id)

    @strawberry.field(description="The message this one answers (a thread), if any.")
    async def reply_to(self, info: Info) -> Message | None:
        if self.reply_to_id is None:
            return None
        replied = await info.context.loaders.chat.message_by_id.load(self.reply_to_id)
        return Message.from_model(replied) if replied else None

    @strawberry.field
    async def reply_count(self, info: Info) -> int:
        count: int = await info.context.loaders.chat.reply_count.load(self.pk)
        return count

    @strawberry.field
    async def attachments(self, info: Info) -> list[Attachment]:
        rows = await info.context.loaders.chat.attachments_by_message.load(self.pk)
        return [Attachment.from_model(info, row) for row in rows]


@strawberry.type
class Conversation(Node):
    title: str | None
    pk: strawberry.Private[int]

    @classmethod
    def from_model(cls, row: ConversationModel) -> Conversation:
        return cls(id=strawberry.ID(encode_id("Conversation", row.id)), title=row.title, pk=row.id)

    @strawberry.field
    async def participants(self, info: Info) -> list[User]:
        members = await info.context.loaders.chat.participants_by_conversation.load(self.pk)
        users = await info.context.loaders.user_by_id.load_many([member.user_id for member in members])
        return [User.from_model(user) for user in users if user is not None]

    @strawberry.field(description="Messages of the others the caller has not read yet.")
    async def unread_count(self, info: Info) -> int:
        user = info.context.user
        assert user is not None  # a Conversation is only ever shown to a signed-in participant
        count: int = await info.context.loaders.chat.unread_count.load((self.pk, user.id))
        return count

    @strawberry.field
    async def last_message(self, info: Info) -> Message | None:
        newest = await info.context.loaders.chat.last_message.load(self.pk)
        return Message.from_model(newest) if newest else None

    @strawberry.field(
        description="Newest last: `last` messages before the `before` cursor (paging backwards)."
    )
    async def messages(
        self, info: Info, last: int | None = None, before: str | None = None
    ) -> Connection[Message]:
        page = await chat.messages(info.context, self.pk, last=last, before=before)
        return connection_from_page(
            [Message.from_model(row) for row in page.items],
            page.cursors,
            total_count=page.total_count,
            has_previous_page=page.has_previous_page,
        )


@strawberry.input
class StartConversationInput:
    participant_ids: list[strawberry.ID] = strawberry.field(description="Users besides the caller.")
    title: str | None = None


@strawberry.input
class SendMessageInput:
    conversation_id: strawberry.ID
    body: str
    reply_to_id: strawberry.ID | None = None
    attachments: list[Upload] | None = strawberry.field(
        default=None, description="At most 10 files of 10 MB: images, PDF, plain text, office documents."
    )


@strawberry.input
class MarkConversationReadInput:
    conversation_id: strawberry.ID


@strawberry.type
class StartConversationPayload:
    conversation: Conversation | None
    user_errors: list[UserError]


@strawberry.type
class SendMessagePayload:
    message: Message | None
    user_errors: list[UserError]


@strawberry.type
class MarkConversationReadPayload:
    conversation: Conversation | None
    user_errors: list[UserError]


@strawberry.type
class ChatQueries:
    @strawberry.field(description="The caller's conversations, the most recently active first.")
    async def conversations(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Conversation]:
        page = await chat.conversations(info.context, first=first, after=after)
        return connection_from_page(
            [Conversation.from_model(row) for row in page.items],
            page.cursors,
            total_count=page.total_count,
            has_next_page=page.has_next_page,
        )

    @strawberry.field(description="A conversation the caller takes part in.")
    async def conversation(self, info: Info, id: strawberry.ID) -> Conversation:
        return Conversation.from_model(await chat.conversation(info.context, str(id)))


@strawberry.type
class ChatMutations:
    @strawberry.mutation(description="Starts a conversation with users the caller may contact.")
    async def start_conversation(self, info: Info, input: StartConversationInput) -> StartConversationPayload:
        result = await chat.start_conversation(
            info.context, [str(pk) for pk in input.participant_ids], input.title
        )
        if isinstance(result, list):
            return StartConversationPayload(conversation=None, user_errors=user_errors(result))
        return StartConversationPayload(conversation=Conversation.from_model(result), user_errors=[])

    @strawberry.mutation(
        description="A message with its files (multipart); a refused file refuses the message."
    )
    async def send_message(self, info: Info, input: SendMessageInput) -> SendMessagePayload:
        # On Starlette, an Upload is Starlette's UploadFile.
        uploads = [cast(UploadFile, upload) for upload in input.attachments or []]
        result = await chat.send_message(
            info.context,
            str(input.conversation_id),
            input.body,
            str(input.reply_to_id) if input.reply_to_id else None,
            uploads,
        )
        if isinstance(result, list):
            return SendMessagePayload(message=None, user_errors=user_errors(result))
        return SendMessagePayload(message=Message.from_model(result), user_errors=[])

    @strawberry.mutation
    async def mark_conversation_read(
        self, info: Info, input: MarkConversationReadInput
    ) -> MarkConversationReadPayload:
        read = await chat.mark_conversation_read(info.context, str(input.conversation_id))
        return MarkConversationReadPayload(conversation=Conversation.from_model(read), user_errors=[])


@strawberry.type
class ChatSubscriptions:
    @strawberry.subscription(description="New messages of a conversation the caller takes part in.")
    async def message_added(
        self, info: Info, conversation_id: strawberry.ID
    ) -> AsyncGenerator[Message, None]:
        messages = chat.message_events(info.context, str(conversation_id))
        async with contextlib.aclosing(messages):  # unsubscribed with the subscription, not by the collector
            async for message in messages:
                yield Message.from_model(message)
