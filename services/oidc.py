"""An OpenID Connect client (authorization code flow with PKCE) built on Authlib's protocol parts.

- Discovery: `{issuer}/.well-known/openid-configuration`, whose `issuer` must name the issuer
  asked for (OpenID Connect Discovery 1.0, section 4.3).
- The authorization URL: response_type=code, scope "openid email profile", a state, a nonce and
  a PKCE S256 code challenge (Authlib's `prepare_grant_uri` and `create_s256_code_challenge`).
- The code exchange: the token endpoint with the PKCE verifier and the client's secret
  (client_secret_basic, or client_secret_post when that is all the provider supports: Authlib's
  `ClientAuth`).
- The ID token: its signature checked with the provider's JWKS (joserfc, which Authlib builds on;
  asymmetric algorithms only, never "none" or a shared-secret HMAC), then Authlib's `CodeIDToken`
  claims rules with iss and aud pinned (Authlib checks neither unless told), exp, nonce, azp and
  at_hash.

Why not Authlib's ready-made clients: its httpx integration warns that it is deprecated in
favour of httpx2, and `authlib.jose` that it is deprecated in favour of joserfc; the parts used
here are the ones Authlib itself uses underneath. Every request goes through the app's one
`httpx.AsyncClient`. Discovery documents and key sets are public and change rarely: they are
kept for `CACHE_SECONDS` in the process (a key id the cached set lacks fetches it again, for key
rotation). Nothing here knows the database or GraphQL.

Server-side request forgery. The issuer, and the token endpoint and key set its discovery document
names, are URLs a school's admin chooses, fetched from inside our network. Outside development
(`private_networks` False) each is fetched only over https and only when its host resolves to
public addresses alone: never loopback, private, link-local (cloud metadata at 169.254.169.254),
shared, reserved or multicast ones, whatever spelling of the host leads there ("127.1",
"2130706433", a DNS name). A refused URL is IssuerUnreachable, before any connection is made.
The check resolves the name itself, so a DNS answer that changes between the check and httpx's
own lookup is not covered.
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from authlib.oauth2.auth import ClientAuth  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri  # type: ignore[import-untyped]
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]
from authlib.oidc.core import CodeIDToken  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from pydantic import BaseModel, ConfigDict, ValidationError

SCOPE = "openid email profile"
TIMEOUT_SECONDS = 10.0
CACHE_SECONDS = 300.0
LEEWAY_SECONDS = 60
GOOGLE_ISSUER = "https://accounts.google.com"
# Google documents that its ID tokens' iss is "https://accounts.google.com" or "accounts.google.com".
ISSUER_ALIASES = {GOOGLE_ISSUER: ("accounts.google.com",)}
SIGNING_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


class OidcError(Exception):
    """The provider could not be used: unreachable, an unusable answer, or an ID token refused."""


class IssuerUnreachable(OidcError):
    pass


class IssuerMismatch(OidcError):
    pass


class PrivateAddress(IssuerUnreachable):
    """A provider URL that is not https, or whose host is (or resolves to) a non-public address."""


def public_address(address: str) -> bool:
    """Whether the IP address `address` (an IPv6 one perhaps with a %zone) is a public unicast one."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def private_host(host: str) -> bool:
    """Whether `host`, as written, names this machine or a private network: "localhost" (and its
    subdomains) or an IP literal that is not public. A DNS name is only known once resolved
    (`OidcClient` does that before each fetch)."""
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    return not public_address(name)


class _Discovery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    id_token_signing_alg_values_supported: list[str] = ["RS256"]
    token_endpoint_auth_methods_supported: list[str] = ["client_secret_basic"]


class _TokenAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id_token: str
    access_token: str | None = None


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    signing_algorithms: tuple[str, ...]
    token_auth_method: str


def new_secret() -> str:
    """A state, nonce or PKCE code verifier: 43 characters of the verifier's alphabet (RFC 7636)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class TokenAnswer:
    id_token: str
    access_token: str | None


@dataclass(frozen=True)
class Identity:
    """The validated ID token's claims that sign-in needs."""

    subject: str
    email: str | None
    email_verified: bool
    name: str | None
    claims: Mapping[str, Any]


