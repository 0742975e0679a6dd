"""People: the admins' list of accounts, student records, invitations, deactivation and guardians."""

from __future__ import annotations

from datetime import datetime

import strawberry

from errors import Problem
from models import Invitation as InvitationModel
from models import User as UserModel
from models.base import utcnow
from models.enums import InvitationStatus, UserStatus  # GraphQL enums (schema/enums.py registers them)
from resolvers import invitations, people, student_records
from resolvers.ids import encode_id
from resolvers.invitations import IssuedInvitation
from resolvers.people import Guardianship
from resolvers.student_records import ContactFields, StudentFields, StudentRecord
from schema.auth import AuthPayload
from schema.base import Connection, Info, Node, UserError, connection_of, user_errors
from schema.enums import OrderDirection, Role, StudentStatus, UserOrderField
from schema.students import Student
from schema.users import School, User


@strawberry.input
class UserFilter:
    role: list[Role] | None = None
    status: list[UserStatus] | None = None
    query: str | None = None


@strawberry.input
class UserOrder:
    field: UserOrderField
    direction: OrderDirection


@strawberry.input
class EmergencyContactInput:
    name: str
    relationship: str
    phone: str
    email: str | None = None


@strawberry.input
class CreateStudentInput:
    name: str
    email: str
    student_number: str
    grade_level: int
    cohort_year: int
    status: StudentStatus | None = None
    emergency_contacts: list[EmergencyContactInput] | None = None
    invite: bool | None = None


@strawberry.input
class UpdateStudentInput:
    student_id: strawberry.ID
    name: str | None = None
    email: str | None = None
    student_number: str | None = None
    grade_level: int | None = None
    cohort_year: int | None = None
    status: StudentStatus | None = None
    emergency_contacts: list[EmergencyContactInput] | None = None


@strawberry.input
class InviteUserInput:
    user_id: strawberry.ID | None = None
    email: str | None = None
    name: str | None = None
    role: Role | None = None
    ward_ids: list[strawberry.ID] | None = None


@strawberry.input
class RevokeInvitationInput:
    invitation_id: strawberry.ID


@strawberry.input
class AcceptInvitationInput:
    code: str
    password: str
    name: str | None = None


@strawberry.input
class DeactivateUserInput:
    user_id: strawberry.ID
    reason: str | None = None


@strawberry.input
class ReactivateUserInput:
    user_id: strawberry.ID


@strawberry.input
class LinkGuardianInput:
    guardian_id: strawberry.ID
    student_id: strawberry.ID
    relationship: str | None = None


@strawberry.input
class UnlinkGuardianInput:
    guardian_id: strawberry.ID
    student_id: strawberry.ID


@strawberry.type(description="An invitation to set a password: the code works once, for 7 days.")
class Invitation(Node):
    email: str
    role: Role
    status: InvitationStatus
    created_at: datetime
    expires_at: datetime
    code: str | None = strawberry.field(description="The one-time code: only in the answer that made it.")
    url: str | None = strawberry.field(description="The accept page with the code: only in that answer too.")
    user: User

    @classmethod
    def of(cls, issued: IssuedInvitation) -> Invitation:
        row: InvitationModel = issued.invitation
        code = issued.code
        return cls(
            id=strawberry.ID(encode_id("Invitation", row.id)),
            email=issued.user.email,
            role=issued.user.role,
            status=invitations.status_of(row, utcnow()),
            created_at=row.created_at,
            expires_at=row.expires_at,
            code=code,
            url=invitations.accept_path(code) if code else None,
            user=User.from_model(issued.user),
        )


@strawberry.type(description="What the accept page of an invitation shows.")
class InvitationPreview:
    email: str
    name: str
    role: Role
    expires_at: datetime
    school: School


@strawberry.type
class CreateStudentPayload:
    student: Student | None
    invitation: Invitation | None
    user_errors: list[UserError]


@strawberry.type
class UpdateStudentPayload:
    student: Student | None
    user_errors: list[UserError]


@strawberry.type
class InvitationPayload:
    invitation: Invitation | None
    user_errors: list[UserError]


@strawberry.type
class UserStatusPayload:
    user: User | None
    user_errors: list[UserError]


@strawberry.type
class GuardianLinkPayload:
    student: Student | None
    guardian: User | None
    user_errors: list[UserError]


def _student_fields(given: CreateStudentInput | UpdateStudentInput) -> StudentFields:
    """The record's fields an input gives (on update, one not given stays as it is; emergency
    contacts given replace the list)."""
    contacts = given.emergency_contacts
    return StudentFields(
        name=given.name,
        email=given.email,
        student_number=given.student_number,
        grade_level=given.grade_level,
        cohort_year=given.cohort_year,
        status=given.status,
        emergency_contacts=None
        if contacts is None
        else [ContactFields(c.name, c.relationship, c.phone, c.email) for c in contacts],
    )


def _student_payload(result: StudentRecord | list[Problem]) -> CreateStudentPayload:
    if isinstance(result, list):
        return CreateStudentPayload(student=None, invitation=None, user_errors=user_errors(result))
    invitation = Invitation.of(result.invitation) if result.invitation else None
    return CreateStudentPayload(
        student=Student.from_model(result.user, result.profile), invitation=invitation, user_errors=[]
    )


def _invitation_payload(result: IssuedInvitation | list[Problem]) -> InvitationPayload:
    if isinstance(result, list):
        return InvitationPayload(invitation=None, user_errors=user_errors(result))
    return InvitationPayload(invitation=Invitation.of(result), user_errors=[])


