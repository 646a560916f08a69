"""The sample files offered on the import page import cleanly into the
project whose schema they were built from, in every format."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotator.io import samples
from annotator.models import Gold, Item
from annotator.selectors import get_project_schema
from annotator.services import imports
from tests.factories import make_project


@pytest.mark.parametrize("template", ["msed", "sentiment"])
@pytest.mark.parametrize("fmt", list(samples.FORMATS))
def test_each_sample_imports_cleanly(lead, tmp_path, fmt, template):
    project = make_project(lead=lead, template=template, name=f"Samples {fmt} {template}")
    filename, _, data = samples.build_sample(get_project_schema(project), fmt)
    path = tmp_path / filename
    path.write_bytes(data)
    check = imports.import_path(project=project, path=path, dry_run=True)
    assert check.ok and check.errors == [] and check.counts["created"] == 3, check.message
    report = imports.import_path(project=project, path=path)
    assert report.written and report.ok, report.message
    items = {i.external_id: i for i in Item.objects.filter(project=project)}
    assert set(items) == {"sample-1", "sample-2", "sample-3"}
    assert {i.split for i in items.values()} == {"train", "dev", "test"}
    if fmt in ("zip", "msed"):
        assert all(i.image_id for i in items.values())
    assert Gold.objects.filter(item__project=project).count() == 3 * project.tasks.count()


def test_the_import_page_offers_a_sample_per_format(lead_client, project):
    html = lead_client.get(reverse("annotator:import-upload", args=[project.slug])).content.decode()
    for fmt in samples.FORMATS:
        assert reverse("annotator:import-sample", args=[project.slug, fmt]) in html


def test_a_sample_downloads_as_an_attachment_built_from_the_schema(lead_client, project):
    response = lead_client.get(reverse("annotator:import-sample", args=[project.slug, "csv"]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="items-sample.csv"'
    header = response.content.decode().splitlines()[0]
    assert header == "id,text,image,split,desire,sentiment,emotion,inference_order,votes"


def test_an_unknown_sample_format_is_a_404_and_outsiders_get_none(lead_client, outsider_client, project):
    assert lead_client.get(reverse("annotator:import-sample", args=[project.slug, "xlsx"])).status_code == 404
    assert outsider_client.get(reverse("annotator:import-sample", args=[project.slug, "csv"])).status_code == 404