def discovery_url(issuer: str) -> str:
    return f"{issuer.rstrip('/')}/.well-known/openid-configuration"


def authorization_url(
    metadata: ProviderMetadata,
    *,
    client_id: str,
    redirect_uri: str,
    state: str,
    nonce: str,
    code_verifier: str,
) -> str:
    url: str = prepare_grant_uri(
        metadata.authorization_endpoint,
        client_id,
        "code",
        redirect_uri=redirect_uri,
        scope=SCOPE,
        state=state,
        nonce=nonce,
        code_challenge=create_s256_code_challenge(code_verifier),
        code_challenge_method="S256",
    )
    return url


def check_id_token(
    id_token: str,
    jwks: Mapping[str, Any],
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    access_token: str | None,
    algorithms: tuple[str, ...],
    now: int | None = None,
) -> Identity:
    """The token's identity if its signature (a key of `jwks`), iss, aud, exp, nonce, azp and
    at_hash hold; else raises OidcError (InvalidKeyIdError passes through: the caller may fetch
    a newer key set)."""
    usable = [algorithm for algorithm in algorithms if algorithm in SIGNING_ALGORITHMS]
    if not usable:
        raise OidcError("the provider signs ID tokens with no algorithm we accept")
    try:
        key_set = KeySet.import_key_set(dict(jwks))  # type: ignore[arg-type]
        token = jwt.decode(id_token, key_set, algorithms=usable)
    except InvalidKeyIdError:
        raise
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise OidcError(f"ID token refused: {type(error).__name__}") from error
    issuers = [issuer, *ISSUER_ALIASES.get(issuer, ())]
    options = {
        "iss": {"essential": True, "values": issuers},
        "aud": {"essential": True, "value": client_id},
        "exp": {"essential": True},
        "nonce": {"essential": True, "value": nonce},
    }
    params = {"nonce": nonce, "client_id": client_id, "access_token": access_token}
    claims = CodeIDToken(token.claims, token.header, options, params)
    try:
        claims.validate(now=now, leeway=LEEWAY_SECONDS)
    except (JoseError, ValueError, TypeError) as error:
        raise OidcError(f"ID token refused: {error}") from error
    email = claims.get("email")
    name = claims.get("name")
    return Identity(
        subject=str(claims["sub"]),
        email=email if isinstance(email, str) else None,
        email_verified=claims.get("email_verified") is True,
        name=name if isinstance(name, str) else None,
        claims=dict(claims),
    )


