"""The admins' SSO set-up: `configureSsoProvider` and `ssoProviderConfigs`, against a real local
OpenID provider (tests/oidc_provider.py) and a real HTTP server whose discovery document names
another issuer."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth.client_secrets import open_secret
from config import Settings
from models import AuditEntry, SsoProvider
from tests.clients import GraphQLClient
from tests.conftest import free_port, http_client_for
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData
from tests.oidc_provider import Listener, OidcProvider, listening, running_provider

CONFIGURE = contract_operation("ConfigureSsoProvider")
CONFIGS = contract_operation("SsoProviderConfigs")
SECRET = "the-client-secret-1234"


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    with running_provider(tmp_path_factory.mktemp("oidc")) as provider:
        yield provider


@pytest.fixture(scope="module")
def impostor() -> Iterator[str]:
    """An HTTP server whose discovery document names https://someone-else.example as its issuer."""

    class Discovery(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(
                {
                    "issuer": "https://someone-else.example",
                    "authorization_endpoint": "https://someone-else.example/authorize",
                    "token_endpoint": "https://someone-else.example/token",
                    "jwks_uri": "https://someone-else.example/jwks",
                }
            ).encode()
            self.send_response(200 if self.path == "/.well-known/openid-configuration" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Discovery)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
async def dev_http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An app in ENVIRONMENT=development, where an http:// issuer (the local provider's) is allowed."""
    async with http_client_for(settings.model_copy(update={"environment": "development"})) as client:
        yield client


@pytest.fixture
async def schools(factory: Factory) -> tuple[SchoolData, SchoolData]:
    return await factory.school("north"), await factory.school("south")


def provider_input(issuer: str, **change: Any) -> dict[str, Any]:
    return {
        "key": "campus-login",
        "kind": "OIDC",
        "displayName": "Campus login",
        "issuer": issuer,
        "clientId": "campusgraph",
        "clientSecret": SECRET,
        "allowedEmailDomains": ["North.test", "north.test", "pupils.north.test"],
    } | change


async def configure(gql: GraphQLClient, settings: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = (await gql.data(CONFIGURE, {"input": settings}))["configureSsoProvider"]
    return payload


def codes(payload: dict[str, Any]) -> list[tuple[str, list[str]]]:
    assert payload["provider"] is None
    return [(error["code"], error["field"]) for error in payload["userErrors"]]


async def test_an_admin_configures_a_provider_whose_secret_is_never_returned(
    dev_http: httpx.AsyncClient,
    provider: OidcProvider,
    schools: tuple[SchoolData, SchoolData],
    factory: Factory,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    north, _ = schools
    admin = GraphQLClient(dev_http, factory.token(north.admin))
    answer = await dev_http.post(
        "/graphql",
        json={"query": CONFIGURE, "variables": {"input": provider_input(provider.issuer)}},
        headers={"Authorization": f"Bearer {factory.token(north.admin)}"},
    )
    assert SECRET not in answer.text
    made = answer.json()["data"]["configureSsoProvider"]
    assert made["userErrors"] == []
    shown = made["provider"]
    assert {
        name: shown[name] for name in ("key", "kind", "issuer", "clientId", "clientSecretSet", "enabled")
    } == {
        "key": "campus-login",
        "kind": "OIDC",
        "issuer": provider.issuer,
        "clientId": "campusgraph",
        "clientSecretSet": True,
        "enabled": True,
    }
    assert shown["allowedEmailDomains"] == ["north.test", "pupils.north.test"]
    assert shown["redirectUri"] == "http://campus.test/auth/sso/campus-login/callback"

    async with session_factory() as db:
        row = await db.scalar(select(SsoProvider))
        assert row is not None
        sealed = row.client_secret_encrypted
        entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "sso_provider.created"))
    assert sealed is not None
    assert SECRET not in sealed
    assert open_secret(settings.secret_key, sealed) == SECRET
    assert entry is not None
    assert SECRET not in json.dumps(entry.detail)

    changed = await configure(
        admin, provider_input(provider.issuer, clientSecret=None, displayName="Sign in")
    )
    assert changed["userErrors"] == []
    assert changed["provider"]["displayName"] == "Sign in"
    assert changed["provider"]["clientSecretSet"] is True, "left out, the stored secret is kept"
    async with session_factory() as db:
        assert await db.scalar(select(SsoProvider.client_secret_encrypted)) == sealed

    listed = await admin.execute(CONFIGS)
    assert SECRET not in json.dumps(listed)
    [config] = listed["data"]["ssoProviderConfigs"]
    assert (config["displayName"], config["clientSecretSet"], config["lastSignInAt"]) == (
        "Sign in",
        True,
        None,
    )
    fields = await admin.data('{ __type(name: "SsoProviderConfig") { fields { name } } }')
    assert not [f["name"] for f in fields["__type"]["fields"] if f["name"] == "clientSecret"]


async def test_staff_and_others_are_forbidden(
    http: httpx.AsyncClient, schools: tuple[SchoolData, SchoolData], factory: Factory
) -> None:
    north, _ = schools
    for user in (north.staff, north.teacher, north.student):
        client = GraphQLClient(http, factory.token(user))
        for query, variables in (
            (CONFIGS, {}),
            (CONFIGURE, {"input": provider_input("https://idp.example")}),
        ):
            refused = await client.execute(query, variables)
            assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", user.email
    anonymous = await GraphQLClient(http).execute(CONFIGS)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_the_issuer_must_answer_for_itself(
    dev_http: httpx.AsyncClient, impostor: str, schools: tuple[SchoolData, SchoolData], factory: Factory
) -> None:
    admin = GraphQLClient(dev_http, factory.token(schools[0].admin))
    assert codes(await configure(admin, provider_input(impostor))) == [
        ("ISSUER_MISMATCH", ["input", "issuer"])
    ]
    nobody = f"http://127.0.0.1:{free_port()}"
    assert codes(await configure(admin, provider_input(nobody))) == [
        ("ISSUER_UNREACHABLE", ["input", "issuer"])
    ]
    assert (await admin.data(CONFIGS))["ssoProviderConfigs"] == [], "nothing written"


@pytest.fixture
def listener() -> Iterator[Listener]:
    with listening() as listener:
        yield listener


async def test_outside_development_the_issuer_must_be_https_and_public(
    http: httpx.AsyncClient,
    provider: OidcProvider,
    listener: Listener,
    schools: tuple[SchoolData, SchoolData],
    factory: Factory,
) -> None:
    """No request to this machine or a private network (SSRF): an IP literal or localhost is
    INVALID, any other spelling of a private address is refused before connecting."""
    admin = GraphQLClient(http, factory.token(schools[0].admin))
    assert codes(await configure(admin, provider_input(provider.issuer))) == [
        ("INVALID", ["input", "issuer"])
    ]
    port = listener.port
    for literal in (
        f"https://127.0.0.1:{port}",
        f"https://localhost:{port}",
        f"https://LOCALHOST.:{port}",
        f"https://idp.localhost:{port}",
        f"https://[::1]:{port}",
        f"https://[::ffff:127.0.0.1]:{port}",
        "https://169.254.169.254",
        "https://10.0.0.8",
        "https://0.0.0.0",
    ):
        assert codes(await configure(admin, provider_input(literal))) == [("INVALID", ["input", "issuer"])], (
            literal
        )
    for resolved in (f"https://127.1:{port}", f"https://2130706433:{port}", f"https://0x7f.0.0.1:{port}"):
        assert codes(await configure(admin, provider_input(resolved))) == [
            ("ISSUER_UNREACHABLE", ["input", "issuer"])
        ], resolved
    assert not listener.connected(), "nothing was fetched"
    assert (await admin.data(CONFIGS))["ssoProviderConfigs"] == []


async def test_invalid_settings_are_refused_and_write_nothing(
    dev_http: httpx.AsyncClient,
    provider: OidcProvider,
    schools: tuple[SchoolData, SchoolData],
    factory: Factory,
) -> None:
    admin = GraphQLClient(dev_http, factory.token(schools[0].admin))
    bad = provider_input(
        "https://idp.example/?tenant=1",
        key="Campus Login!",
        displayName=" ",
        clientSecret=None,
        allowedEmailDomains=["not a domain"],
    )
    assert sorted(codes(await configure(admin, bad))) == [
        ("INVALID", ["input", "allowedEmailDomains"]),
        ("INVALID", ["input", "clientSecret"]),
        ("INVALID", ["input", "displayName"]),
        ("INVALID", ["input", "issuer"]),
        ("INVALID", ["input", "key"]),
    ]
    no_domains = provider_input(provider.issuer, allowedEmailDomains=[])
    assert codes(await configure(admin, no_domains)) == [("INVALID", ["input", "allowedEmailDomains"])]
    google = provider_input("https://idp.example", kind="GOOGLE")
    assert codes(await configure(admin, google)) == [("INVALID", ["input", "issuer"])]
    no_issuer = provider_input(provider.issuer, kind="MICROSOFT") | {"issuer": None}
    assert codes(await configure(admin, no_issuer)) == [("INVALID", ["input", "issuer"])]
    assert (await admin.data(CONFIGS))["ssoProviderConfigs"] == []


async def test_another_schools_providers_are_invisible_and_untouched(
    dev_http: httpx.AsyncClient,
    provider: OidcProvider,
    schools: tuple[SchoolData, SchoolData],
    factory: Factory,
) -> None:
    north, south = schools
    north_admin = GraphQLClient(dev_http, factory.token(north.admin))
    south_admin = GraphQLClient(dev_http, factory.token(south.admin))
    made = await configure(north_admin, provider_input(provider.issuer))
    assert made["userErrors"] == []
    assert (await south_admin.data(CONFIGS))["ssoProviderConfigs"] == []

    same_key = await configure(south_admin, provider_input(provider.issuer, displayName="South login"))
    assert same_key["userErrors"] == []
    assert same_key["provider"]["id"] != made["provider"]["id"], "a provider of its own"
    [north_config] = (await north_admin.data(CONFIGS))["ssoProviderConfigs"]
    assert north_config["displayName"] == "Campus login"
    [south_config] = (await south_admin.data(CONFIGS))["ssoProviderConfigs"]
    assert south_config["displayName"] == "South login"
