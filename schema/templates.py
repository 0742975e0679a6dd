"""Message templates' roots: messageTemplates, messageTemplateVariables, previewMessage, and
create/update/archiveMessageTemplate."""

from __future__ import annotations

from datetime import datetime

import strawberry

from errors import Problem
from models import MessageTemplate as MessageTemplateModel
from models.enums import NotificationCategory
from models.templating import VARIABLES
from resolvers import previews, templates
from resolvers.ids import encode_id
from resolvers.previews import PreviewRequest
from resolvers.templates import TemplateFields
from schema.base import Connection, Info, Node, UserError, connection_of, user_errors
from schema.users import User


@strawberry.type(description="A school's reusable title and body with {{variables}}.")
class MessageTemplate(Node):
    name: str
    category: NotificationCategory
    title: str
    body: str
    language: str = strawberry.field(description="BCP 47, one of supportedLanguages.")
    variables: list[str] = strawberry.field(
        description="The variables title and body use, in order of first use."
    )
    version: int
    archived: bool
    created_at: datetime
    updated_at: datetime
    created_by_id: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, template: MessageTemplateModel) -> MessageTemplate:
        return cls(
            id=strawberry.ID(encode_id("MessageTemplate", template.id)),
            name=template.name,
            category=template.category,
            title=template.title,
            body=template.body,
            language=template.language,
            variables=templates.used_variables(template.title, template.body),
            version=template.version,
            archived=template.archived_at is not None,
            created_at=template.created_at,
            updated_at=template.updated_at,
            created_by_id=template.created_by_id,
        )

    @strawberry.field
    async def created_by(self, info: Info) -> User | None:
        return await User.by_id(info, self.created_by_id)


@strawberry.type(description="A variable that titles and bodies may use as {{name}}.")
class TemplateVariable:
    name: str = strawberry.field(description="e.g. student.firstName.")
    description: str
    example: str
    needs_class: bool = strawberry.field(description="Only in a class's announcements.")
    needs_student: bool = strawberry.field(
        description="Only where every recipient is a student or a guardian (not with includeStaff)."
    )


@strawberry.type
class MessageTemplatePayload:
    template: MessageTemplate | None
    user_errors: list[UserError]

    @classmethod
    def of(cls, result: MessageTemplateModel | list[Problem]) -> MessageTemplatePayload:
        if isinstance(result, list):
            return cls(template=None, user_errors=user_errors(result))
        return cls(template=MessageTemplate.from_model(result), user_errors=[])


@strawberry.type(description="A message as it would be sent to a sample student; nothing is sent or stored.")
class MessagePreview:
    title: str | None
    body: str | None
    language: str | None
    translated: bool
    variables: list[str] = strawberry.field(description="The variables used.")
    user_errors: list[UserError]


@strawberry.input
class CreateMessageTemplateInput:
    name: str
    category: NotificationCategory
    title: str
    body: str
    language: str | None = strawberry.field(default=None, description="BCP 47; en when left out.")


@strawberry.input(description="Given fields change.")
class UpdateMessageTemplateInput:
    template_id: strawberry.ID
    name: str | None = None
    category: NotificationCategory | None = None
    title: str | None = None
    body: str | None = None
    language: str | None = None
    expected_version: int | None = None


@strawberry.input
class ArchiveMessageTemplateInput:
    template_id: strawberry.ID


@strawberry.input(description="A template, or a title and body (given ones replace the template's).")
class PreviewMessageInput:
    template_id: strawberry.ID | None = None
    title: str | None = None
    body: str | None = None
    class_id: strawberry.ID | None = None
    sample_student_id: strawberry.ID | None = None
    language: str | None = None


def _text(value: strawberry.ID | None) -> str | None:
    return None if value is None else str(value)


def _fields(input: CreateMessageTemplateInput | UpdateMessageTemplateInput) -> TemplateFields:
    return TemplateFields(
        name=input.name, category=input.category, title=input.title, body=input.body, language=input.language
    )


@strawberry.type
class TemplateQueries:
    @strawberry.field(
        description="The school's message templates by name (teachers, staff and admins); archived ones "
        "only with includeArchived; query matches the name."
    )
    async def message_templates(
        self,
        info: Info,
        category: NotificationCategory | None = None,
        query: str | None = None,
        include_archived: bool = False,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[MessageTemplate]:
        page = await templates.message_templates(
            info.context,
            category=category,
            query=query,
            include_archived=include_archived,
            first=first,
            after=after,
        )
        return connection_of(page, MessageTemplate.from_model)

    @strawberry.field(description="The variables a title or body may use.")
    def message_template_variables(self) -> list[TemplateVariable]:
        return [
            TemplateVariable(
                name=variable.name,
                description=variable.description,
                example=variable.example,
                needs_class=variable.needs_class,
                needs_student=variable.needs_student,
            )
            for variable in VARIABLES
        ]

    @strawberry.field(
        description="A template (or a title and body) rendered for a sample student of the school, and "
        "with a class, translated into `language` when a provider is configured."
    )
    async def preview_message(self, info: Info, input: PreviewMessageInput) -> MessagePreview:
        request = PreviewRequest(
            template_id=_text(input.template_id),
            title=input.title,
            body=input.body,
            class_id=_text(input.class_id),
            sample_student_id=_text(input.sample_student_id),
            language=input.language,
        )
        preview = await previews.preview_message(info.context, request)
        return MessagePreview(
            title=preview.title,
            body=preview.body,
            language=preview.language,
            translated=preview.translated,
            variables=preview.variables,
            user_errors=user_errors(preview.problems),
        )


@strawberry.type
class TemplateMutations:
    @strawberry.mutation(description="Staff and admins: a template of the school (its name unique there).")
    async def create_message_template(
        self, info: Info, input: CreateMessageTemplateInput
    ) -> MessageTemplatePayload:
        return MessageTemplatePayload.of(await templates.create_template(info.context, _fields(input)))

    @strawberry.mutation(description="Staff and admins; announcements made from it keep their text.")
    async def update_message_template(
        self, info: Info, input: UpdateMessageTemplateInput
    ) -> MessageTemplatePayload:
        result = await templates.update_template(
            info.context, str(input.template_id), _fields(input), input.expected_version
        )
        return MessageTemplatePayload.of(result)

    @strawberry.mutation(description="Staff and admins: it leaves the list and starts no new announcements.")
    async def archive_message_template(
        self, info: Info, input: ArchiveMessageTemplateInput
    ) -> MessageTemplatePayload:
        return MessageTemplatePayload.of(
            await templates.archive_template(info.context, str(input.template_id))
        )
