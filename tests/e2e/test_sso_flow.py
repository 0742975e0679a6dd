"""Single sign-on end to end: the app (in process) against a real OpenID provider in its own
process (tests/oidc_provider.py) over real HTTP. start → the provider's sign-in → callback →
one-time code → exchangeSsoCode signs the matched account in; whatever does not hold (the state
and the browser it was made for, the nonce, the PKCE verifier, the domain, the verified e-mail,
the account and its school) is refused with its error, and a code works once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from models import User
from models.enums import UserStatus
from tests.clients import GraphQLClient
from tests.conftest import http_client_for
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData
from tests.oidc_provider import OidcProvider, running_provider, s256
from web.sso import STATE_COOKIE

CONFIGURE = contract_operation("ConfigureSsoProvider")
PROVIDERS = contract_operation("SsoProviders")
CONFIGS = contract_operation("SsoProviderConfigs")
EXCHANGE = contract_operation("ExchangeSsoCode")
SESSIONS = contract_operation("MySessions")
ME = contract_operation("Me")
FRONTEND = "https://app.campus.test"
COMPLETE = f"{FRONTEND}/auth/sso/complete"
VERIFIED = {"email_verified": True}
COUNT_USERS = select(func.count()).select_from(User)


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    with running_provider(tmp_path_factory.mktemp("oidc")) as provider:
        yield provider


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app in development (the local provider's issuer is http://), sending the browser to FRONTEND."""
    update_ = {"environment": "development", "frontend_url": FRONTEND}
    async with http_client_for(settings.model_copy(update=update_)) as client:
        yield client


@pytest.fixture
async def north(factory: Factory, http: httpx.AsyncClient, provider: OidcProvider) -> SchoolData:
    """North, whose provider "mock" lets north.test and south.test addresses sign in; and South."""
    north = await factory.school("north")
    await factory.school("south")
    await configure(http, factory.token(north.admin), provider)
    return north


async def configure(http: httpx.AsyncClient, admin_token: str, provider: OidcProvider, **change: Any) -> None:
    settings = {
        "key": "mock",
        "kind": "OIDC",
        "displayName": "School account",
        "issuer": provider.issuer,
        "clientId": "campusgraph",
        "clientSecret": "provider-secret",
        "allowedEmailDomains": ["north.test", "South.test"],
    } | change
    data = await GraphQLClient(http, admin_token).data(CONFIGURE, {"input": settings})
    assert data["configureSsoProvider"]["userErrors"] == []


async def start(http: httpx.AsyncClient, **params: str) -> httpx.Response:
    return await http.get("/auth/sso/mock/start", params={"school": "north"} | params)


async def sign_in(
    http: httpx.AsyncClient,
    provider: OidcProvider,
    sub: str,
    claims: dict[str, Any],
    *,
    tamper: Callable[[httpx.URL], httpx.URL] = lambda url: url,
    return_to: str | None = None,
) -> httpx.URL:
    """The browser's way through: where the callback finally sends it (the frontend)."""
    provider.set_user(sub, claims)
    started = await start(http, **({"returnTo": return_to} if return_to else {}))
    assert started.status_code == 302, started.text
    back = await provider.authorize(str(tamper(httpx.URL(started.headers["location"]))), sub)
    return await follow_callback(http, back)


async def follow_callback(http: httpx.AsyncClient, url: str) -> httpx.URL:
    assert url.startswith("http://campus.test/auth/sso/mock/callback?"), url
    answer = await http.get(url)
    assert answer.status_code == 302, answer.text
    assert answer.headers["cache-control"] == "no-store"
    return httpx.URL(answer.headers["location"])


def error_of(url: httpx.URL) -> str | None:
    assert str(url.copy_with(query=None)) == COMPLETE, url
    assert "code" not in url.params
    return url.params.get("error")


async def exchange(http: httpx.AsyncClient, code: str) -> dict[str, Any]:
    payload: dict[str, Any] = (await GraphQLClient(http).data(EXCHANGE, {"input": {"code": code}}))[
        "exchangeSsoCode"
    ]
    return payload


def replace_param(name: str, value: str) -> Callable[[httpx.URL], httpx.URL]:
    return lambda url: url.copy_set_param(name, value)


