"""Account recovery: `requestPasswordReset` and `resetPassword` (no token needed for either)."""

from __future__ import annotations

import strawberry

from resolvers import password_reset
from schema.base import Info, OkPayload


@strawberry.input
class RequestPasswordResetInput:
    email: str


@strawberry.input
class ResetPasswordInput:
    token: str = strawberry.field(description="From the e-mailed link.")
    new_password: str


@strawberry.type
class PasswordResetMutations:
    @strawberry.mutation(
        description="Always ok, known address or not; an account gets a single-use link valid 30 minutes."
    )
    async def request_password_reset(self, info: Info, input: RequestPasswordResetInput) -> OkPayload:
        return OkPayload.from_problems(await password_reset.request_password_reset(info.context, input.email))

    @strawberry.mutation(
        description="Sets a new password with a reset link's token, once; ends all sessions."
    )
    async def reset_password(self, info: Info, input: ResetPasswordInput) -> OkPayload:
        problems = await password_reset.reset_password(info.context, input.token, input.new_password)
        return OkPayload.from_problems(problems)
