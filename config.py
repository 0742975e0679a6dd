"""Every setting CampusGraph reads, from the environment (or a `.env` file), with defaults.

The embedded default (SQLite, in-process pub/sub) needs nothing set. `.env.example`
documents each variable. The command line reads them with `load_settings`, which turns a bad
value into one line naming the variable (never its value), and sets up logging with
`configure_logging`.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Literal

from limits import parse as parse_rate
from pydantic import ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

DEVELOPMENT_SECRET = "development-only-secret-change-me"  # noqa: S105 - refused outside development

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")  # those uvicorn knows too
REDIS_SCHEMES = ("redis", "rediss", "unix")
RATE_FIELDS = (
    "failed_logins_per_account",
    "failed_logins_per_ip",
    "registrations_per_ip",
    "query_cost_budget",
    "reset_emails_per_address",
    "reset_requests_per_ip",
    "bad_reset_tokens_per_ip",
)
# Loggers that log every request at INFO ("HTTP Request: GET ... 200 OK"); kept at WARNING.
QUIET_LOGGERS = ("httpx", "httpcore")

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


class ConfigurationError(ValueError):
    """A variable's value is unusable. Says which variable and what it must be, never the value
    (it may be a secret, or a URL with a password in it)."""

    def __init__(self, variable: str, must: str) -> None:
        super().__init__(f"{variable} {must}")


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
    # The proxies (load balancers) whose X-Forwarded-For and X-Forwarded-Proto are believed:
    # comma-separated addresses or networks ("10.0.0.0/8,127.0.0.1"; "*" trusts everyone). Empty:
    # none, and the client's address is the connection's peer, so a header cannot fake it.
    trusted_proxies: str = ""
    # This API's public origin (e.g. https://api.school.example) for the links it hands out
    # (calendar feeds); unset: the origin of the request that asks for the link.
    public_url: str | None = None
    # The web app's origin, for the links it is sent to (password reset, SSO's last step, SMS).
    frontend_url: str = "http://localhost:3000"
    ws_connection_init_timeout_seconds: float = 5.0
    # Open WebSockets per user, across processes (closed with 4429 beyond it). The web app opens one
    # per tab (every subscription shares it): 10 is several tabs on a laptop, a phone and a tablet
    # with room to spare, and a process that crashed holds its sockets' slots for up to the lease
    # while their tabs reconnect elsewhere. A process renews its slots every third of the lease.
    max_websockets_per_user: int = 10
    websocket_lease_seconds: float = 30.0
    # Live grading: at most one EditorsChanged per class per this many seconds, from each process.
    editors_changed_interval_seconds: float = 0.25

    # Tokens
    access_token_minutes: int = 15
    refresh_token_days: int = 30

    # Abuse limits (the `limits` library's notation); shared through Redis when configured
    failed_logins_per_account: str = "10/15 minutes"
    failed_logins_per_ip: str = "30/15 minutes"
    registrations_per_ip: str = "10/hour"
    query_cost_budget: str = "50000/hour"  # sized in schema/cost.py
    reset_emails_per_address: str = "3/hour"
    reset_requests_per_ip: str = "20/hour"
    bad_reset_tokens_per_ip: str = "10/15 minutes"

    # Query limits, enforced before execution
    max_query_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 4000
    # Before validation (schema/limits.py `document_size_error`; the contract's largest in brackets):
    # fields, spreads and inline fragments once fragments are expanded (91), the fields of one
    # selection set with its fragments merged (34), pairs of fields at one response path (67).
    max_document_fields: int = 1000
    max_selection_fields: int = 100
    max_repeated_field_pairs: int = 300
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

    # E-mail over SMTP: on when SMTP_HOST is set.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_from: str = "CampusGraph <no-reply@campusgraph.local>"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    smtp_timeout_seconds: float = 10.0

    # SMS through a Twilio-compatible API: on when SMS_ACCOUNT_SID, SMS_AUTH_TOKEN and SMS_FROM are set.
    sms_api_url: str = "https://api.twilio.com"
    sms_account_sid: str | None = None
    sms_auth_token: str | None = None
    sms_from: str | None = None
    sms_timeout_seconds: float = 10.0

    # E-mail and SMS retries: 5 tries in all, the first retry this long after the first failure, doubling.
    delivery_first_retry_seconds: float = 30.0

    # Translation: an OpenAI-compatible model, or a LibreTranslate-compatible API (the model wins).
    translation_model_url: str | None = None
    translation_model_key: str | None = None
    translation_model_name: str | None = None
    libretranslate_url: str | None = None
    libretranslate_key: str | None = None
    translation_timeout_seconds: float = 10.0

    @field_validator("database_url")
    @classmethod
    def _usable_database_url(cls, url: str) -> str:
        async_url = to_async_url(url)
        try:
            make_url(async_url)
        except (ValueError, ArgumentError):  # a port that is not a number...; their messages quote it
            raise ConfigurationError("DATABASE_URL", "is not a valid database URL") from None
        return url

    @field_validator("redis_url")
    @classmethod
    def _usable_redis_url(cls, url: str | None) -> str | None:
        if url is not None and url.partition("://")[0] not in REDIS_SCHEMES:
            raise ConfigurationError("REDIS_URL", "must start with redis://, rediss:// or unix://")
        return url

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, level: str) -> str:
        if level.upper() not in LOG_LEVELS:
            raise ConfigurationError("LOG_LEVEL", f"must be one of {', '.join(LOG_LEVELS)}")
        return level.upper()

    @field_validator(*RATE_FIELDS)
    @classmethod
    def _parsable_rate(cls, rate: str, info: ValidationInfo) -> str:
        try:
            parse_rate(rate)
        except ValueError:
            must = "must be a rate such as 10/15 minutes or 100/hour"
            raise ConfigurationError(str(info.field_name).upper(), must) from None
        return rate

    @model_validator(mode="after")
    def _refuse_development_secret(self) -> Settings:
        weak = self.secret_key == DEVELOPMENT_SECRET or len(self.secret_key) < 32
        if self.environment == "production" and weak:
            raise ConfigurationError(
                "SECRET_KEY", "must be set to a random string of at least 32 characters in production"
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
    def email_enabled(self) -> bool:
        return bool(self.smtp_host)

    @property
    def sms_enabled(self) -> bool:
        return bool(self.sms_account_sid and self.sms_auth_token and self.sms_from)

    @property
    def services(self) -> dict[str, ServiceEndpoint]:
        return {
            name: ServiceEndpoint(name, getattr(self, f"{name}_api_url"), getattr(self, f"{name}_api_key"))
            for name in SERVICE_NAMES
        }


def to_async_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    base = scheme.split("+", 1)[0]
    if sep and base == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    if sep and base in ("postgres", "postgresql"):
        return f"postgresql+asyncpg://{rest}"
    raise ConfigurationError("DATABASE_URL", "must start with sqlite:// or postgresql://")


def load_settings() -> Settings:
    """The settings of this process; a bad value ends it with one line naming each variable that
    has one (`configuration: MAX_QUERY_DEPTH must be a valid integer`), never a value, and a
    non-zero status: what the command line wants instead of pydantic's traceback, which quotes
    the values."""
    try:
        return Settings()
    except ValidationError as error:
        raise SystemExit(f"configuration: {'; '.join(_problems(error))}") from None
    except SettingsError as error:  # a list variable (CORS_ORIGINS) that is not JSON
        field = re.search(r'field "(\w+)"', str(error))
        problem = f"{field.group(1).upper()} must be a JSON list" if field else str(error)
        raise SystemExit(f"configuration: {problem}") from None


def _problems(error: ValidationError) -> list[str]:
    """One phrase per bad variable, from our own ConfigurationErrors or pydantic's messages
    ("Input should be a valid integer, unable to parse..." becomes "must be a valid integer")."""
    problems = []
    for problem in error.errors(include_input=False, include_url=False):
        cause = problem.get("ctx", {}).get("error")
        if isinstance(cause, ConfigurationError):
            problems.append(str(cause))
            continue
        variable = str(problem["loc"][0]).upper() if problem["loc"] else "a setting"
        must = problem["msg"].removeprefix("Input should be ").partition(", unable")[0]
        problems.append(f"{variable} must be {must}")
    return problems


def configure_logging(settings: Settings) -> None:
    """Logging at LOG_LEVEL, as `logging.basicConfig(level=...)`, with the per-request INFO lines
    of httpx and httpcore (every microservice call) left out: they log at WARNING and above."""
    logging.basicConfig(level=settings.log_level)
    level = max(logging.WARNING, logging.getLevelNamesMapping()[settings.log_level])
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(level)
