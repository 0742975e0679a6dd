"""Student photos: size-limited reading, and re-encoding to a small, upright JPEG without metadata."""

from __future__ import annotations

import asyncio
import os
import struct
import subprocess
import sys
import zlib
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from PIL import ExifTags, Image, ImageCms
from starlette.datastructures import UploadFile

from resolvers.photos import NotAnImage, PhotoRejected, TooLarge, normalize_photo, read_upload_limited

ROOT = Path(__file__).resolve().parents[2]
MB = 1024 * 1024
RED = (255, 0, 0)
BLUE = (0, 0, 255)


def encode(image: Image.Image, image_format: str, **options: Any) -> bytes:
    buffer = BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def decode(data: bytes) -> Image.Image:
    image = Image.open(BytesIO(data))
    image.load()
    return image


def exif_with_gps(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SpyCam"
    exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 24.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (2.0, 21.0, 7.0)
    return exif


def png_header(width: int, height: int) -> bytes:
    """A tiny PNG file that declares `width` by `height` pixels: what a decompression bomb looks like."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def near(pixel: Any, color: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, color, strict=True))


# normalize_photo


@pytest.mark.parametrize("image_format", ["JPEG", "PNG", "WEBP"])
async def test_metadata_is_removed_and_the_result_is_a_jpeg(image_format: str) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    original = encode(
        Image.new("RGB", (800, 600), (10, 120, 200)), image_format, exif=exif_with_gps(), icc_profile=srgb
    )
    before = decode(original)
    assert before.getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the fixture really carries a position
    assert "icc_profile" in before.info

    result = await asyncio.to_thread(normalize_photo, original)

    after = decode(result)
    assert after.format == "JPEG"
    assert after.mode == "RGB"
    assert after.size == (512, 384)
    assert not after.getexif()
    assert not {"exif", "icc_profile", "xmp", "comment"} & after.info.keys()
    assert b"Exif" not in result
    assert b"SpyCam" not in result
    assert near(after.getpixel((256, 192)), (10, 120, 200), tolerance=8)


def test_a_jpeg_comment_and_xmp_are_removed() -> None:
    original = encode(
        Image.new("RGB", (64, 64)),
        "JPEG",
        comment=b"taken at 12 Elm Street",
        xmp=b"<x:xmpmeta>Elm</x:xmpmeta>",
    )
    result = normalize_photo(original)
    assert b"Elm" not in result
    assert not {"comment", "xmp"} & decode(result).info.keys()


@pytest.mark.parametrize(
    ("size", "max_side", "expected"),
    [
        ((1000, 3000), 512, (171, 512)),
        ((3000, 1000), 512, (512, 171)),
        ((2048, 2048), 256, (256, 256)),
        ((100, 80), 512, (100, 80)),  # never enlarged
    ],
)
def test_the_photo_is_shrunk_to_fit_keeping_its_aspect_ratio(
    size: tuple[int, int], max_side: int, expected: tuple[int, int]
) -> None:
    original = encode(Image.new("RGB", size, "green"), "PNG")
    assert decode(normalize_photo(original, max_side=max_side)).size == expected


def left_red_right_blue(width: int = 120, height: int = 80) -> Image.Image:
    image = Image.new("RGB", (width, height), BLUE)
    image.paste(RED, (0, 0, width // 2, height))
    return image


@pytest.mark.parametrize(
    ("orientation", "expected_size", "red_at", "blue_at"),
    [
        (1, (120, 80), (10, 40), (110, 40)),  # upright already
        (3, (120, 80), (110, 40), (10, 40)),  # upside down
        (6, (80, 120), (40, 10), (40, 110)),  # to be turned clockwise: the left side goes up
        (8, (80, 120), (40, 110), (40, 10)),  # to be turned anticlockwise: the left side goes down
        (2, (120, 80), (110, 40), (10, 40)),  # mirrored
    ],
)
def test_exif_orientation_is_applied(
    orientation: int,
    expected_size: tuple[int, int],
    red_at: tuple[int, int],
    blue_at: tuple[int, int],
) -> None:
    original = encode(left_red_right_blue(), "JPEG", exif=exif_with_gps(orientation))
    upright = decode(normalize_photo(original))
    assert upright.size == expected_size
    assert near(upright.getpixel(red_at), RED)
    assert near(upright.getpixel(blue_at), BLUE)


def test_transparency_becomes_white() -> None:
    image = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (0, 0, 20, 40))
    result = decode(normalize_photo(encode(image, "PNG")))
    assert near(result.getpixel((10, 20)), RED)
    assert near(result.getpixel((30, 20)), (255, 255, 255))


def noise_png() -> bytes:
    return encode(Image.frombytes("RGB", (256, 256), os.urandom(256 * 256 * 3)), "PNG")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"hello, I am a text file called photo.png\n", id="text"),
        pytest.param(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(200), id="executable"),
        pytest.param(b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', id="svg"),
        pytest.param(encode(Image.new("RGB", (20, 20)), "GIF"), id="gif"),
        pytest.param(encode(Image.new("RGB", (20, 20)), "BMP"), id="bmp"),
        pytest.param(encode(Image.new("RGB", (20, 20)), "TIFF"), id="tiff"),
        pytest.param(noise_png()[:50_000], id="truncated-png"),
        pytest.param(encode(Image.new("RGB", (8, 8)), "JPEG")[:-300], id="truncated-jpeg"),
        pytest.param(
            encode(Image.new("RGB", (8, 8)), "JPEG", exif=b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x05\x00"),
            id="corrupt-exif",
        ),
    ],
)
def test_anything_but_a_sound_jpeg_png_or_webp_is_refused(data: bytes) -> None:
    with pytest.raises(NotAnImage, match="not a JPEG, PNG or WEBP image"):
        normalize_photo(data)


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (6_300, 6_300),  # 39.7 megapixels: ~1.1 s and ~160 MB to decode, under the old 40 MP limit
        (4_097, 4_096),  # one column over our limit
        (7_000, 7_000),  # over our limit, under Pillow's
        (10_000, 10_000),  # where Pillow only warns
        (50_000, 50_000),  # where Pillow refuses
    ],
)
def test_a_decompression_bomb_is_refused_before_decoding(width: int, height: int) -> None:
    with pytest.raises(NotAnImage, match="too many pixels"):
        normalize_photo(png_header(width, height))


def test_a_phone_photo_is_within_the_pixel_limit() -> None:
    """12 megapixels (4032x3024), the standard photo of phone cameras, is still taken."""
    photo = encode(Image.new("RGB", (4_032, 3_024), RED), "JPEG")
    assert decode(normalize_photo(photo)).size == (512, 384)


def test_pillow_warnings_refuse_the_file_outside_pytest_too(tmp_path: Path) -> None:
    """pytest turns every warning into an error; a server process must refuse the same files."""
    (tmp_path / "bomb.png").write_bytes(png_header(10_000, 10_000))
    corrupt_exif = b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x05\x00"
    (tmp_path / "exif.jpg").write_bytes(encode(Image.new("RGB", (8, 8)), "JPEG", exif=corrupt_exif))
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from resolvers.photos import NotAnImage, normalize_photo\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        normalize_photo(Path(path).read_bytes())\n"
        "    except NotAnImage as error:\n"
        "        print(error)\n"
    )
    finished = subprocess.run(
        [sys.executable, "-W", "default", "-c", script, tmp_path / "bomb.png", tmp_path / "exif.jpg"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert finished.stdout.splitlines() == [
        "The image has too many pixels.",
        "The file is not a JPEG, PNG or WEBP image, or it is damaged.",
    ]
    assert finished.stderr == ""


# read_upload_limited


def upload_of(size: int) -> UploadFile:
    return UploadFile(BytesIO(os.urandom(size)), filename="photo.png")


async def test_a_small_upload_is_read_intact() -> None:
    upload = upload_of(300_000)
    expected = upload.file.getvalue()  # type: ignore[attr-defined]
    assert await read_upload_limited(upload, 10 * MB) == expected


async def test_an_upload_of_exactly_the_limit_is_accepted() -> None:
    assert len(await read_upload_limited(upload_of(10 * MB), 10 * MB)) == 10 * MB


async def test_an_upload_over_the_limit_is_refused_without_reading_it_all() -> None:
    upload = upload_of(11 * MB)
    with pytest.raises(TooLarge) as refused:
        await read_upload_limited(upload, 10 * MB)
    assert isinstance(refused.value, PhotoRejected)
    assert refused.value.max_bytes == 10 * MB
    assert str(refused.value) == "The file is larger than 10,485,760 bytes."
    assert upload.file.tell() <= 10 * MB + 64 * 1024


async def test_one_byte_over_the_limit_is_refused() -> None:
    with pytest.raises(TooLarge):
        await read_upload_limited(upload_of(10 * MB + 1), 10 * MB)