async def test_the_flow_signs_the_matched_account_in_once(
    http: httpx.AsyncClient, provider: OidcProvider, north: SchoolData, factory: Factory
) -> None:
    started = await start(http, returnTo="/grades?term=fall")
    assert started.status_code == 302
    authorize = httpx.URL(started.headers["location"])
    assert str(authorize.copy_with(query=None)) == f"{provider.issuer}/oauth2/authorize"
    params = authorize.params
    assert params["response_type"] == "code"
    assert params["scope"] == "openid email profile"
    assert params["client_id"] == "campusgraph"
    assert params["redirect_uri"] == "http://campus.test/auth/sso/mock/callback"
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43
    assert len(params["state"]) >= 43
    assert len(params["nonce"]) >= 43
    assert params["state"] != params["nonce"]
    cookie = started.headers["set-cookie"]
    assert cookie.startswith(f"campusgraph_sso_state={params['state']};")
    for attribute in ("HttpOnly", "Max-Age=600", "Path=/auth/sso/", "SameSite=lax"):
        assert attribute in cookie

    provider.set_user("ana", {"email": "Student@North.test", **VERIFIED})
    done = await follow_callback(http, await provider.authorize(str(authorize), "ana"))
    assert str(done.copy_with(query=None)) == COMPLETE
    assert done.params["returnTo"] == "/grades?term=fall"
    session = await exchange(http, done.params["code"])
    assert session["userErrors"] == []
    assert session["user"]["email"] == "student@north.test"
    assert session["user"]["school"]["name"] == "North School"
    assert session["accessToken"]
    assert session["refreshToken"]
    assert session["expiresAt"]

    signed_in = GraphQLClient(http, session["accessToken"])
    assert (await signed_in.data(ME))["me"]["email"] == "student@north.test"
    [device] = (await signed_in.data(SESSIONS))["mySessions"]["nodes"]
    assert (device["signInMethod"], device["ssoProvider"], device["current"]) == ("SSO", "mock", True)
    [config] = (await GraphQLClient(http, factory.token(north.admin)).data(CONFIGS))["ssoProviderConfigs"]
    assert config["lastSignInAt"] is not None

    again = await exchange(http, done.params["code"])
    assert (again["accessToken"], again["refreshToken"], again["user"]) == (None, None, None)
    assert [(e["code"], e["field"]) for e in again["userErrors"]] == [("INVALID_CODE", ["input", "code"])]
    unknown = await exchange(http, "not-a-code")
    assert [e["code"] for e in unknown["userErrors"]] == ["INVALID_CODE"]


async def test_a_forged_replayed_or_foreign_state_is_refused(
    http: httpx.AsyncClient, provider: OidcProvider, north: SchoolData
) -> None:
    provider.set_user("ana", {"email": "student@north.test", **VERIFIED})
    back = httpx.URL(await provider.authorize((await start(http)).headers["location"], "ana"))
    forged = back.copy_set_param("state", "made-up")
    assert error_of(await follow_callback(http, str(forged))) == "INVALID_STATE"
    assert error_of(await follow_callback(http, str(back.copy_remove_param("state")))) == "INVALID_STATE"
    assert "code" in (await follow_callback(http, str(back))).params
    assert STATE_COOKIE not in http.cookies, "the callback ends the browser's binding"
    # The same browser (its cookie put back) replays the callback: the state itself is spent.
    http.cookies.set(STATE_COOKIE, back.params["state"], domain="campus.test", path="/auth/sso/")
    assert error_of(await follow_callback(http, str(back))) == "INVALID_STATE", "a state works once"

    back = httpx.URL(await provider.authorize((await start(http)).headers["location"], "ana"))
    answer = await http.get(str(back).replace("/auth/sso/mock/", "/auth/sso/other/"))
    assert error_of(httpx.URL(answer.headers["location"])) == "INVALID_STATE", "made for another provider"

    back = httpx.URL(await provider.authorize((await start(http)).headers["location"], "ana"))
    http.cookies.clear()
    assert error_of(await follow_callback(http, str(back))) == "INVALID_STATE", "another browser's callback"


