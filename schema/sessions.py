"""The caller's sessions (devices): `mySessions` and `revokeSession`."""

from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers import sessions
from resolvers.sessions import UserSession as UserSessionRow
from resolvers.sessions import session_global_id
from schema.base import Connection, Info, Node, UserError, connection_of, user_errors
from schema.enums import SignInMethod


@strawberry.type(description="A signed-in device: a refresh-token family and the access tokens issued in it.")
class UserSession(Node):
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime = strawberry.field(description="When its refresh token expires unless used.")
    user_agent: str | None
    ip: str | None
    sign_in_method: SignInMethod
    sso_provider: str | None = strawberry.field(description="SSO: the provider's key.")
    current: bool = strawberry.field(description="The session of the token that asks.")

    @classmethod
    def from_row(cls, row: UserSessionRow) -> UserSession:
        return cls(
            id=strawberry.ID(session_global_id(row.family_id)),
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            expires_at=row.expires_at,
            user_agent=row.user_agent,
            ip=row.ip,
            sign_in_method=row.sign_in_method,
            sso_provider=row.sso_provider,
            current=row.current,
        )


@strawberry.input
class RevokeSessionInput:
    session_id: strawberry.ID


@strawberry.type
class RevokeSessionPayload:
    session: UserSession | None = strawberry.field(description="The session that was ended.")
    user_errors: list[UserError]


@strawberry.type
class SessionQueries:
    @strawberry.field(description="The caller's active sessions, the most recently used first.")
    async def my_sessions(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[UserSession]:
        page = await sessions.my_sessions(info.context, first, after)
        return connection_of(page, UserSession.from_row)


@strawberry.type
class SessionMutations:
    @strawberry.mutation(
        description="Ends one of the caller's sessions: its tokens and its live connections, at once."
    )
    async def revoke_session(self, info: Info, input: RevokeSessionInput) -> RevokeSessionPayload:
        ended, problems = await sessions.revoke_session(info.context, str(input.session_id))
        return RevokeSessionPayload(
            session=UserSession.from_row(ended) if ended else None, user_errors=user_errors(problems)
        )
