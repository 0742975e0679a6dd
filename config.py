"""Every setting CampusGraph reads, from the environment (or a `.env` file), with defaults.

The embedded default (SQLite, in-process pub/sub) needs nothing set. `.env.example`
documents each variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET = "development-only-secret-change-me"  # noqa: S105 - refused outside development

SERVICE_NAMES = (
    "talentscope",
    "coaching_os",
    "missions",
    "portfolio",
    "cohort",
    "notifications",
    "leaderboard",
    "ai_coach",
)


class ServiceEndpoint:
    """A microservice of services.md: on when both its URL and its key are set."""

    def __init__(self, name: str, url: str | None, key: str | None) -> None:
        self.name = name
        self.url = url.rstrip("/") if url else None
        self.key = key

    @property
    def enabled(self) -> bool:
        return bool(self.url and self.key)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./campusgraph.db"
    redis_url: str | None = None
    # Connections of each process's Redis pool. A command waits up to redis_pool_timeout_seconds
    # for a free one (then fails as if Redis were unreachable) instead of failing at once.
    redis_max_connections: int = 100
    redis_pool_timeout_seconds: float = 5.0
    secret_key: str = DEVELOPMENT_SECRET
    media_dir: Path = Path("./media")
    log_level: str = "INFO"

    # HTTP surface
    graphiql: bool | None = None  # None: on outside production
    introspection: bool | None = None  # None: on outside production
    cors_origins: list[str] = []
    ws_connection_init_timeout_seconds: float = 5.0
    # Live grading: at most one EditorsChanged per class per this many seconds, from each process.
    editors_changed_interval_seconds: float = 0.25

    # Tokens
    access_token_minutes: int = 15
    refresh_token_days: int = 30

    # Abuse limits (the `limits` library's notation); shared through Redis when configured
    failed_logins_per_account: str = "10/15 minutes"
    failed_logins_per_ip: str = "30/15 minutes"
    registrations_per_ip: str = "10/hour"
    query_cost_budget: str = "100000/hour"

    # Query limits, enforced before execution
    max_query_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 4000
    max_query_cost: int = 25000
    max_page_size: int = 100
    max_body_bytes: int = 1_000_000
    max_multipart_bytes: int = 32 * 1024 * 1024
    max_upload_bytes: int = 10 * 1024 * 1024

    # Debug metrics extension (`extensions.metrics`)
    debug_metrics: bool = False

    # Microservices (services.md): a service is on when both of its variables are set.
    talentscope_api_url: str | None = None
    talentscope_api_key: str | None = None
    coaching_os_api_url: str | None = None
    coaching_os_api_key: str | None = None
    missions_api_url: str | None = None
    missions_api_key: str | None = None
    portfolio_api_url: str | None = None
    portfolio_api_key: str | None = None
    cohort_api_url: str | None = None
    cohort_api_key: str | None = None
    notifications_api_url: str | None = None
    notifications_api_key: str | None = None
    leaderboard_api_url: str | None = None
    leaderboard_api_key: str | None = None
    ai_coach_api_url: str | None = None
    ai_coach_api_key: str | None = None
    service_timeout_seconds: float = 0.8

    # The AI coach's language model (OpenAI-compatible chat completions)
    ai_coach_model_url: str | None = None
    ai_coach_model_key: str | None = None
    ai_coach_model_name: str = "campus-coach"

    @model_validator(mode="after")
    def _refuse_development_secret(self) -> Settings:
        weak = self.secret_key == DEVELOPMENT_SECRET or len(self.secret_key) < 32
        if self.environment == "production" and weak:
            raise ValueError(
                "SECRET_KEY must be set to a random string of at least 32 characters outside development"
            )
        return self

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def graphiql_enabled(self) -> bool:
        return self.graphiql if self.graphiql is not None else not self.is_production

    @property
    def introspection_enabled(self) -> bool:
        return self.introspection if self.introspection is not None else not self.is_production

    @property
    def async_database_url(self) -> str:
        """The database URL with the async driver filled in (aiosqlite or asyncpg)."""
        return to_async_url(self.database_url)

    @property
    def is_sqlite(self) -> bool:
        return self.async_database_url.startswith("sqlite")

    @property
    def services(self) -> dict[str, ServiceEndpoint]:
        return {
            name: ServiceEndpoint(name, getattr(self, f"{name}_api_url"), getattr(self, f"{name}_api_key"))
            for name in SERVICE_NAMES
        }


def to_async_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"DATABASE_URL is not a URL: {url!r}")
    base = scheme.split("+", 1)[0]
    if base == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    if base in ("postgres", "postgresql"):
        return f"postgresql+asyncpg://{rest}"
    raise ValueError(f"DATABASE_URL scheme {scheme!r} is not supported (use sqlite:// or postgresql://)")
