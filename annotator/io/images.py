"""Decide whether some bytes are an image we accept, and name it by content.

Checks, in order: byte size, that Pillow recognises one of the allowed
formats, the declared pixel count (before any pixel is decoded: a 50,000 x
50,000 PNG is a few hundred bytes on disk and 7.5 GB in memory), verify()
for structural damage, and a full load() to catch truncated files.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from . import DatasetError

ALLOWED_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP")
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp", "BMP": "bmp"}
_MB = 1024 * 1024


class ImageProblem(DatasetError):
    """The bytes are not an image we accept."""


@dataclass(frozen=True)
class ImageInfo:
    sha256: str
    format: str  # Pillow's name: JPEG, PNG, GIF, WEBP or BMP
    width: int
    height: int
    size_bytes: int

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]

    @property
    def storage_name(self) -> str:
        """Where the image lives below the media root: images/ab/abcdef....jpg."""
        return f"images/{self.sha256[:2]}/{self.sha256}.{self.extension}"


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _declared_pixels(exc: Exception) -> int | None:
    match = re.search(r"\((\d+) pixels\)", str(exc))
    return int(match.group(1)) if match else None


def _too_many_pixels(
    name: str, max_pixels: int, *, width: int | None = None, height: int | None = None, pixels: int | None = None
) -> ImageProblem:
    if width and height:
        size = f"{width} x {height} pixels ({width * height:,})"
    elif pixels:
        size = f"{pixels:,} pixels"
    else:
        size = "too many pixels"
    return ImageProblem(
        f"{name} declares {size}, more than the limit of {max_pixels:,} pixels; "
        "images this large are refused (it could be a decompression bomb). Resize it and try again."
    )


def inspect_image(data: bytes, *, name: str, max_bytes: int, max_pixels: int) -> ImageInfo:
    """Check `data` (the whole file) and describe it, or raise ImageProblem.

    Pillow's own decompression-bomb guard (Image.MAX_IMAGE_PIXELS, a global)
    also applies, and its warning is treated as an error, so the effective
    limit is the smaller of `max_pixels` and Pillow's. We do not change the
    global: other code in the process (model training) shares it.
    """
    if not data:
        raise ImageProblem(f"{name} is empty (0 bytes), not an image.")
    if len(data) > max_bytes:
        raise ImageProblem(
            f"{name} is {len(data) / _MB:.1f} MB; images may be at most {max_bytes / _MB:.0f} MB. Make it smaller and try again."
        )
    formats = ", ".join(ALLOWED_FORMATS)
    # catch_warnings changes process-wide filters; imports run in a worker
    # process, one at a time, so this does not leak into other requests.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as im:
                fmt, (width, height) = im.format, im.size
                if width * height > max_pixels:
                    raise _too_many_pixels(name, max_pixels, width=width, height=height)
                im.verify()
            # verify() leaves the image unusable; reopen to decode every pixel,
            # which is what finds a truncated JPEG.
            with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as im:
                im.load()
        except ImageProblem:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _too_many_pixels(name, max_pixels, pixels=_declared_pixels(exc)) from exc
        except UnidentifiedImageError as exc:
            raise ImageProblem(
                f"{name} is not an image in one of the accepted formats ({formats}); "
                "check that the file really is an image and not, say, a renamed text or HTML file."
            ) from exc
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as exc:
            # Pillow's own words name its internals; the person needs only what to do.
            raise ImageProblem(f"{name} is damaged or truncated; save or download it again.") from exc
    if fmt not in ALLOWED_FORMATS:  # formats= already restricts this; kept as a guard
        raise ImageProblem(f"{name} is a {fmt} image; accepted formats are {formats}.")
    return ImageInfo(sha256=sha256_of(data), format=fmt, width=width, height=height, size_bytes=len(data))
