"""The announcement mutations: drafts (multipart with files), publishing, cancelling, marking
copies read."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry
from starlette.datastructures import UploadFile
from strawberry.file_uploads import Upload

from errors import Problem
from models import Announcement as AnnouncementModel
from models.enums import AnnouncementScope, CommunicationChannel, NotificationCategory  # GraphQL enums
from resolvers.announcements import drafts, feed, publishing
from resolvers.announcements.drafts import AudienceInput, DraftFields
from schema.announcements import Announcement
from schema.base import Info, UserError, user_errors


@strawberry.input
class AnnouncementAudienceInput:
    scope: AnnouncementScope
    grade_levels: list[int] | None = strawberry.field(default=None, description="For GRADE_LEVELS.")
    class_id: strawberry.ID | None = strawberry.field(default=None, description="For CLASS.")
    include_students: bool | None = strawberry.field(default=None, description="true unless false.")
    include_guardians: bool | None = strawberry.field(default=None, description="false unless true.")
    include_staff: bool | None = strawberry.field(default=None, description="false unless true.")

    def fields(self) -> AudienceInput:
        return AudienceInput(
            scope=self.scope,
            grade_levels=self.grade_levels,
            class_id=str(self.class_id) if self.class_id is not None else None,
            include_students=self.include_students,
            include_guardians=self.include_guardians,
            include_staff=self.include_staff,
        )


@strawberry.input
class CreateAnnouncementInput:
    audience: AnnouncementAudienceInput
    channels: list[CommunicationChannel]
    title: str | None = strawberry.field(default=None, description="The template's unless given.")
    body: str | None = strawberry.field(default=None, description="The template's unless given.")
    template_id: strawberry.ID | None = None
    category: NotificationCategory | None = strawberry.field(
        default=None, description="ANNOUNCEMENTS unless given."
    )
    language: str | None = strawberry.field(
        default=None, description="What it is written in: en unless given."
    )
    attachments: list[Upload] | None = strawberry.field(
        default=None, description="At most 10 files of 10 MB: images, PDF, plain text, office documents."
    )


@strawberry.input(description="Given fields change; a SCHEDULED announcement keeps its time.")
class UpdateAnnouncementInput:
    announcement_id: strawberry.ID
    title: str | None = None
    body: str | None = None
    channels: list[CommunicationChannel] | None = None
    audience: AnnouncementAudienceInput | None = None
    category: NotificationCategory | None = None
    language: str | None = None
    add_attachments: list[Upload] | None = None
    remove_attachment_ids: list[strawberry.ID] | None = None
    expected_version: int | None = None


@strawberry.input
class PublishAnnouncementInput:
    announcement_id: strawberry.ID
    scheduled_at: datetime | None = strawberry.field(default=None, description="Null: send now.")


@strawberry.input
class CancelAnnouncementInput:
    announcement_id: strawberry.ID


@strawberry.input
class MarkAnnouncementsReadInput:
    ids: list[strawberry.ID] | None = None
    all: bool | None = strawberry.field(default=None, description="true: every copy of the caller.")


@strawberry.type
class AnnouncementPayload:
    announcement: Announcement | None
    user_errors: list[UserError]

    @classmethod
    def of(cls, result: AnnouncementModel | list[Problem]) -> AnnouncementPayload:
        if isinstance(result, list):
            return cls(announcement=None, user_errors=user_errors(result))
        return cls(announcement=Announcement.from_model(result), user_errors=[])


@strawberry.type
class MarkAnnouncementsReadPayload:
    unread_count: int
    user_errors: list[UserError]


def _uploads(uploads: list[Upload] | None) -> list[UploadFile]:
    # On Starlette, an Upload is Starlette's UploadFile.
    return [cast(UploadFile, upload) for upload in uploads or []]


@strawberry.type
class AnnouncementMutations:
    @strawberry.mutation(description="A DRAFT announcement (multipart when it carries files).")
    async def create_announcement(self, info: Info, input: CreateAnnouncementInput) -> AnnouncementPayload:
        fields = DraftFields(
            audience=input.audience.fields(),
            title=input.title,
            body=input.body,
            template_id=str(input.template_id) if input.template_id is not None else None,
            channels=input.channels,
            category=input.category,
            language=input.language,
            uploads=_uploads(input.attachments),
        )
        return AnnouncementPayload.of(await drafts.create_announcement(info.context, fields))

    @strawberry.mutation(description="Changes a DRAFT or SCHEDULED announcement.")
    async def update_announcement(self, info: Info, input: UpdateAnnouncementInput) -> AnnouncementPayload:
        fields = DraftFields(
            audience=input.audience.fields() if input.audience else None,
            title=input.title,
            body=input.body,
            channels=input.channels,
            category=input.category,
            language=input.language,
            uploads=_uploads(input.add_attachments),
            remove_attachment_ids=[str(pk) for pk in input.remove_attachment_ids or []],
            expected_version=input.expected_version,
        )
        result = await drafts.update_announcement(info.context, str(input.announcement_id), fields)
        return AnnouncementPayload.of(result)

    @strawberry.mutation(description="Sends a DRAFT now, or schedules it.")
    async def publish_announcement(self, info: Info, input: PublishAnnouncementInput) -> AnnouncementPayload:
        result = await publishing.publish_announcement(
            info.context, str(input.announcement_id), input.scheduled_at
        )
        return AnnouncementPayload.of(result)

    @strawberry.mutation(description="Cancels a DRAFT or SCHEDULED announcement: nothing of it is sent.")
    async def cancel_announcement(self, info: Info, input: CancelAnnouncementInput) -> AnnouncementPayload:
        return AnnouncementPayload.of(
            await publishing.cancel_announcement(info.context, str(input.announcement_id))
        )

    @strawberry.mutation(description="Marks copies (or all) read, with their notifications; the unread left.")
    async def mark_announcements_read(
        self, info: Info, input: MarkAnnouncementsReadInput
    ) -> MarkAnnouncementsReadPayload:
        ids = [str(pk) for pk in input.ids] if input.ids else None
        unread, problems = await feed.mark_read(info.context, ids, bool(input.all))
        return MarkAnnouncementsReadPayload(unread_count=unread, user_errors=user_errors(problems))
