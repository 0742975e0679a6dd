"""A school's single sign-on set-up: `ssoProviderConfigs` and `configureSsoProvider` (admins only).

A provider is found by its key within the school. Configuring one fetches the issuer's discovery
document (services/oidc.py), which must name the same issuer; the issuer must be https outside
ENVIRONMENT=development, and there not name this machine or a private network (an IP literal or
localhost is INVALID; a name that resolves there is refused by the client, ISSUER_UNREACHABLE).
The client secret is stored sealed (auth/client_secrets.py) and never
returned: the API only says whether one is set. Another school's providers are never seen.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from auth.client_secrets import seal_secret
from errors import Problem
from models import SsoProvider
from models.base import utcnow
from models.enums import SsoProviderKind
from resolvers import audit
from resolvers.roster_rules import require_admin
from services.oidc import GOOGLE_ISSUER, IssuerMismatch, IssuerUnreachable, OidcError, private_host

if TYPE_CHECKING:
    from context import Context

KEY_PATTERN = re.compile(r"[a-z0-9-]{2,40}")
DOMAIN_PATTERN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}")
MAX_DOMAINS = 50
MAX_SECRET_LENGTH = 500
MAX_ISSUER_LENGTH = 500


@dataclass(frozen=True)
class ProviderSettings:
    """What an admin asks for (ConfigureSsoProviderInput)."""

    key: str
    kind: SsoProviderKind
    display_name: str
    issuer: str | None
    client_id: str
    client_secret: str | None
    allowed_email_domains: Sequence[str]
    enabled: bool | None  # None: on for a new provider, unchanged for an existing one


def api_origin(ctx: Context) -> str:
    """PUBLIC_URL, or the origin of the request that asks."""
    origin = ctx.settings.public_url or (str(ctx.request.base_url) if ctx.request is not None else "")
    return origin.rstrip("/")


def redirect_uri(ctx: Context, key: str) -> str:
    """The callback URL an admin registers at the provider (and the flow sends it)."""
    return f"{api_origin(ctx)}/auth/sso/{key}/callback"


async def sso_provider_configs(ctx: Context) -> list[SsoProvider]:
    admin = require_admin(ctx)
    async with ctx.session_factory() as session:
        query = select(SsoProvider).where(SsoProvider.school_id == admin.school_id)
        return list((await session.scalars(query.order_by(SsoProvider.key))).all())


async def configure_sso_provider(ctx: Context, wanted: ProviderSettings) -> SsoProvider | list[Problem]:
    """Creates or changes the school's provider of `wanted.key`; nothing is written on a problem."""
    admin = require_admin(ctx)
    issuer, problems = _checked(ctx, wanted)
    key = wanted.key.strip()
    async with ctx.session_factory() as session:
        existing = await _provider(session, admin.school_id, key)
    if existing is None and wanted.client_secret is None:
        problems.append(
            Problem("A new provider needs its client secret.", "INVALID", ("input", "clientSecret"))
        )
    if problems:
        return problems
    assert issuer is not None
    try:
        metadata = await ctx.app.oidc.discover(issuer, fresh=True)
    except IssuerMismatch as error:
        return [Problem(f"The issuer's discovery document disagrees: {error}.", "ISSUER_MISMATCH", _ISSUER)]
    except (IssuerUnreachable, OidcError):
        return [Problem("The issuer's discovery document could not be read.", "ISSUER_UNREACHABLE", _ISSUER)]
    try:
        return await _write(ctx, admin.school_id, wanted, metadata.issuer)
    except IntegrityError:
        # A concurrent first configuration of the same key won the insert: this one updates it.
        return await _write(ctx, admin.school_id, wanted, metadata.issuer)


_ISSUER = ("input", "issuer")


