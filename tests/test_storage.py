"""Files go through Django's storage API (annotator/storage.py for media,
inference/storage.py for model files), so a deployment can keep them on
S3-compatible storage when web and workers run on different machines.

The proof: with STORAGES pointing at Django's InMemoryStorage for media and
models, the pages (import, item browser, image serving, labelling page,
exports, the models page) and the labelling loop through the API work, and
nothing appears on disk under MEDIA_ROOT or MODEL_DIR."""

from __future__ import annotations

import io
import uuid
import zipfile

import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.urls import reverse

from annotator import storage
from annotator.models import ImageAsset, ImportJob, Item
from annotator.services import exports, image_assets
from tests.annotator.fixtures.datasets import image_bytes
from tests.factories import ItemFactory, login

MEMORY = {"BACKEND": "django.core.files.storage.InMemoryStorage"}


@pytest.fixture
def in_memory(settings, tmp_path):
    """Media and model files in memory; MEDIA_ROOT and MODEL_DIR point at
    folders that must stay absent."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MODEL_DIR = tmp_path / "models"
    settings.STORAGES = {**settings.STORAGES, "default": MEMORY, "models": MEMORY}
    yield
    assert not (tmp_path / "media").exists(), sorted((tmp_path / "media").rglob("*"))
    assert not (tmp_path / "models").exists(), sorted((tmp_path / "models").rglob("*"))


def answers(labels_of_project) -> dict[str, str]:
    return {task: labels[0] for task, labels in labels_of_project.items()}


@pytest.mark.django_db
def test_pages_and_the_labelling_loop_never_touch_a_file_path(
    in_memory, project, lead, annotator, client, api, django_capture_on_commit_callbacks
):
    assert login(client, lead)
    # Import through the page: the upload and its images go to the storage,
    # the (eager) worker reads the upload from there.
    sample = client.get(reverse("annotator:import-sample", args=[project.slug, "zip"])).content
    upload = ContentFile(sample, name="items-sample-with-images.zip")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("annotator:import-upload", args=[project.slug]), {"file": upload, "on_duplicate": "skip"}
        )
    assert response.status_code == 302
    job = ImportJob.objects.get(project=project)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert not storages["default"].exists(job.path)  # the upload is dropped once imported
    items = list(Item.objects.filter(project=project, image__isnull=False).select_related("image"))
    assert items and all(storages["default"].exists(item.image.file) for item in items)

    # The item browser shows thumbnails, served from the storage.
    page = client.get(reverse("annotator:item-list", args=[project.slug])).content.decode()
    image_url = reverse("annotator:item-image", args=[project.slug, items[0].pk])
    assert image_url in page
    with storages["default"].open(items[0].image.file) as handle:
        stored = handle.read()
    served = client.get(image_url)
    assert served.status_code == 200 and served["Content-Type"].startswith("image/")
    assert b"".join(served.streaming_content) == stored

    # Exports read the images from the storage too.
    export = client.get(reverse("annotator:export", args=[project.slug]), {"format": "msed", "pseudonymise": "on"})
    archive = zipfile.ZipFile(io.BytesIO(b"".join(export.streaming_content)))
    assert any("/images/" in name for name in archive.namelist())

    # The models pages: the training form offers what the models storage holds.
    storages["models"].save("weights/r18-offered.pth", ContentFile(b"not really weights"))
    assert client.get(reverse("inference:run-list", args=[project.slug])).status_code == 200
    assert "r18-offered.pth" in client.get(reverse("inference:run-create", args=[project.slug])).content.decode()

    # The labelling page and the loop through the API: claim, see the image, submit.
    client.logout()
    assert login(client, annotator)
    assert client.get(reverse("annotator:item-annotate", args=[project.slug])).status_code == 200
    api.force_authenticate(annotator)
    labels = {task.key: [label.key for label in task.labels.all()] for task in project.tasks.all()}
    submitted = images_seen = 0
    for _ in range(len(items)):
        work = api.post(reverse("api:queue-next", args=[project.slug]), {}, format="json").json()["work"]
        if not work:
            break
        item = work["item"]
        if item["image_url"]:
            assert client.get(item["image_url"]).status_code == 200
            images_seen += 1
        response = api.post(
            reverse("api:item-submit", args=[project.slug, item["id"]]),
            {"labels": answers(labels), "inference_order": list(labels), "client_key": str(uuid.uuid4())},
            format="json",
        )
        assert response.status_code in (200, 201), response.content
        submitted += 1
    assert submitted >= 1 and images_seen >= 1


@pytest.mark.django_db
def test_a_stored_image_is_written_once_by_its_content_hash(in_memory):
    first = image_assets.save_image_asset(data=image_bytes("red"))
    again = image_assets.save_image_asset(data=image_bytes("red"))
    assert first.pk == again.pk and ImageAsset.objects.count() == 1
    media = storages["default"]
    folders, files = media.listdir(f"images/{first.sha256[:2]}")
    assert files == [f"{first.sha256}.jpg"]
    # A half-written file (a killed write) under the name is replaced.
    media.delete(first.file)
    media.save(first.file, ContentFile(b"half"))
    assert storage.save_image(first.file, image_bytes("red")) is True
    assert media.size(first.file) == len(image_bytes("red"))


@pytest.mark.django_db
def test_an_image_name_outside_the_media_storage_is_a_missing_image(project, settings, tmp_path):
    """Path safety comes from the storage: FileSystemStorage refuses a name
    that leaves MEDIA_ROOT, and every reader treats it as missing."""
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"private")
    asset = ImageAsset.objects.create(
        sha256="0" * 64, file="../secret.jpg", format="JPEG", width=1, height=1, size_bytes=7
    )
    with pytest.raises(SuspiciousFileOperation):
        storages["default"].open(asset.file)
    assert storage.image_exists(asset.file) is False
    with pytest.raises(FileNotFoundError):
        storage.open_image(asset.file)
    ItemFactory(project=project, external_id="x", image=asset, split="train")
    _, _, chunks = exports.stream_export(project=project, fmt="msed")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert not any("images/" in name for name in archive.namelist())  # left out, never read
