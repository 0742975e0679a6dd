"""Chat attachments: checked (size while reading, type from the bytes), stored under opaque keys
outside any served folder, and shown only through signed, expiring URLs.

A message's files are all checked before any is stored, and stored before its transaction
begins (so the SQLite write lock is never held during disk I/O); `stored_files` removes them
again if the transaction does not commit, so a refused or failed message leaves nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from starlette.datastructures import UploadFile

from config import Settings
from errors import Problem
from models import Attachment
from resolvers.photos import TooLarge, read_upload_limited
from stores.filetypes import FileType, offered_name, sniff
from stores.media import MediaStore, safe_filename, sign_url

MAX_ATTACHMENTS = 10
URL_SECONDS = 3600
ALLOWED = "images (PNG, JPEG, GIF, WEBP), PDF, plain text or Word, Excel and PowerPoint documents"


@dataclass(frozen=True)
class CheckedFile:
    data: bytes
    filename: str
    file_type: FileType


@dataclass(frozen=True)
class StoredFile:
    key: str
    checked: CheckedFile

    def row(self, message_id: int) -> Attachment:
        data = self.checked.data
        return Attachment(
            message_id=message_id,
            filename=self.checked.filename,
            content_type=self.checked.file_type.content_type,
            size=len(data),
            storage_key=self.key,
            sha256=hashlib.sha256(data).hexdigest(),
        )


async def check_files(
    uploads: Sequence[UploadFile], max_bytes: int
) -> tuple[list[CheckedFile], list[Problem]]:
    """Every upload read (at most `max_bytes` each) and recognised, and a problem for each that is not."""
    if len(uploads) > MAX_ATTACHMENTS:
        too_many = Problem(f"At most {MAX_ATTACHMENTS} files a message.", "INVALID", ("input", "attachments"))
        return [], [too_many]
    checked: list[CheckedFile] = []
    problems: list[Problem] = []
    for index, upload in enumerate(uploads):
        field = ("input", "attachments", str(index))
        name = safe_filename(upload.filename or "file")
        try:
            data = await read_upload_limited(upload, max_bytes)
        except TooLarge:
            problems.append(Problem(f"{name} is larger than {max_bytes:,} bytes.", "FILE_TOO_LARGE", field))
            continue
        file_type = sniff(data)
        if file_type is None:
            message = f"{name} is not an allowed file: send {ALLOWED}."
            problems.append(Problem(message, "FILE_TYPE_NOT_ALLOWED", field))
            continue
        checked.append(CheckedFile(data, safe_filename(offered_name(name, file_type)), file_type))
    return checked, problems


@asynccontextmanager
async def stored_files(settings: Settings, files: Sequence[CheckedFile]) -> AsyncIterator[list[StoredFile]]:
    """Stores `files`; if the block raises (or is cancelled), deletes every one of them again."""
    store = MediaStore(settings.media_dir)
    stored: list[StoredFile] = []
    try:
        for checked in files:
            key = await asyncio.to_thread(store.save, checked.data, suffix=checked.file_type.suffix)
            stored.append(StoredFile(key, checked))
        yield stored
    except BaseException:
        for item in stored:
            await asyncio.shield(asyncio.to_thread(store.delete, item.key))
        raise


def attachment_url(settings: Settings, attachment: Attachment) -> str:
    """A signed link for an hour: images shown inline, everything else downloaded."""
    url, _ = sign_url(
        settings,
        attachment.storage_key,
        filename=attachment.filename,
        content_type=attachment.content_type,
        expires_in_seconds=URL_SECONDS,
        disposition="inline" if attachment.content_type.startswith("image/") else "attachment",
    )
    return url
