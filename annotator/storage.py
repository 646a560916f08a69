"""Where stored images live: MEDIA_ROOT/<ImageAsset.file>, named by content hash."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.http import Http404

from .models import ImageAsset

CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp", "BMP": "image/bmp"}


def image_path(asset: ImageAsset) -> Path:
    path = (Path(settings.MEDIA_ROOT) / asset.file).resolve()
    # The name comes from our own hash, but never trust a path to stay inside MEDIA_ROOT.
    if Path(settings.MEDIA_ROOT).resolve() not in path.parents:
        raise Http404("Image not found.")
    return path


def open_image_file(asset: ImageAsset):
    """(binary file handle, content type) of a stored image; 404 if the file is gone."""
    path = image_path(asset)
    try:
        handle = path.open("rb")
    except FileNotFoundError as exc:
        raise Http404("The image file is missing from storage.") from exc
    return handle, CONTENT_TYPES.get(asset.format.upper(), "application/octet-stream")