class OidcClient:
    """The app's OpenID Connect client. Does not own (close) `http`."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        clock: Callable[[], float] = time.monotonic,
        *,
        private_networks: bool = False,
    ) -> None:
        """`private_networks`: also fetch http:// URLs and private addresses (development only)."""
        self._http = http
        self._clock = clock
        self._private_networks = private_networks
        self._metadata: dict[str, tuple[float, ProviderMetadata]] = {}
        self._key_sets: dict[str, tuple[float, dict[str, Any]]] = {}

    async def discover(self, issuer: str, *, fresh: bool = False) -> ProviderMetadata:
        """The issuer's metadata. IssuerUnreachable when no usable discovery document answers,
        IssuerMismatch when it names another issuer (a trailing slash aside)."""
        cached = self._metadata.get(issuer)
        if cached is not None and not fresh and cached[0] > self._clock():
            return cached[1]
        try:
            document = _Discovery.model_validate(await self._get_json(discovery_url(issuer)))
        except ValidationError as error:
            raise IssuerUnreachable("the discovery document lacks what OpenID Connect needs") from error
        if document.issuer.rstrip("/") != issuer.rstrip("/"):
            raise IssuerMismatch(f"the discovery document names the issuer {document.issuer[:200]}")
        methods = document.token_endpoint_auth_methods_supported
        metadata = ProviderMetadata(
            issuer=document.issuer,
            authorization_endpoint=document.authorization_endpoint,
            token_endpoint=document.token_endpoint,
            jwks_uri=document.jwks_uri,
            signing_algorithms=tuple(document.id_token_signing_alg_values_supported),
            token_auth_method=(
                "client_secret_post"
                if "client_secret_basic" not in methods and "client_secret_post" in methods
                else "client_secret_basic"
            ),
        )
        self._metadata[issuer] = (self._clock() + CACHE_SECONDS, metadata)
        return metadata

    async def exchange_code(
        self,
        metadata: ProviderMetadata,
        *,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        code: str,
        code_verifier: str,
    ) -> TokenAnswer:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        body = urlencode(form)
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        auth = ClientAuth(client_id, client_secret, metadata.token_auth_method)
        url, headers, body = auth.prepare("POST", metadata.token_endpoint, headers, body)
        await self._refuse_private(url)
        try:
            response = await self._http.post(url, content=body, headers=headers, timeout=TIMEOUT_SECONDS)
        except httpx.HTTPError as error:
            raise OidcError(f"token endpoint unreachable: {type(error).__name__}") from error
        if response.status_code != 200:
            raise OidcError(f"token endpoint answered {response.status_code}")
        try:
            answer = _TokenAnswer.model_validate_json(response.content)
        except ValidationError as error:
            raise OidcError("the token endpoint's answer has no ID token") from error
        return TokenAnswer(answer.id_token, answer.access_token)

    async def identity(
        self, metadata: ProviderMetadata, answer: TokenAnswer, *, client_id: str, nonce: str
    ) -> Identity:
        """The validated ID token of `answer`; OidcError when it is refused."""

        async def check(jwks: Mapping[str, Any]) -> Identity:
            return check_id_token(
                answer.id_token,
                jwks,
                issuer=metadata.issuer,
                client_id=client_id,
                nonce=nonce,
                access_token=answer.access_token,
                algorithms=metadata.signing_algorithms,
            )

        try:
            return await check(await self._key_set(metadata.jwks_uri))
        except InvalidKeyIdError:
            pass
        try:
            return await check(await self._key_set(metadata.jwks_uri, fresh=True))
        except InvalidKeyIdError as error:
            raise OidcError("ID token signed with a key the provider does not publish") from error

    async def _key_set(self, jwks_uri: str, *, fresh: bool = False) -> dict[str, Any]:
        cached = self._key_sets.get(jwks_uri)
        if cached is not None and not fresh and cached[0] > self._clock():
            return cached[1]
        try:
            jwks = await self._get_json(jwks_uri)
        except IssuerUnreachable as error:
            raise OidcError("the provider's keys are unreachable") from error
        if not isinstance(jwks, dict):
            raise OidcError("the provider's key set is not a JSON object")
        self._key_sets[jwks_uri] = (self._clock() + CACHE_SECONDS, jwks)
        return jwks

    async def _refuse_private(self, url: str) -> None:
        """PrivateAddress unless `url` may be fetched (see the module's docstring)."""
        if self._private_networks:
            return
        parts = urlsplit(url)
        try:
            port = parts.port or 443
        except ValueError as error:
            raise PrivateAddress(f"{url[:200]} has no valid port") from error
        if parts.scheme != "https" or not parts.hostname:
            raise PrivateAddress(f"{url[:200]} is not an https:// URL")
        try:
            found = await asyncio.get_running_loop().getaddrinfo(
                parts.hostname, port, type=socket.SOCK_STREAM
            )
        except (OSError, UnicodeError) as error:
            raise IssuerUnreachable(f"{parts.hostname[:200]} does not resolve") from error
        if not found or not all(public_address(str(entry[4][0])) for entry in found):
            raise PrivateAddress(f"{parts.hostname[:200]} is not a public address")

    async def _get_json(self, url: str) -> object:
        await self._refuse_private(url)
        try:
            response = await self._http.get(
                url, timeout=TIMEOUT_SECONDS, headers={"Accept": "application/json"}
            )
        except httpx.HTTPError as error:
            raise IssuerUnreachable(f"{type(error).__name__} fetching {url[:200]}") from error
        if response.status_code != 200:
            raise IssuerUnreachable(f"{url[:200]} answered {response.status_code}")
        try:
            document: object = response.json()
        except ValueError as error:
            raise IssuerUnreachable(f"{url[:200]} did not answer JSON") from error
        return document
