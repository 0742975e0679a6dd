"""Access tokens (short-lived JWTs, HS256 pinned) and opaque refresh tokens (stored hashed)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt

from models.enums import Role, Tier

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["exp", "iat", "sub", "sch", "rol", "sid"]


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    school_id: int
    role: Role
    tier: Tier
    session_id: str
    issued_at: datetime
    expires_at: datetime


def issue_access_token(claims: AccessClaims, secret: str) -> str:
    payload = {
        "sub": str(claims.user_id),
        "sch": claims.school_id,
        "rol": claims.role.value,
        "tier": claims.tier.value,
        "sid": claims.session_id,
        "iat": int(claims.issued_at.timestamp()),
        "exp": int(claims.expires_at.timestamp()),
        "typ": "access",
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def read_access_token(token: str, secret: str) -> AccessClaims | None:
    """The claims of a valid, unexpired access token; None for anything else."""
    try:
        payload = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": REQUIRED_CLAIMS})
        if payload.get("typ") != "access":
            return None
        return AccessClaims(
            user_id=int(payload["sub"]),
            school_id=int(payload["sch"]),
            role=Role(payload["rol"]),
            tier=Tier(payload.get("tier", "FREE")),
            session_id=str(payload["sid"]),
            issued_at=datetime.fromtimestamp(payload["iat"], UTC),
            expires_at=datetime.fromtimestamp(payload["exp"], UTC),
        )
    except (jwt.InvalidTokenError, ValueError, TypeError, KeyError):
        return None


def new_refresh_token() -> tuple[str, str]:
    """(the token for the client, the hash we store)."""
    token = secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_session_id() -> str:
    return secrets.token_hex(16)
