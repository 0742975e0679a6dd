"""The per-operation Context, and the app-wide singletons it is built from.

HTTP: one Context per request. WebSocket: Strawberry calls `get_context` once per
connection, so subscription generators make fresh loaders per event (`ctx.fresh_loaders()`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from config import Settings
from loaders import Loaders
from resolvers.identity import CurrentUser
from resolvers.ratelimit import RateLimiter
from resolvers.tokens import AccessClaims

if TYPE_CHECKING:
    from subscriptions.bus import EventBus
    from subscriptions.locks import CellLocks
    from subscriptions.presence import Presence


@dataclass
class AppState:
    """What `create_app` builds once and every operation shares."""

    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    # For transactions that write (on SQLite they take the write lock when they begin).
    writer_session_factory: async_sessionmaker[AsyncSession]
    bus: EventBus
    limiter: RateLimiter
    locks: CellLocks
    presence: Presence


@dataclass
class Context:
    app: AppState
    request: Request | WebSocket | None
    response: Response | None
    user: CurrentUser | None = None
    claims: AccessClaims | None = None
    # An access token was sent but is invalid or expired: the client should refresh it.
    token_rejected: bool = False
    # graphql-transport-ws: the payload of connection_init (set by Strawberry).
    connection_params: dict[str, object] | None = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    # (subject type, id) of student records read by someone else; audited after the operation.
    audited_reads: set[tuple[str, int]] = field(default_factory=set)
    # The estimated cost of the operation (schema/limits.py).
    query_cost: int | None = None
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.app.session_factory)

    @property
    def settings(self) -> Settings:
        return self.app.settings

    @property
    def session_factory(self) -> async_sessionmaker[AsyncSession]:
        return self.app.session_factory

    @property
    def writer(self) -> async_sessionmaker[AsyncSession]:
        return self.app.writer_session_factory

    @property
    def bus(self) -> EventBus:
        return self.app.bus

    @property
    def client_ip(self) -> str | None:
        client = self.request.client if self.request is not None else None
        return client.host if client else None

    def fresh_loaders(self) -> Loaders:
        """New loaders (an empty cache), for each event of a long-lived subscription."""
        self.loaders = Loaders(self.app.session_factory)
        return self.loaders
