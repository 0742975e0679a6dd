"""What a file is, from its bytes: the short list of types a chat attachment may be.

Names and declared types are never trusted. Anything not positively recognised is refused,
so executables (MZ, ELF, Mach-O), scripts (`#!`), HTML, SVG and XML, archives and macro-enabled
office files all fail without needing a rule of their own.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass


@dataclass(frozen=True)
class FileType:
    content_type: str
    suffix: str  # what the stored file and the offered name end with


PNG = FileType("image/png", ".png")
JPEG = FileType("image/jpeg", ".jpg")
GIF = FileType("image/gif", ".gif")
WEBP = FileType("image/webp", ".webp")
PDF = FileType("application/pdf", ".pdf")
TEXT = FileType("text/plain; charset=utf-8", ".txt")
DOCX = FileType("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx")
XLSX = FileType("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx")
PPTX = FileType("application/vnd.openxmlformats-officedocument.presentationml.presentation", ".pptx")

_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
    (b"GIF87a", GIF),
    (b"GIF89a", GIF),
    (b"%PDF-", PDF),
)
# The folder an Office Open XML package keeps its main part in.
_OOXML_FOLDERS = (("word/", DOCX), ("xl/", XLSX), ("ppt/", PPTX))
# Other names a type is known by, so that "notes.jpeg" keeps its name.
_ALIASES = {".jpeg": JPEG, ".jpe": JPEG, ".text": TEXT}


def sniff(data: bytes) -> FileType | None:
    """The allowed type `data` is, or None."""
    for signature, file_type in _SIGNATURES:
        if data.startswith(signature):
            return file_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data.startswith(b"PK\x03\x04"):
        return _office(data)
    return TEXT if _is_plain_text(data) else None


def _office(data: bytes) -> FileType | None:
    """A docx, xlsx or pptx without macros; only the zip's directory is read, nothing inflated."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, ValueError, EOFError):
        return None
    if "[Content_Types].xml" not in names or any(name.lower().endswith("vbaproject.bin") for name in names):
        return None
    for folder, file_type in _OOXML_FOLDERS:
        if any(name.startswith(folder) for name in names):
            return file_type
    return None


def _is_plain_text(data: bytes) -> bool:
    """UTF-8 without NULs that is neither a script nor markup a browser could run."""
    if not data or b"\0" in data:
        return False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    start = text.lstrip("\ufeff \t\r\n")
    return not start.startswith(("#!", "<"))


def offered_name(filename: str, file_type: FileType) -> str:
    """`filename` ending in an extension of its real type, so that it opens as what it is:
    "cv.exe" holding a PDF is offered as "cv.exe.pdf"."""
    _, dot, extension = filename.rpartition(".")
    extension = f".{extension.lower()}" if dot else ""
    if extension == file_type.suffix or _ALIASES.get(extension) == file_type:
        return filename
    return f"{filename}{file_type.suffix}"
