"""SSO client secrets at rest: encrypted with a key derived from SECRET_KEY.

Why Fernet (`cryptography`, which Authlib itself requires, so it is always installed with it):
the secret must come back in clear for the token request, so it cannot be hashed like a
password; Fernet is authenticated encryption (AES-128-CBC with an HMAC-SHA256 over it, a random
IV per value), so a copy of the database alone reveals no secret and a changed or swapped
ciphertext is refused rather than decrypted to garbage. The key is not SECRET_KEY itself but
derived from it with HKDF under a label of its own, so this use cannot collide with the JWT
signatures or the signed URLs made with the same secret. A new SECRET_KEY makes the stored
secrets unreadable (`open_secret` answers None): an admin enters them again.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

LABEL = b"campusgraph sso client secret v1"


def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=LABEL).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def seal_secret(secret_key: str, value: str) -> str:
    return _fernet(secret_key).encrypt(value.encode()).decode("ascii")


def open_secret(secret_key: str, sealed: str) -> str | None:
    """The secret in clear; None when it was sealed with another key or has been altered."""
    try:
        return _fernet(secret_key).decrypt(sealed.encode("ascii")).decode()
    except (InvalidToken, UnicodeError, ValueError):
        return None
