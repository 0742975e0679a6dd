"""uploadStudentPhoto through the GraphQL multipart request spec, and the signed photo URL."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from models import StudentProfile
from resolvers.ids import encode_id
from tests.contract.documents import contract_operation
from tests.factories import Factory

UPLOAD = contract_operation("UploadStudentPhoto")
PREFLIGHT = {"Apollo-Require-Preflight": "true"}


def png_with_gps(width: int = 1200, height: int = 800) -> bytes:
    image = Image.new("RGB", (width, height), (200, 30, 30))
    exif = Image.Exif()
    exif[0x8825] = {2: (48.0, 51.0, 24.0)}  # GPSInfo: a latitude
    buffer = io.BytesIO()
    image.save(buffer, "PNG", exif=exif.tobytes())
    return buffer.getvalue()


async def upload(
    http: httpx.AsyncClient,
    token: str,
    student_id: str,
    content: bytes,
    filename: str,
    *,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    operations = {"query": UPLOAD, "variables": {"input": {"studentId": student_id, "photo": None}}}
    return await http.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.input.photo"]})},
        files={"0": (filename, content, "image/png")},
        headers={"Authorization": f"Bearer {token}"} | (PREFLIGHT if headers is None else headers),
    )


def stored_files(settings: Settings) -> list[Path]:
    return [p for p in settings.media_dir.rglob("*") if p.is_file()] if settings.media_dir.exists() else []


async def test_a_photo_is_re_encoded_stripped_and_served_signed(
    http: httpx.AsyncClient, factory: Factory, settings: Settings
) -> None:
    north = await factory.school("north")
    student_id = encode_id("Student", north.student.id)
    response = await upload(http, factory.token(north.staff), student_id, png_with_gps(), "me.png")
    payload: dict[str, Any] = response.json()["data"]["uploadStudentPhoto"]
    assert payload["userErrors"] == []
    url = payload["student"]["photoUrl"]
    assert url.startswith("/media/")
    served = await http.get(url)
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/jpeg"
    assert served.headers["x-content-type-options"] == "nosniff"
    photo = Image.open(io.BytesIO(served.content))
    assert photo.format == "JPEG"
    assert max(photo.size) == 512
    assert not photo.getexif()
    assert (await http.get(url[:-3] + "abc")).status_code == 403
    assert len(stored_files(settings)) == 1

    again = await upload(http, factory.token(north.admin), student_id, png_with_gps(300, 300), "again.png")
    assert again.json()["data"]["uploadStudentPhoto"]["userErrors"] == []
    assert len(stored_files(settings)) == 1, "the old photo is removed"


async def test_refused_files_leave_nothing_behind(
    http: httpx.AsyncClient,
    factory: Factory,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    north = await factory.school("north")
    student_id = encode_id("Student", north.student.id)
    staff = factory.token(north.staff)
    for content, name in [
        (b"#!/bin/sh\nrm -rf /\n", "photo.png"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 20, "cut.png"),
    ]:
        payload = (await upload(http, staff, student_id, content, name)).json()["data"]["uploadStudentPhoto"]
        assert payload["student"] is None
        assert payload["userErrors"][0]["code"] == "INVALID"
        assert payload["userErrors"][0]["field"] == ["input", "photo"]
    too_big = b"\x89PNG" + b"\0" * (11 * 1024 * 1024)
    refused = await upload(http, staff, student_id, too_big, "big.png")
    # Refused by the request guard while the file arrives, before the resolver runs.
    assert refused.status_code == 413
    assert refused.json()["errors"][0]["extensions"]["code"] == "FILE_TOO_LARGE"
    assert stored_files(settings) == []
    async with session_factory() as session:
        profile = await session.get(StudentProfile, north.student.id)
    assert profile is not None
    assert profile.photo_key is None


async def test_uploads_need_staff_of_the_school_and_a_preflight_header(
    http: httpx.AsyncClient, factory: Factory, settings: Settings
) -> None:
    north, south = await factory.school("north"), await factory.school("south")
    student_id = encode_id("Student", north.student.id)
    for user in (north.teacher, north.student, south.staff):
        response = await upload(http, factory.token(user), student_id, png_with_gps(), "p.png")
        assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    forged = await upload(http, factory.token(north.staff), student_id, png_with_gps(), "p.png", headers={})
    assert forged.status_code == 400
    assert stored_files(settings) == []


async def test_a_photo_that_is_not_a_file_is_invalid_input(http: httpx.AsyncClient, factory: Factory) -> None:
    """Found by fuzzing: a string where a file goes reached the resolver and failed there
    (INTERNAL_SERVER_ERROR). A literal or a JSON variable is refused before execution."""
    north = await factory.school("north")
    student_id = encode_id("Student", north.student.id)
    headers = {"Authorization": f"Bearer {factory.token(north.admin)}"}
    literal = 'mutation($s: ID!) { uploadStudentPhoto(input: {studentId: $s, photo: "x"}) { __typename } }'
    as_variable = {"input": {"studentId": student_id, "photo": "x"}}
    attachment = {"input": {"conversationId": encode_id("Conversation", 1), "body": "hi", "attachments": [7]}}
    for body in (
        {"query": literal, "variables": {"s": student_id}},
        {"query": UPLOAD, "variables": as_variable},
        {"query": contract_operation("SendMessage"), "variables": attachment},
    ):
        response = await http.post("/graphql", json=body, headers=headers)
        errors = response.json()["errors"]
        assert [e["message"] for e in errors if "Upload takes a file" in e["message"]], errors
        assert all(e.get("extensions", {}).get("code") != "INTERNAL_SERVER_ERROR" for e in errors), errors
        assert "data" not in response.json() or response.json()["data"] is None
