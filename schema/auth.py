"""Sign-in, registration, token refresh, logout and password change."""

from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers import auth
from resolvers.auth import SessionTokens
from schema.base import Info, OkPayload, UserError, user_errors
from schema.users import User


@strawberry.input
class LoginInput:
    email: str
    password: str


@strawberry.input
class RegisterInput:
    email: str
    password: str
    name: str
    invitation_code: str


@strawberry.input
class RefreshTokenInput:
    refresh_token: str


@strawberry.input
class LogoutInput:
    refresh_token: str


@strawberry.input
class ChangePasswordInput:
    current_password: str
    new_password: str


@strawberry.type(description="A new session: a short-lived access token and a one-use refresh token.")
class AuthPayload:
    access_token: str | None
    refresh_token: str | None
    expires_at: datetime | None = strawberry.field(description="When the access token expires.")
    user: User | None
    user_errors: list[UserError]

    @classmethod
    def from_tokens(cls, tokens: SessionTokens) -> AuthPayload:
        return cls(
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            expires_at=tokens.expires_at,
            user=User.from_model(tokens.user) if tokens.user else None,
            user_errors=user_errors(tokens.problems),
        )


@strawberry.type
class AuthMutations:
    @strawberry.mutation(
        description="Email and password sign-in. Wrong email and wrong password answer alike."
    )
    async def login(self, info: Info, input: LoginInput) -> AuthPayload:
        return AuthPayload.from_tokens(await auth.login(info.context, input.email, input.password))

    @strawberry.mutation(
        description="Self-registration as a student of the school whose invitation code is given."
    )
    async def register(self, info: Info, input: RegisterInput) -> AuthPayload:
        tokens = await auth.register(
            info.context, input.email, input.password, input.name, input.invitation_code
        )
        return AuthPayload.from_tokens(tokens)

    @strawberry.mutation(description="A new token pair for a refresh token, which stops working.")
    async def refresh_token(self, info: Info, input: RefreshTokenInput) -> AuthPayload:
        return AuthPayload.from_tokens(await auth.refresh(info.context, input.refresh_token))

    @strawberry.mutation(description="Ends the session of the refresh token, and its live connections.")
    async def logout(self, info: Info, input: LogoutInput) -> OkPayload:
        return OkPayload.from_problems(await auth.logout(info.context, input.refresh_token))

    @strawberry.mutation(description="Changes the caller's password and ends all of their sessions.")
    async def change_password(self, info: Info, input: ChangePasswordInput) -> OkPayload:
        problems = await auth.change_password(info.context, input.current_password, input.new_password)
        return OkPayload.from_problems(problems)
