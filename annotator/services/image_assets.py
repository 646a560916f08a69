"""Single images stored one at a time (imports store theirs in bulk)."""

from __future__ import annotations

from django.db import transaction

from .. import storage
from ..errors import DomainError
from ..io import DatasetError
from ..io import images as image_io
from ..models import ImageAsset
from .imports import import_limits


def save_image_asset(*, data: bytes, name: str = "image") -> ImageAsset:
    """Check and store one image, content-addressed; returns its ImageAsset
    (the existing one when the same bytes were stored before). For the demo
    seeder and tests; imports store images in bulk."""
    limits = import_limits()
    try:
        info = image_io.inspect_image(
            data, name=name, max_bytes=limits.max_image_bytes, max_pixels=limits.max_image_pixels
        )
    except DatasetError as exc:
        raise DomainError(exc.message) from exc
    created = storage.save_image(info.storage_name, data)
    try:
        with transaction.atomic():
            asset, _ = ImageAsset.objects.get_or_create(
                sha256=info.sha256,
                defaults={
                    "file": info.storage_name,
                    "format": info.format,
                    "width": info.width,
                    "height": info.height,
                    "size_bytes": info.size_bytes,
                },
            )
    except BaseException:
        if created:
            storage.delete_file(info.storage_name)
        raise
    return asset
