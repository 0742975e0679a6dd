"""Stored files and the signed, expiring URLs that serve them, through a real Starlette app."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from itsdangerous import URLSafeSerializer
from starlette.applications import Starlette

from config import Settings
from errors import Forbidden
from stores.media import (
    InvalidMediaKey,
    MediaStore,
    content_disposition,
    read_token,
    safe_filename,
    sign_url,
)
from web.media import media_routes

KEY_SHAPE = re.compile(r"([0-9a-f]{2})/([0-9a-f]{2})/\1\2[0-9a-f]{28}\.pdf")
VALID_KEY = "ab/cd/abcd" + "0" * 28 + ".jpg"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(environment="test", media_dir=tmp_path / "media", _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def store(settings: Settings) -> MediaStore:
    return MediaStore(settings.media_dir)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=media_routes(settings))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


def stored_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


# MediaStore


def test_save_writes_each_file_under_a_new_random_key(store: MediaStore) -> None:
    first = store.save(b"%PDF-1.7 one", suffix=".pdf")
    second = store.save(b"%PDF-1.7 two", suffix=".pdf")
    assert KEY_SHAPE.fullmatch(first)
    assert KEY_SHAPE.fullmatch(second)
    assert first != second
    assert store.open_path(first).read_bytes() == b"%PDF-1.7 one"
    assert stored_files(store.root) == sorted([store.root / first, store.root / second])


@pytest.mark.parametrize("suffix", ["", "pdf", ".PDF", ".p/f", "/../x.pdf", ".pdf\n", ".verylongsuffix"])
def test_save_refuses_a_suffix_that_is_not_a_plain_extension(store: MediaStore, suffix: str) -> None:
    with pytest.raises(ValueError, match="Not a file suffix"):
        store.save(b"data", suffix=suffix)


def test_a_failed_save_leaves_no_file_behind(store: MediaStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(source: str, destination: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        store.save(b"data", suffix=".jpg")
    assert stored_files(store.root) == []


@pytest.mark.parametrize(
    "key",
    [
        "../../etc/passwd",
        "/etc/passwd",
        "ab/cd/../../../etc/passwd",
        f"ab/cd/{VALID_KEY}",
        f"{VALID_KEY}/../../x.jpg",
        VALID_KEY.replace("/", "\\"),
        VALID_KEY + "\n",
        VALID_KEY + "\x00.png",
        VALID_KEY.upper(),
        "ff/cd/abcd" + "0" * 28 + ".jpg",  # folders that don't match the name
        "ab/cd/abcd" + "0" * 27 + ".jpg",  # one hex digit short
        "ab/cd/.tmp-abcdef",
        "",
    ],
)
def test_open_path_refuses_anything_but_our_key_shape(store: MediaStore, key: str) -> None:
    with pytest.raises(InvalidMediaKey):
        store.open_path(key)
    with pytest.raises(InvalidMediaKey):
        store.delete(key)


def test_open_path_gives_the_path_under_the_root(store: MediaStore) -> None:
    assert store.open_path(VALID_KEY) == store.root / VALID_KEY


def test_delete_removes_the_file_and_a_missing_file_is_fine(store: MediaStore) -> None:
    key = store.save(b"data", suffix=".pdf")
    store.delete(key)
    assert not store.open_path(key).exists()
    store.delete(key)


# File names


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ('../../evil "name".pdf', 'evil "name".pdf'),
        ("C:\\Users\\kid\\photo.jpg", "photo.jpg"),
        ("/etc/passwd", "passwd"),
        (".htaccess", "htaccess"),
        ("  ..  hidden.txt ", "hidden.txt"),
        ("line\nbreak\r\x00\x1b.txt", "linebreak.txt"),
        ("photo\u202egpj.exe", "photogpj.exe"),  # a right-to-left override would show "photoexe.jpg"
        ("a\u2028b.txt", "ab.txt"),
        ("Zeugnis Müller 成绩.pdf", "Zeugnis Müller 成绩.pdf"),
        ("Mu\u0308ller.pdf", "Müller.pdf"),  # decomposed umlaut, composed
        ("", "file"),
        ("...", "file"),
        ("dir/", "file"),
    ],
)
def test_safe_filename(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


def test_safe_filename_shortens_long_names_keeping_the_extension() -> None:
    assert safe_filename("a" * 300 + ".pdf") == "a" * 116 + ".pdf"
    assert safe_filename("b" * 300) == "b" * 120
    assert safe_filename("c" * 100 + "." + "d" * 100) == ("c" * 100 + "." + "d" * 100)[:120]


def test_content_disposition_gives_an_ascii_fallback_and_the_exact_utf8_name() -> None:
    assert content_disposition("attachment", 'evil "name";%.pdf') == (
        "attachment; filename=\"evil _name_;_.pdf\"; filename*=UTF-8''evil%20%22name%22%3B%25.pdf"
    )
    assert content_disposition("inline", "Élève 成绩.pdf") == (
        "inline; filename=\"Eleve __.pdf\"; filename*=UTF-8''%C3%89l%C3%A8ve%20%E6%88%90%E7%BB%A9.pdf"
    )


# Signed URLs


def test_sign_url_gives_a_relative_url_and_an_aware_utc_expiry(settings: Settings) -> None:
    url, expires_at = sign_url(settings, VALID_KEY, filename="a.jpg", content_type="image/jpeg")
    assert url.startswith("/media/")
    assert "/" not in url.removeprefix("/media/")
    assert expires_at.tzinfo is UTC
    assert timedelta(seconds=898) < expires_at - datetime.now(UTC) <= timedelta(seconds=900)
    link = read_token(settings, url.removeprefix("/media/"))
    assert (link.key, link.filename, link.content_type, link.disposition) == (
        VALID_KEY,
        "a.jpg",
        "image/jpeg",
        "inline",
    )
    assert link.expires_at == expires_at


def test_sign_url_refuses_a_bad_key_or_content_type(settings: Settings) -> None:
    with pytest.raises(InvalidMediaKey):
        sign_url(settings, "../../etc/passwd", filename="x", content_type="text/plain")
    with pytest.raises(ValueError, match="Not a content type"):
        sign_url(settings, VALID_KEY, filename="x", content_type="text/html\r\nSet-Cookie: a=b")


async def test_a_signed_url_serves_the_file_with_headers_that_keep_it_inert(
    settings: Settings, store: MediaStore, client: httpx.AsyncClient
) -> None:
    key = store.save(b"\xff\xd8\xff fake jpeg bytes", suffix=".jpg")
    url, _ = sign_url(settings, key, filename="photo.jpg", content_type="image/jpeg")
    response = await client.get(url)
    assert response.status_code == 200
    assert response.content == b"\xff\xd8\xff fake jpeg bytes"
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["content-disposition"] == (
        "inline; filename=\"photo.jpg\"; filename*=UTF-8''photo.jpg"
    )
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert response.headers["referrer-policy"] == "no-referrer"
    max_age = re.fullmatch(r"private, max-age=(\d+)", response.headers["cache-control"])
    assert max_age
    assert 895 <= int(max_age[1]) <= 900


async def test_an_uploaded_html_page_cannot_run_script(
    settings: Settings, store: MediaStore, client: httpx.AsyncClient
) -> None:
    key = store.save(b"<script>alert(document.cookie)</script>", suffix=".html")
    url, _ = sign_url(settings, key, filename="page.html", content_type="text/html; charset=utf-8")
    response = await client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "sandbox" in response.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ('../../evil "name".pdf', "attachment; filename=\"evil _name_.pdf\"; filename*=UTF-8''"),
        ("Zeugnis Müller 成绩.pdf", "attachment; filename=\"Zeugnis Muller __.pdf\"; filename*=UTF-8''"),
    ],
)
async def test_an_attachment_is_sent_under_a_safely_encoded_name(
    settings: Settings, store: MediaStore, client: httpx.AsyncClient, filename: str, expected: str
) -> None:
    key = store.save(b"%PDF-1.7", suffix=".pdf")
    url, _ = sign_url(
        settings, key, filename=filename, content_type="application/pdf", disposition="attachment"
    )
    response = await client.get(url)
    assert response.status_code == 200
    header = response.headers["content-disposition"]
    assert header.startswith(expected)
    assert unquote(header.removeprefix(expected), errors="strict") == safe_filename(filename)


def tampered(url: str) -> str:
    """The URL with one character of the signed payload changed."""
    token = url.removeprefix("/media/")
    position = 5
    replacement = "A" if token[position] != "A" else "B"
    return "/media/" + token[:position] + replacement + token[position + 1 :]


async def test_a_tampered_or_foreign_token_is_forbidden(
    settings: Settings, store: MediaStore, client: httpx.AsyncClient
) -> None:
    key = store.save(b"secret transcript", suffix=".pdf")
    url, _ = sign_url(settings, key, filename="t.pdf", content_type="application/pdf")
    payload = {"k": key, "f": "t.pdf", "t": "application/pdf", "d": "inline", "e": 4_000_000_000}
    other_secret = URLSafeSerializer("another-secret-of-at-least-32-characters", salt="campusgraph-media")
    other_salt = URLSafeSerializer(settings.secret_key, salt="campusgraph-other")
    for bad in [
        tampered(url),
        url + "x",
        url.rsplit(".", 1)[0],  # signature removed
        "/media/" + other_secret.dumps(payload),
        "/media/" + other_salt.dumps(payload),
        "/media/garbage",
    ]:
        response = await client.get(bad)
        assert response.status_code == 403, bad
        assert response.text == "This link is not valid."
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_an_expired_link_is_forbidden(
    settings: Settings, store: MediaStore, client: httpx.AsyncClient
) -> None:
    key = store.save(b"old export", suffix=".csv")
    for expires_in_seconds in (-1, 0):
        url, _ = sign_url(
            settings, key, filename="e.csv", content_type="text/csv", expires_in_seconds=expires_in_seconds
        )
        response = await client.get(url)
        assert response.status_code == 403
        assert response.text == "This link has expired."
        with pytest.raises(Forbidden, match="expired"):
            read_token(settings, url.removeprefix("/media/"))


async def test_a_link_to_a_deleted_file_is_not_found(
    settings: Settings, store: MediaStore, client: httpx.AsyncClient
) -> None:
    key = store.save(b"gone soon", suffix=".jpg")
    url, _ = sign_url(settings, key, filename="p.jpg", content_type="image/jpeg")
    store.delete(key)
    response = await client.get(url)
    assert response.status_code == 404
    assert response.headers["cache-control"] == "no-store"


async def test_only_get_and_head_are_served(
    settings: Settings, store: MediaStore, client: httpx.AsyncClient
) -> None:
    key = store.save(b"data", suffix=".jpg")
    url, _ = sign_url(settings, key, filename="p.jpg", content_type="image/jpeg")
    assert (await client.head(url)).status_code == 200
    assert (await client.post(url)).status_code == 405
    assert (await client.delete(url)).status_code == 405
