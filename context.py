"""The per-operation Context, and the app-wide singletons it is built from.

HTTP: one Context per request. WebSocket: Strawberry calls `get_context` once per
connection, so subscription generators make fresh loaders per event (`ctx.fresh_loaders()`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import httpx
from redis import asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from auth.identity import CurrentUser
from auth.tokens import AccessClaims
from config import Settings
from loaders import Loaders
from models.db import create_engine, create_session_factory, create_writer_session_factory
from services.clients import ServiceClients, create_http_client
from services.email import Mailer
from services.oidc import OidcClient
from services.translation import Translator
from stores.attempts import AttemptLimiter, MemoryAttemptLimiter, RedisAttemptLimiter
from stores.dashboard_cache import DashboardCache, MemoryDashboardCache, RedisDashboardCache
from stores.one_time import MemoryOneTimeStore, OneTimeStore, RedisOneTimeStore
from stores.ratelimit import RateLimiter
from stores.refresh_queue import MemoryRefreshQueue, RedisRefreshQueue, RefreshQueue
from stores.teacher_dashboard_cache import (
    MemoryTeacherDashboardCache,
    RedisTeacherDashboardCache,
    TeacherDashboardCache,
)
from stores.websocket_slots import MemorySlotCounter, RedisSlotCounter, WebSocketCap
from subscriptions.bus import EventBus
from subscriptions.editors import EditorsAnnouncer
from subscriptions.locks import CellLocks, MemoryCellLocks, RedisCellLocks
from subscriptions.presence import MemoryPresence, Presence, PresenceKeeper, RedisPresence


@dataclass
class AppState:
    """What `create_app` (or the worker) builds once and every operation shares."""

    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    # For transactions that write (on SQLite they take the write lock when they begin).
    writer_session_factory: async_sessionmaker[AsyncSession]
    bus: EventBus
    limiter: RateLimiter
    # Guesses at secrets (passwords, reset tokens, invitation codes), counted before they are checked.
    attempts: AttemptLimiter
    locks: CellLocks
    presence: Presence
    presence_keeper: PresenceKeeper
    editors: EditorsAnnouncer
    services: ServiceClients
    dashboards: DashboardCache
    refresh_queue: RefreshQueue
    teacher_dashboards: TeacherDashboardCache
    http: httpx.AsyncClient
    redis: aioredis.Redis | None
    mailer: Mailer
    translator: Translator
    # Single-use values with a TTL (SSO state and codes) and the OpenID Connect client.
    one_time: OneTimeStore
    oidc: OidcClient
    # The per-user cap on open WebSockets, counted across processes.
    websocket_cap: WebSocketCap


def build_state(settings: Settings) -> AppState:
    """Redis-backed parts when REDIS_URL is set, in-process ones otherwise. Nothing connects
    yet: the bus connects in the lifespan, the rest on first use."""
    engine = create_engine(settings)
    redis = redis_client(settings) if settings.redis_url else None
    http = create_http_client(settings)
    bus = EventBus(redis)
    presence = RedisPresence(redis) if redis else MemoryPresence()
    return AppState(
        settings=settings,
        engine=engine,
        session_factory=create_session_factory(engine),
        writer_session_factory=create_writer_session_factory(engine),
        bus=bus,
        limiter=RateLimiter(settings.redis_url),
        attempts=RedisAttemptLimiter(redis) if redis else MemoryAttemptLimiter(),
        locks=RedisCellLocks(redis) if redis else MemoryCellLocks(),
        presence=presence,
        presence_keeper=PresenceKeeper(presence),
        editors=EditorsAnnouncer(presence, bus, settings.editors_changed_interval_seconds),
        services=ServiceClients(settings, http),
        dashboards=RedisDashboardCache(redis) if redis else MemoryDashboardCache(),
        refresh_queue=RedisRefreshQueue(redis) if redis else MemoryRefreshQueue(),
        teacher_dashboards=RedisTeacherDashboardCache(redis) if redis else MemoryTeacherDashboardCache(),
        http=http,
        redis=redis,
        mailer=Mailer(settings),
        translator=Translator(settings, http),
        one_time=RedisOneTimeStore(redis) if redis else MemoryOneTimeStore(),
        oidc=OidcClient(http, private_networks=settings.environment == "development"),
        websocket_cap=WebSocketCap(
            RedisSlotCounter(redis, settings.websocket_lease_seconds)
            if redis
            else MemorySlotCounter(settings.websocket_lease_seconds),
            settings.max_websockets_per_user,
            settings.websocket_lease_seconds,
        ),
    )


def redis_client(settings: Settings) -> aioredis.Redis:
    """The process's Redis client. Its pool waits (bounded) for a free connection: redis-py's
    default pool fails at once with MaxConnectionsError when all of them are in use. A command
    on a connection that Redis closed (a restart) is retried once on a new one."""
    assert settings.redis_url is not None
    pool = aioredis.BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        timeout=settings.redis_pool_timeout_seconds,
        socket_connect_timeout=2,
        health_check_interval=10,
        retry=Retry(NoBackoff(), 1),
    )
    return aioredis.Redis.from_pool(pool)


async def close_state(state: AppState) -> None:
    await state.editors.close()
    await state.bus.disconnect()
    await state.limiter.close()
    await state.http.aclose()
    if state.redis is not None:
        await state.redis.aclose()
    await state.engine.dispose()


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
    # The estimated cost of the operation (schema/cost.py).
    query_cost: int | None = None
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.app.session_factory, self.app.services)

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
        self.loaders = Loaders(self.app.session_factory, self.app.services)
        return self.loaders