def _status_payload(result: UserModel | list[Problem]) -> UserStatusPayload:
    if isinstance(result, list):
        return UserStatusPayload(user=None, user_errors=user_errors(result))
    return UserStatusPayload(user=User.from_model(result), user_errors=[])


def _guardian_payload(result: Guardianship | list[Problem]) -> GuardianLinkPayload:
    if isinstance(result, list):
        return GuardianLinkPayload(student=None, guardian=None, user_errors=user_errors(result))
    return GuardianLinkPayload(
        student=Student.from_model(result.student, result.profile),
        guardian=User.from_model(result.guardian),
        user_errors=[],
    )


@strawberry.type
class PeopleQueries:
    @strawberry.field(
        description="The school's accounts of every role (admins only), by role, status and words of "
        "the name or email (typos forgiven, closest first); pages of at most 100."
    )
    async def users(
        self,
        info: Info,
        filter: UserFilter | None = None,
        order_by: UserOrder | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[User]:
        given = filter or UserFilter()
        page = await people.users(
            info.context,
            people.UserFilter(roles=given.role, statuses=given.status, text=given.query),
            people.UserOrder(
                field=order_by.field.value if order_by else "NAME",
                descending=bool(order_by and order_by.direction == OrderDirection.DESC),
            ),
            first,
            after,
        )
        return connection_of(page, User.from_model)

    @strawberry.field(
        description="No sign-in needed: what an invitation's accept page shows; null for an unknown, "
        "used, revoked or expired code (failed lookups are rate limited per client address)."
    )
    async def invitation_preview(self, info: Info, code: str) -> InvitationPreview | None:
        found = await invitations.preview(info.context, code)
        if found is None:
            return None
        return InvitationPreview(
            email=found.email,
            name=found.name,
            role=found.role,
            expires_at=found.expires_at,
            school=School.from_model(found.school),
        )


@strawberry.type
class PeopleMutations:
    @strawberry.mutation(
        description="Staff and admins make a student record; its account is INVITED until an "
        "invitation is accepted (invite: true makes one, its code shown this once)."
    )
    async def create_student(self, info: Info, input: CreateStudentInput) -> CreateStudentPayload:
        fields = _student_fields(input)
        result = await student_records.create_student(info.context, fields, invite=bool(input.invite))
        return _student_payload(result)

    @strawberry.mutation(
        description="Staff and admins edit a student record; emergencyContacts replaces the list."
    )
    async def update_student(self, info: Info, input: UpdateStudentInput) -> UpdateStudentPayload:
        fields = _student_fields(input)
        result = _student_payload(
            await student_records.update_student(info.context, str(input.student_id), fields)
        )
        return UpdateStudentPayload(student=result.student, user_errors=result.user_errors)

    @strawberry.mutation(
        description="Staff and admins invite a new account, or again one that never signed in (its "
        "older codes stop working); only admins invite STAFF and ADMIN accounts."
    )
    async def invite_user(self, info: Info, input: InviteUserInput) -> InvitationPayload:
        fields = invitations.InviteFields(
            user_id=str(input.user_id) if input.user_id is not None else None,
            email=input.email,
            name=input.name,
            role=input.role,
            ward_ids=[str(ward) for ward in input.ward_ids] if input.ward_ids is not None else None,
        )
        return _invitation_payload(await invitations.invite(info.context, fields))

    @strawberry.mutation(description="Staff and admins: the invitation's code stops working.")
    async def revoke_invitation(self, info: Info, input: RevokeInvitationInput) -> InvitationPayload:
        return _invitation_payload(await invitations.revoke(info.context, str(input.invitation_id)))

    @strawberry.mutation(
        description="No sign-in needed: sets the invited account's password, makes it ACTIVE and signs "
        "it in; the code then stops working."
    )
    async def accept_invitation(self, info: Info, input: AcceptInvitationInput) -> AuthPayload:
        tokens = await invitations.accept(info.context, input.code, input.password, input.name)
        return AuthPayload.from_tokens(tokens)

    @strawberry.mutation(
        description="Staff and admins (STAFF and ADMIN accounts: admins): the account cannot sign in, "
        "its sessions and WebSockets end at once on every server process."
    )
    async def deactivate_user(self, info: Info, input: DeactivateUserInput) -> UserStatusPayload:
        return _status_payload(await people.deactivate(info.context, str(input.user_id), input.reason))

    @strawberry.mutation(
        description="Staff and admins (admins for STAFF and ADMIN): the account signs in again."
    )
    async def reactivate_user(self, info: Info, input: ReactivateUserInput) -> UserStatusPayload:
        return _status_payload(await people.reactivate(info.context, str(input.user_id)))

    @strawberry.mutation(
        description="Staff and admins link a GUARDIAN account to a student of their school: the "
        "guardian then sees the ward's grades, attendance and balances."
    )
    async def link_guardian(self, info: Info, input: LinkGuardianInput) -> GuardianLinkPayload:
        result = await people.link_guardian(
            info.context, str(input.guardian_id), str(input.student_id), input.relationship
        )
        return _guardian_payload(result)

    @strawberry.mutation(description="Staff and admins: the guardian stops seeing the student at once.")
    async def unlink_guardian(self, info: Info, input: UnlinkGuardianInput) -> GuardianLinkPayload:
        result = await people.unlink_guardian(info.context, str(input.guardian_id), str(input.student_id))
        return _guardian_payload(result)
