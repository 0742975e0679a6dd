"""Single sign-on (OpenID Connect): the sign-in buttons, the flow's two steps and its last one.

1. `start_sign_in` (GET /auth/sso/{key}/start?school=...): a state, a nonce and a PKCE verifier,
   kept together in the one-time store for STATE_SECONDS under the state itself, and the
   provider's authorization URL. The browser is bound to the state (web/sso.py sets a cookie).
2. `finish_sign_in` (GET /auth/sso/{key}/callback): the state must be the browser's; it is taken
   (so it works once) and must have been made for this provider; the code is exchanged with the
   verifier, the ID token validated (services/oidc.py) and the account matched: an active user of
   the provider's school whose e-mail is the token's verified e-mail, in one of the provider's
   allowed domains. No account is ever created, and one of another school never matches. The
   frontend gets a one-time code (CODE_SECONDS, once) or an error code.
3. `exchange_sso_code` (exchangeSsoCode): the code becomes the session `login` gives, with
   signInMethod SSO and the provider's key.

An ID token that fails validation (signature, iss, aud, exp, nonce) is PROVIDER_ERROR, as is any
failure to talk to the provider. Each refusal and each sign-in is audited.
"""

from __future__ import annotations

import enum
import hmac
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from auth.client_secrets import open_secret
from auth.identity import SignInMethod
from errors import Problem
from models import School, SsoProvider, User
from models.base import utcnow
from models.enums import SsoProviderKind
from resolvers import audit
from resolvers.auth import SessionTokens, start_session
from resolvers.sso_config import api_origin, redirect_uri
from services.oidc import Identity, OidcError, authorization_url, new_secret

if TYPE_CHECKING:
    from context import Context

log = logging.getLogger(__name__)

STATE_SECONDS = 600
CODE_SECONDS = 60
STATE_KIND = "sso-state"
CODE_KIND = "sso-code"
MAX_RETURN_TO = 500
MAX_PARAMETER = 2000
INVALID_CODE = Problem(
    "This sign-in code is not valid: it may have expired or been used. Sign in again.",
    "INVALID_CODE",
    ("input", "code"),
)


class SsoRefusal(enum.Enum):
    """Why the callback sends the browser back without a code (the frontend's ?error=)."""

    INVALID_STATE = "INVALID_STATE"
    PROVIDER_ERROR = "PROVIDER_ERROR"
    ACCESS_DENIED = "ACCESS_DENIED"
    EMAIL_NOT_VERIFIED = "EMAIL_NOT_VERIFIED"
    DOMAIN_NOT_ALLOWED = "DOMAIN_NOT_ALLOWED"
    NO_ACCOUNT = "NO_ACCOUNT"


class FlowState(BaseModel):
    """What the start of a sign-in keeps for its callback (in the one-time store)."""

    provider_id: int
    school_id: int
    key: str
    nonce: str
    code_verifier: str
    redirect_uri: str
    return_to: str | None


class SignInCode(BaseModel):
    """What a one-time code stands for."""

    user_id: int
    provider_id: int


@dataclass(frozen=True)
class SignInButton:
    key: str
    kind: SsoProviderKind
    display_name: str
    start_url: str


@dataclass(frozen=True)
class Started:
    """Where the start sends the browser, and the state it binds the browser to (None when it
    sends it back to the frontend with an error)."""

    url: str
    state: str | None


@dataclass(frozen=True)
class Callback:
    """The callback's query parameters as the provider sent them, and the state the browser was
    bound to at the start (its cookie)."""

    code: str | None
    state: str | None
    error: str | None
    browser_state: str | None


class Refused(Exception):
    def __init__(self, refusal: SsoRefusal, reason: str) -> None:
        super().__init__(reason)
        self.refusal = refusal


async def sso_providers(ctx: Context, school_code: str) -> list[SignInButton]:
    """The enabled providers of the school with that code (slug); anyone may ask."""
    async with ctx.session_factory() as session:
        query = (
            select(SsoProvider)
            .join(School, School.id == SsoProvider.school_id)
            .where(School.slug == school_code.strip(), SsoProvider.enabled.is_(True))
            .order_by(SsoProvider.display_name, SsoProvider.key)
        )
        providers = (await session.scalars(query)).all()
    origin = api_origin(ctx)
    return [
        SignInButton(
            key=provider.key,
            kind=provider.kind,
            display_name=provider.display_name,
            start_url=f"{origin}/auth/sso/{provider.key}/start?{urlencode({'school': school_code.strip()})}",
        )
        for provider in providers
    ]


