"""ID-token validation and the authorization URL (services/oidc.py), with tokens signed here by
keys made here: every rule that a real provider's token must pass is tried on its own."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError
from joserfc.jwk import KeySet, OctKey, RSAKey

from services.oidc import (
    GOOGLE_ISSUER,
    OidcClient,
    OidcError,
    PrivateAddress,
    ProviderMetadata,
    TokenAnswer,
    authorization_url,
    check_id_token,
    new_secret,
)
from tests.oidc_provider import listening, s256

ISSUER = "https://idp.example"
CLIENT = "campusgraph"
NONCE = "the-flow-nonce"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})
JWKS = KeySet([KEY]).as_dict(private=False)


def claims(**change: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "sub": "user-1",
        "aud": CLIENT,
        "iat": now,
        "exp": now + 300,
        "nonce": NONCE,
        "email": "ana@north.test",
        "email_verified": True,
        "name": "Ana",
    }
    return {name: value for name, value in (base | change).items() if value is not None}


def signed(payload: dict[str, Any], key: Any = KEY, header: dict[str, Any] | None = None) -> str:
    return jwt.encode(header or {"alg": "RS256", "kid": "k1"}, payload, key)


def check(token: str, issuer: str = ISSUER, algorithms: tuple[str, ...] = ("RS256",)) -> Any:
    return check_id_token(
        token, JWKS, issuer=issuer, client_id=CLIENT, nonce=NONCE, access_token=None, algorithms=algorithms
    )


def test_a_valid_token_gives_its_identity() -> None:
    identity = check(signed(claims()))
    assert (identity.subject, identity.email, identity.email_verified, identity.name) == (
        "user-1",
        "ana@north.test",
        True,
        "Ana",
    )
    assert check(signed(claims(email_verified="true"))).email_verified is False, (
        "only a JSON true is verified"
    )


@pytest.mark.parametrize(
    "change",
    [
        {"iss": "https://other.example"},
        {"iss": None},
        {"aud": "another-client"},
        {"aud": None},
        {"aud": ["another-client", CLIENT]},  # several audiences without azp
        {"exp": int(time.time()) - 3600},
        {"exp": None},
        {"nonce": "a-replayed-nonce"},
        {"nonce": None},
        {"azp": "another-client"},
    ],
    ids=str,
)
def test_a_token_breaking_a_rule_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(OidcError):
        check(signed(claims(**change)))


def test_a_signature_by_another_key_or_algorithm_is_refused() -> None:
    impostor = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    with pytest.raises(OidcError):
        check(signed(claims(), impostor))
    shared = OctKey.generate_key(256, parameters={"kid": "k1"})
    with pytest.raises(OidcError):
        check(signed(claims(), shared, {"alg": "HS256", "kid": "k1"}), algorithms=("HS256", "RS256"))
    with pytest.raises(OidcError, match="no algorithm we accept"):
        check(signed(claims()), algorithms=("none", "HS256"))
    with pytest.raises(InvalidKeyIdError):
        check(
            signed(
                claims(), RSAKey.generate_key(2048, parameters={"kid": "k2"}), {"alg": "RS256", "kid": "k2"}
            )
        )


def test_googles_short_issuer_is_google() -> None:
    token = signed(claims(iss="accounts.google.com"))
    assert check(token, issuer=GOOGLE_ISSUER).subject == "user-1"
    with pytest.raises(OidcError):
        check(token)


def test_the_authorization_url_carries_state_nonce_and_the_s256_challenge() -> None:
    metadata = ProviderMetadata(
        issuer=ISSUER,
        authorization_endpoint=f"{ISSUER}/authorize?tenant=north",
        token_endpoint=f"{ISSUER}/token",
        jwks_uri=f"{ISSUER}/jwks",
        signing_algorithms=("RS256",),
        token_auth_method="client_secret_basic",
    )
    verifier = new_secret()
    url = httpx.URL(
        authorization_url(
            metadata,
            client_id=CLIENT,
            redirect_uri="https://api.example/auth/sso/k/callback",
            state="st",
            nonce="no",
            code_verifier=verifier,
        )
    )
    assert dict(url.params) == {
        "tenant": "north",
        "response_type": "code",
        "client_id": CLIENT,
        "redirect_uri": "https://api.example/auth/sso/k/callback",
        "scope": "openid email profile",
        "state": "st",
        "nonce": "no",
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
    }
    assert 43 <= len(verifier) <= 128


async def test_outside_development_no_provider_url_into_a_private_network_is_fetched() -> None:
    """The token endpoint and key set a discovery document names are an admin's choice too: one
    that leads to this machine (however spelled) or over plain http is refused before connecting."""
    with listening() as listener:
        metadata = ProviderMetadata(
            issuer=ISSUER,
            authorization_endpoint=f"{ISSUER}/authorize",
            token_endpoint=f"https://127.1:{listener.port}/token",
            jwks_uri=f"https://localhost:{listener.port}/jwks",
            signing_algorithms=("RS256",),
            token_auth_method="client_secret_basic",
        )
        async with httpx.AsyncClient() as http:
            client = OidcClient(http)
            with pytest.raises(PrivateAddress):
                await client.exchange_code(
                    metadata,
                    client_id=CLIENT,
                    client_secret="secret",
                    redirect_uri="https://api.example/auth/sso/k/callback",
                    code="code",
                    code_verifier=new_secret(),
                )
            with pytest.raises(OidcError, match="keys are unreachable"):
                await client.identity(
                    metadata, TokenAnswer(signed(claims()), None), client_id=CLIENT, nonce=NONCE
                )
            with pytest.raises(PrivateAddress, match="not an https"):
                await client.discover(f"http://127.0.0.1:{listener.port}")
            with pytest.raises(PrivateAddress, match="not a public address"):
                await client.discover(f"https://2130706433:{listener.port}")
        assert not listener.connected()