async def test_a_wrong_nonce_or_pkce_verifier_is_refused(
    http: httpx.AsyncClient, provider: OidcProvider, north: SchoolData
) -> None:
    claims = {"email": "student@north.test", **VERIFIED}
    wrong_nonce = await sign_in(http, provider, "ana", claims, tamper=replace_param("nonce", "another-nonce"))
    assert error_of(wrong_nonce) == "PROVIDER_ERROR", "the ID token's nonce is not the flow's"
    wrong_challenge = replace_param("code_challenge", s256("a verifier this flow never had"))
    assert error_of(await sign_in(http, provider, "ana", claims, tamper=wrong_challenge)) == "PROVIDER_ERROR"
    assert "code" in (await sign_in(http, provider, "ana", claims)).params, "untampered, it works"


@pytest.mark.parametrize(
    ("claims", "error"),
    [
        ({"email": "someone@elsewhere.test", **VERIFIED}, "DOMAIN_NOT_ALLOWED"),
        ({"email": "student@north.test", "email_verified": False}, "EMAIL_NOT_VERIFIED"),
        ({"email": "student@north.test"}, "EMAIL_NOT_VERIFIED"),
        ({"email_verified": True}, "EMAIL_NOT_VERIFIED"),
        ({"email": "nobody@north.test", **VERIFIED}, "NO_ACCOUNT"),
        ({"email": "student@south.test", **VERIFIED}, "NO_ACCOUNT"),
    ],
    ids=["foreign-domain", "unverified", "verification-unknown", "no-email", "no-account", "other-school"],
)
async def test_an_account_that_does_not_match_is_refused(
    http: httpx.AsyncClient,
    provider: OidcProvider,
    north: SchoolData,
    claims: dict[str, Any],
    error: str,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as db:
        users = await db.scalar(COUNT_USERS)
    assert error_of(await sign_in(http, provider, f"sub-{error}", claims)) == error
    async with session_factory() as db:
        assert await db.scalar(COUNT_USERS) == users, "no account is ever created"


async def test_a_deactivated_account_and_a_refusal_at_the_provider_sign_nobody_in(
    http: httpx.AsyncClient,
    provider: OidcProvider,
    north: SchoolData,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory.begin() as db:
        await db.execute(
            update(User).where(User.id == north.teacher.id).values(status=UserStatus.DEACTIVATED)
        )
    claims = {"email": "teacher@north.test", **VERIFIED}
    assert error_of(await sign_in(http, provider, "teacher", claims)) == "NO_ACCOUNT"
    started = await start(http)
    denied = await follow_callback(http, await provider.deny(started.headers["location"]))
    assert error_of(denied) == "ACCESS_DENIED"


async def test_start_is_404_for_an_unknown_or_disabled_provider_and_never_redirects_elsewhere(
    http: httpx.AsyncClient, provider: OidcProvider, north: SchoolData, factory: Factory
) -> None:
    assert (await http.get("/auth/sso/nope/start", params={"school": "north"})).status_code == 404
    assert (await start(http, school="south")).status_code == 404, "a provider of another school"
    assert (await start(http, school="atlantis")).status_code == 404
    for foreign in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "grades", "/a\r\nb"):
        done = await sign_in(
            http, provider, "ana", {"email": "student@north.test", **VERIFIED}, return_to=foreign
        )
        assert "code" in done.params
        assert "returnTo" not in done.params, foreign
    await configure(http, factory.token(north.admin), provider, enabled=False, clientSecret=None)
    assert (await start(http)).status_code == 404
    assert (await GraphQLClient(http).data(PROVIDERS, {"schoolCode": "north"}))["ssoProviders"] == []


async def test_the_sign_in_page_lists_a_schools_enabled_providers(
    http: httpx.AsyncClient, provider: OidcProvider, north: SchoolData
) -> None:
    anonymous = GraphQLClient(http)
    [button] = (await anonymous.data(PROVIDERS, {"schoolCode": "north"}))["ssoProviders"]
    assert button == {
        "key": "mock",
        "kind": "OIDC",
        "displayName": "School account",
        "startUrl": "http://campus.test/auth/sso/mock/start?school=north",
    }
    assert (await anonymous.data(PROVIDERS, {"schoolCode": "south"}))["ssoProviders"] == []
    assert (await anonymous.data(PROVIDERS, {"schoolCode": "atlantis"}))["ssoProviders"] == []
