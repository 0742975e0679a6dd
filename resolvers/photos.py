"""Student photos: read an upload within a size limit, then check it and re-encode it as a clean JPEG.

Both exceptions are `PhotoRejected`, whose message is safe to show: a mutation reports it
as a user error.
"""

from __future__ import annotations

import warnings
from io import BytesIO

from PIL import ExifTags, Image
from starlette.datastructures import UploadFile

CHUNK_BYTES = 64 * 1024
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
# A profile photo ends up at most 512 pixels a side; what it is made from need only be a phone
# photo (12 megapixels, 4032x3024). A PNG or WEBP is decoded whole (only JPEG decodes at a
# reduced scale), 4 bytes a pixel as RGBA: 6300x6300 took ~1.1 s and ~160 MB. 4096x4096 keeps
# that to ~67 MB and a third of the time, and still takes any phone's standard photo.
MAX_PIXELS = 4096 * 4096
JPEG_QUALITY = 85
# EXIF orientation → the transposition that makes the image upright.
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# Pillow reports some of what it finds wrong in a file as warnings, not exceptions: corrupt
# EXIF, a malformed MPO, and a possible decompression bomb between its own pixel limit and
# twice that. Warning filters are process-wide, so they cannot be changed safely around one
# call in a worker thread; instead Pillow's warnings are errors everywhere (as its docs advise
# for DecompressionBombWarning; nothing else here uses Pillow), and a file it warns about is refused.
warnings.filterwarnings("error", module=r"PIL\.")


class PhotoRejected(Exception):
    """An upload that cannot be a student photo; the message says why and is safe to show."""


class TooLarge(PhotoRejected):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"The file is larger than {max_bytes:,} bytes.")
        self.max_bytes = max_bytes


class NotAnImage(PhotoRejected):
    def __init__(self, message: str = "The file is not a JPEG, PNG or WEBP image, or it is damaged.") -> None:
        super().__init__(message)


async def read_upload_limited(upload: UploadFile, max_bytes: int) -> bytes:
    """The upload's bytes, read in chunks; `TooLarge` as soon as more than `max_bytes` arrive."""
    chunks: list[bytes] = []
    received = 0
    while chunk := await upload.read(CHUNK_BYTES):
        received += len(chunk)
        if received > max_bytes:
            raise TooLarge(max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def normalize_photo(data: bytes, *, max_side: int = 512) -> bytes:
    """The photo as a JPEG at most `max_side` pixels wide and high, upright, without metadata.

    The format is read from the bytes, never from a name or a declared type, and the
    dimensions are checked before any pixel is decoded. EXIF (GPS position, camera, date),
    ICC profiles, XMP and comments are all dropped; transparency becomes white.

    CPU-bound (tens of milliseconds for a phone photo): call it with `asyncio.to_thread`.
    """
    try:
        with Image.open(BytesIO(data), formats=ACCEPTED_FORMATS) as opened:
            if opened.width * opened.height > MAX_PIXELS:
                raise NotAnImage("The image has too many pixels.")
            # JPEG can decode at 1/2, 1/4 or 1/8 scale directly: much faster for large photos.
            opened.draft("RGB", (max_side, max_side))
            image = opened.convert("RGBA")
            orientation = opened.getexif().get(ExifTags.Base.Orientation)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise NotAnImage("The image has too many pixels.") from error
    except (OSError, SyntaxError, ValueError, EOFError, Warning) as error:
        raise NotAnImage from error
    image.thumbnail((max_side, max_side))
    if orientation in UPRIGHT:
        image = image.transpose(UPRIGHT[orientation])
    # A new image carries none of the original's metadata.
    clean = Image.new("RGB", image.size, "white")
    clean.paste(image, mask=image)
    output = BytesIO()
    clean.save(output, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return output.getvalue()