def _checked(ctx: Context, wanted: ProviderSettings) -> tuple[str | None, list[Problem]]:
    """The issuer to use and the input's problems."""
    problems = []
    if not KEY_PATTERN.fullmatch(wanted.key.strip()):
        problems.append(Problem("The key has 2 to 40 of a-z, 0-9 and -.", "INVALID", ("input", "key")))
    if not 1 <= len(wanted.display_name.strip()) <= 120:
        problems.append(
            Problem("The display name has 1 to 120 characters.", "INVALID", ("input", "displayName"))
        )
    if not 1 <= len(wanted.client_id.strip()) <= 255:
        problems.append(Problem("The client id has 1 to 255 characters.", "INVALID", ("input", "clientId")))
    secret = wanted.client_secret
    if secret is not None and not 1 <= len(secret) <= MAX_SECRET_LENGTH:
        problems.append(
            Problem(
                f"The client secret has 1 to {MAX_SECRET_LENGTH} characters.",
                "INVALID",
                ("input", "clientSecret"),
            )
        )
    domains = [domain.strip().lower() for domain in wanted.allowed_email_domains]
    if not 1 <= len(domains) <= MAX_DOMAINS or not all(DOMAIN_PATTERN.fullmatch(d) for d in domains):
        problems.append(
            Problem(
                f"Give 1 to {MAX_DOMAINS} e-mail domains, such as school.example.",
                "INVALID",
                ("input", "allowedEmailDomains"),
            )
        )
    issuer, problem = _issuer(ctx, wanted)
    if problem is not None:
        problems.append(problem)
    return issuer, problems


def _issuer(ctx: Context, wanted: ProviderSettings) -> tuple[str | None, Problem | None]:
    issuer = wanted.issuer.strip() if wanted.issuer is not None else None
    if wanted.kind == SsoProviderKind.GOOGLE:
        if issuer is None or issuer.rstrip("/") == GOOGLE_ISSUER:
            return GOOGLE_ISSUER, None
        return None, Problem(f"Google's issuer is {GOOGLE_ISSUER}.", "INVALID", _ISSUER)
    if not issuer:
        return None, Problem(
            "Microsoft and OpenID Connect providers need their issuer URL.", "INVALID", _ISSUER
        )
    parts = urlsplit(issuer)
    development = ctx.settings.environment == "development"
    schemes = ("https", "http") if development else ("https",)
    if (
        len(issuer) > MAX_ISSUER_LENGTH
        or parts.scheme not in schemes
        or not parts.hostname
        or "@" in parts.netloc
        or parts.query
        or parts.fragment
    ):
        return None, Problem(
            "The issuer is an https:// URL without a query (http:// only in development).", "INVALID", _ISSUER
        )
    if not development and private_host(parts.hostname):
        return None, Problem(
            "The issuer must be a public address, not this machine or a private network.", "INVALID", _ISSUER
        )
    return issuer, None


async def _provider(session: AsyncSession, school_id: int, key: str) -> SsoProvider | None:
    query = select(SsoProvider).where(SsoProvider.school_id == school_id, SsoProvider.key == key)
    return await session.scalar(query)


async def _write(ctx: Context, school_id: int, wanted: ProviderSettings, issuer: str) -> SsoProvider:
    key = wanted.key.strip()
    domains = sorted({domain.strip().lower() for domain in wanted.allowed_email_domains})
    moment = utcnow()
    async with ctx.writer.begin() as session:
        provider = await _provider(session, school_id, key)
        created = provider is None
        if provider is None:
            provider = SsoProvider(school_id=school_id, key=key, created_at=moment)
            session.add(provider)
        before = _shown(provider) if not created else {}
        provider.kind = wanted.kind
        provider.display_name = wanted.display_name.strip()
        provider.issuer = issuer
        provider.client_id = wanted.client_id.strip()
        provider.allowed_email_domains = domains
        if wanted.enabled is not None or created:
            provider.enabled = wanted.enabled is not False
        provider.updated_at = moment
        if wanted.client_secret is not None:
            provider.client_secret_encrypted = seal_secret(ctx.settings.secret_key, wanted.client_secret)
        await session.flush()
        after = _shown(provider)
        audit.record(
            session,
            ctx,
            "sso_provider.created" if created else "sso_provider.updated",
            "SsoProvider",
            provider.id,
            detail={
                "key": key,
                "changed": sorted(name for name, value in after.items() if before.get(name) != value),
                "secretChanged": wanted.client_secret is not None,
            },
        )
    return provider


def _shown(provider: SsoProvider) -> dict[str, object]:
    """The fields an audit entry compares (never the secret)."""
    return {
        "kind": provider.kind.value if provider.kind else None,
        "displayName": provider.display_name,
        "issuer": provider.issuer,
        "clientId": provider.client_id,
        "allowedEmailDomains": list(provider.allowed_email_domains or []),
        "enabled": provider.enabled,
    }
