"""Stored files (student photos, exports, attachments) and the signed, expiring URLs that serve them.

Files live under `settings.media_dir`, which is never served directly: the only way to read
one is `GET /media/<token>` (web/media.py), where the token is signed with the app's secret and carries the
file's key, the name and type to send it with, and an expiry. Keys are random and opaque, so a
URL reveals nothing about the school, the student or the upload's original name.

`MediaStore` does blocking disk I/O: from async code call it with `asyncio.to_thread`, e.g.
`key = await asyncio.to_thread(store.save, data, suffix=".jpg")`.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, cast
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeSerializer

from config import Settings
from errors import Forbidden

Disposition = Literal["inline", "attachment"]

SALT = "campusgraph-media"
MAX_FILENAME_LENGTH = 120
_SUFFIX = re.compile(r"\.[a-z0-9]{1,10}")
# `ab/cd/abcd<28 more hex>.jpg`: the two folders are the name's first four hex digits.
_KEY = re.compile(r"(?P<a>[0-9a-f]{2})/(?P<b>[0-9a-f]{2})/(?P=a)(?P=b)[0-9a-f]{28}\.[a-z0-9]{1,10}")
_CONTENT_TYPE = re.compile(r"[\w.+-]+/[\w.+-]+(; ?[\w.+-]+=[\w.+-]+)*", re.ASCII)


class InvalidMediaKey(ValueError):
    """A key that `MediaStore.save` could not have made: refused before touching the disk."""


class MediaStore:
    """Files under one folder, each under a new random key such as `ab/cd/abcd….jpg`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def save(self, data: bytes, *, suffix: str) -> str:
        """Write `data` under a new key and return the key. `suffix` is like `.jpg`.

        The bytes go to a temporary file in the target folder that is then renamed, so a
        reader never sees a half-written file.
        """
        if not _SUFFIX.fullmatch(suffix):
            raise ValueError(f"Not a file suffix: {suffix!r}")
        name = secrets.token_hex(16)
        key = f"{name[:2]}/{name[2:4]}/{name}{suffix}"
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return key

    def open_path(self, key: str) -> Path:
        """The path of `key`'s file, which may be gone; anything but our exact key shape is refused."""
        if not _KEY.fullmatch(key):
            raise InvalidMediaKey("Not a media key.")
        return self.root / key

    def delete(self, key: str) -> None:
        """Remove `key`'s file; a file already gone is fine."""
        self.open_path(key).unlink(missing_ok=True)


def safe_filename(name: str) -> str:
    """A name fit to offer for download: base name only, no control characters or leading dots.

    Format characters go too: a right-to-left override (U+202E) could otherwise show
    `photo<U+202E>gpj.exe` as `photoexe.jpg`. Line and paragraph separators also go.
    """
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        char for char in name if unicodedata.category(char)[0] != "C" and char not in "\u2028\u2029"
    )
    name = name.strip().lstrip(".").lstrip()
    if len(name) > MAX_FILENAME_LENGTH:
        stem, extension = os.path.splitext(name)
        if len(extension) > 16:
            stem, extension = name, ""
        name = stem[: MAX_FILENAME_LENGTH - len(extension)].rstrip() + extension
    return name or "file"


def content_disposition(disposition: Disposition, filename: str) -> str:
    """RFC 6266: an ASCII `filename` for old clients and the exact name as `filename*`."""
    fallback = "".join(
        char if " " <= char <= "~" and char not in '"\\%' else "_"
        for char in unicodedata.normalize("NFKD", filename)
        if not unicodedata.combining(char)
    )
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@dataclass(frozen=True)
class MediaLink:
    """What a valid token grants: one file, sent under this name and type, until `expires_at`."""

    key: str
    filename: str
    content_type: str
    disposition: Disposition
    expires_at: datetime


def _serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.secret_key, salt=SALT)


def sign_url(
    settings: Settings,
    key: str,
    *,
    filename: str,
    content_type: str,
    expires_in_seconds: int = 900,
    disposition: Disposition = "inline",
) -> tuple[str, datetime]:
    """A relative URL `/media/<token>` serving `key`'s file, and when it stops working (UTC)."""
    if not _KEY.fullmatch(key):
        raise InvalidMediaKey("Not a media key.")
    if not _CONTENT_TYPE.fullmatch(content_type):
        raise ValueError(f"Not a content type: {content_type!r}")
    expires = int(time.time()) + expires_in_seconds
    payload = {
        "k": key,
        "f": safe_filename(filename),
        "t": content_type,
        "d": disposition,
        "e": expires,
    }
    return f"/media/{_serializer(settings).dumps(payload)}", datetime.fromtimestamp(expires, UTC)


def read_token(settings: Settings, token: str) -> MediaLink:
    """The link a token grants; `Forbidden` if it was not signed by us or has expired."""
    try:
        payload = _serializer(settings).loads(token)
        link = MediaLink(
            key=payload["k"],
            filename=payload["f"],
            content_type=payload["t"],
            disposition=cast(Disposition, payload["d"]),
            expires_at=datetime.fromtimestamp(payload["e"], UTC),
        )
    except (BadSignature, KeyError, TypeError, ValueError) as error:
        raise Forbidden("This link is not valid.") from error
    if link.expires_at.timestamp() <= time.time():
        raise Forbidden("This link has expired.")
    return link