def safe_return_to(value: str | None) -> str | None:
    """`value` if it is a path of the frontend's own origin (never another site's: "//host",
    "/\\host", a scheme, control characters), else None."""
    if not value or len(value) > MAX_RETURN_TO or not value.startswith("/") or value.startswith("//"):
        return None
    if "\\" in value or any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        return None
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else None


def complete_url(ctx: Context, **params: str | None) -> str:
    """{FRONTEND_URL}/auth/sso/complete?code=...[&returnTo=...] or ?error=..."""
    query = urlencode({name: value for name, value in params.items() if value is not None})
    return f"{ctx.settings.frontend_url.rstrip('/')}/auth/sso/complete?{query}"


async def start_sign_in(ctx: Context, key: str, school_code: str, return_to: str | None) -> Started | None:
    """Where to send the browser: the provider's authorization URL (or the frontend with
    PROVIDER_ERROR when the provider cannot be reached). None: no such enabled provider."""
    async with ctx.session_factory() as session:
        provider = await session.scalar(
            select(SsoProvider)
            .join(School, School.id == SsoProvider.school_id)
            .where(School.slug == school_code.strip(), SsoProvider.key == key, SsoProvider.enabled.is_(True))
        )
    if provider is None:
        return None
    try:
        metadata = await ctx.app.oidc.discover(provider.issuer)
    except OidcError as error:
        log.warning("SSO provider %s of school %s: %s", provider.key, provider.school_id, error)
        return Started(complete_url(ctx, error=SsoRefusal.PROVIDER_ERROR.value), None)
    flow = FlowState(
        provider_id=provider.id,
        school_id=provider.school_id,
        key=provider.key,
        nonce=new_secret(),
        code_verifier=new_secret(),
        redirect_uri=redirect_uri(ctx, provider.key),
        return_to=safe_return_to(return_to),
    )
    state = await ctx.app.one_time.put(STATE_KIND, flow.model_dump_json(), STATE_SECONDS)
    url = authorization_url(
        metadata,
        client_id=provider.client_id,
        redirect_uri=flow.redirect_uri,
        state=state,
        nonce=flow.nonce,
        code_verifier=flow.code_verifier,
    )
    return Started(url, state)


async def finish_sign_in(ctx: Context, key: str, callback: Callback) -> str:
    """The frontend URL the browser goes to: with a one-time code, or with the refusal."""
    try:
        flow = await _take_state(ctx, key, callback)
    except Refused as refused:
        return _refused(ctx, key, refused)
    try:
        user, provider = await _match(ctx, flow, callback)
    except Refused as refused:
        await _audit_refusal(ctx, refused, flow)
        return _refused(ctx, key, refused)
    code = await ctx.app.one_time.put(
        CODE_KIND, SignInCode(user_id=user.id, provider_id=provider.id).model_dump_json(), CODE_SECONDS
    )
    async with ctx.writer.begin() as session:
        audit.record(
            session,
            ctx,
            "sso.verified",
            "User",
            user.id,
            actor_id=user.id,
            school_id=user.school_id,
            detail={"provider": provider.key},
        )
    return complete_url(ctx, code=code, returnTo=flow.return_to)


async def _take_state(ctx: Context, key: str, callback: Callback) -> FlowState:
    """The flow the state was made for, once; INVALID_STATE for any other state, and for one
    that comes back in another browser than the one that started (login CSRF: someone else's
    callback URL, with their code, must not sign this browser in as them)."""
    state, bound = callback.state, callback.browser_state
    if not state or len(state) > MAX_PARAMETER or not bound or not hmac.compare_digest(state, bound):
        raise Refused(SsoRefusal.INVALID_STATE, "no state, or not the state of this browser")
    raw = await ctx.app.one_time.take(STATE_KIND, state)
    if raw is None:
        raise Refused(SsoRefusal.INVALID_STATE, "unknown, used or expired state")
    try:
        flow = FlowState.model_validate_json(raw)
    except ValidationError as error:
        raise Refused(SsoRefusal.INVALID_STATE, "unreadable state") from error
    if flow.key != key:
        raise Refused(SsoRefusal.INVALID_STATE, f"state made for provider {flow.key}")
    return flow


async def _match(ctx: Context, flow: FlowState, callback: Callback) -> tuple[User, SsoProvider]:
    """The account the provider vouches for; raises Refused."""
    if callback.error is not None:
        refusal = SsoRefusal.ACCESS_DENIED if callback.error == "access_denied" else SsoRefusal.PROVIDER_ERROR
        raise Refused(refusal, f"the provider answered {callback.error[:100]}")
    if not callback.code or len(callback.code) > MAX_PARAMETER:
        raise Refused(SsoRefusal.PROVIDER_ERROR, "no code")
    async with ctx.session_factory() as session:
        provider = await session.get(SsoProvider, flow.provider_id)
    if provider is None or not provider.enabled or provider.school_id != flow.school_id:
        raise Refused(SsoRefusal.PROVIDER_ERROR, "the provider is gone or disabled")
    identity = await _identity(ctx, provider, flow, callback.code)
    email = (identity.email or "").strip().lower()
    if not email or not _verified(provider, identity):
        raise Refused(SsoRefusal.EMAIL_NOT_VERIFIED, "no verified e-mail in the ID token")
    if email.rpartition("@")[2] not in provider.allowed_email_domains:
        raise Refused(SsoRefusal.DOMAIN_NOT_ALLOWED, "e-mail domain not allowed")
    async with ctx.session_factory() as session:
        user = await session.scalar(
            select(User).where(User.email == email, User.school_id == provider.school_id)
        )
    if user is None or not user.is_active:
        raise Refused(SsoRefusal.NO_ACCOUNT, "no active account of the school has this e-mail")
    return user, provider


async def _identity(ctx: Context, provider: SsoProvider, flow: FlowState, code: str) -> Identity:
    secret = open_secret(ctx.settings.secret_key, provider.client_secret_encrypted or "")
    if secret is None:
        log.warning(
            "SSO provider %s: its client secret cannot be read (was SECRET_KEY changed?)", provider.key
        )
        raise Refused(SsoRefusal.PROVIDER_ERROR, "client secret unreadable")
    oidc = ctx.app.oidc
    try:
        metadata = await oidc.discover(provider.issuer)
        answer = await oidc.exchange_code(
            metadata,
            client_id=provider.client_id,
            client_secret=secret,
            redirect_uri=flow.redirect_uri,
            code=code,
            code_verifier=flow.code_verifier,
        )
        return await oidc.identity(metadata, answer, client_id=provider.client_id, nonce=flow.nonce)
    except OidcError as error:
        log.warning("SSO provider %s of school %s: %s", provider.key, provider.school_id, error)
        raise Refused(SsoRefusal.PROVIDER_ERROR, str(error)) from error


def _verified(provider: SsoProvider, identity: Identity) -> bool:
    """email_verified true. Microsoft Entra ID sends no email_verified; its optional claim
    xms_edov (the e-mail's domain is verified by the tenant) says the same there."""
    if identity.email_verified:
        return True
    return provider.kind == SsoProviderKind.MICROSOFT and identity.claims.get("xms_edov") in (
        True,
        "1",
        "true",
    )


def _refused(ctx: Context, key: str, refused: Refused) -> str:
    log.info("SSO sign-in through %s refused: %s (%s)", key, refused.refusal.value, refused)
    return complete_url(ctx, error=refused.refusal.value)


async def _audit_refusal(ctx: Context, refused: Refused, flow: FlowState) -> None:
    async with ctx.writer.begin() as session:
        audit.record(
            session,
            ctx,
            "sso.refused",
            "SsoProvider",
            flow.provider_id,
            school_id=flow.school_id,
            detail={"refusal": refused.refusal.value, "reason": str(refused)[:300]},
        )


async def exchange_sso_code(ctx: Context, code: str) -> SessionTokens:
    """The session behind a one-time code (once, within CODE_SECONDS); INVALID_CODE otherwise."""
    raw = await ctx.app.one_time.take(CODE_KIND, code) if 0 < len(code) <= MAX_PARAMETER else None
    if raw is None:
        return SessionTokens(problems=[INVALID_CODE])
    granted = SignInCode.model_validate_json(raw)
    moment = utcnow()
    async with ctx.writer.begin() as session:
        user = await session.get(User, granted.user_id)
        provider = await session.get(SsoProvider, granted.provider_id)
        if (
            user is None
            or provider is None
            or not (user.is_active and provider.enabled and provider.school_id == user.school_id)
        ):
            return SessionTokens(problems=[INVALID_CODE])
        user.last_sign_in_at = moment
        provider.last_sign_in_at = moment
        tokens = start_session(session, ctx, user, SignInMethod.SSO, provider.key)
        audit.record(
            session,
            ctx,
            "login",
            "User",
            user.id,
            actor_id=user.id,
            school_id=user.school_id,
            detail={"method": SignInMethod.SSO.value, "provider": provider.key},
        )
    return tokens
