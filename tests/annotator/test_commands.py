"""The management commands: create_project, import_items, export_items.
Bad input ends in a CommandError (non-zero exit) with a clear message."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from annotator.models import Item, Membership, Project
from tests.annotator.fixtures.datasets import msed_layout, write_csv, write_image


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_project_prints_the_slug_on_its_last_line(lead):
    out, _ = run("create_project", "Desire in the wild", "--template", "sentiment", "--lead", lead.username)

    slug = out.strip().splitlines()[-1]
    project = Project.objects.get(slug=slug)
    assert slug == "desire-in-the-wild"
    assert list(project.tasks.values_list("key", flat=True)) == ["sentiment"]
    assert Membership.objects.get(project=project, user=lead).role == Membership.Role.LEAD


def test_create_project_refuses_an_unknown_template(db):
    with pytest.raises(CommandError, match="Unknown template 'emoji'; choose one of msed, sentiment, custom."):
        run("create_project", "X", "--template", "emoji")
    assert not Project.objects.exists()


def test_create_project_refuses_an_unknown_lead(db):
    with pytest.raises(CommandError, match="There is no user 'nobody'"):
        run("create_project", "X", "--lead", "nobody")


def test_import_items_refuses_an_unknown_slug(project, tmp_path):
    with pytest.raises(CommandError, match=r"There is no project with the slug 'nope' \(projects: desire-study\)"):
        run("import_items", "nope", str(tmp_path))


def test_import_items_refuses_a_missing_file(project, tmp_path):
    with pytest.raises(CommandError, match="There is no file or folder at .*missing.csv"):
        run("import_items", project.slug, str(tmp_path / "missing.csv"))


def test_import_items_refuses_an_unknown_duplicate_policy(project, tmp_path):
    path = write_csv(tmp_path / "items.csv", ["id", "text"], [["a", "x"]])
    with pytest.raises(CommandError, match="--on-duplicate must be skip or update"):
        run("import_items", project.slug, str(path), "--on-duplicate", "merge")


def test_import_items_prints_the_bad_rows_and_writes_nothing(project, tmp_path):
    path = write_csv(tmp_path / "items.csv", ["id", "text", "desire"], [["a", "fine", "family"], ["b", "x", "greed"]])
    out, err = io.StringIO(), io.StringIO()

    with pytest.raises(CommandError, match="1 of 2 rows have problems, so nothing was imported"):
        call_command("import_items", project.slug, str(path), stdout=out, stderr=err)

    assert "row 2, column desire: unknown label 'greed' for the task 'desire'" in err.getvalue()
    assert not Item.objects.exists()


def test_import_items_dry_run_then_import_of_an_msed_folder(project, tmp_path):
    msed_layout(tmp_path / "msed", {"train": [["", "Hello", "Positive", "Happiness", "Family", "D-S-E"]]})

    out, _ = run("import_items", project.slug, str(tmp_path / "msed"), "--dry-run")
    assert "Dry run of msed (msed): created 1" in out and not Item.objects.exists()

    out, _ = run("import_items", project.slug, str(tmp_path / "msed"))
    assert "Imported 1 rows: 1 items created" in out
    assert Item.objects.get().external_id == "train-1"


def test_export_items_writes_a_csv_and_refuses_bad_input(project, tmp_path):
    write_image(tmp_path / "in" / "a.jpg")
    write_csv(tmp_path / "in" / "items.csv", ["id", "text", "image"], [["a", "hello", "a.jpg"]])
    run("import_items", project.slug, str(tmp_path / "in" / "items.csv"))

    out, _ = run("export_items", project.slug, "--format", "csv", str(tmp_path / "out" / "items.csv"), "--with-images")

    assert "Exported 1 items, 0 votes and 1 images" in out
    assert (tmp_path / "out" / "items.csv").read_text().startswith("id,text,image,split")
    with pytest.raises(CommandError, match="Unknown format 'xml'; choose one of csv, jsonl, msed."):
        run("export_items", project.slug, "--format", "xml", str(tmp_path / "x"))
    with pytest.raises(CommandError, match="There is no project with the slug 'nope'"):
        run("export_items", "nope", "--format", "csv", str(tmp_path / "x.csv"))


@pytest.mark.django_db(transaction=True)
def test_a_bad_command_exits_non_zero_with_its_message(tmp_path):
    """Through manage.py itself, as a shell script would call it."""
    result = subprocess.run(
        [sys.executable, "manage.py", "import_items", "no-such-project", str(tmp_path)],
        cwd=Path(settings.BASE_DIR),
        capture_output=True,
        text=True,
        env={
            **__import__("os").environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": _test_database_url(),
        },
        timeout=120,
    )
    assert result.returncode == 1
    assert "There is no project with the slug 'no-such-project'" in result.stderr


def _test_database_url() -> str:
    from django.db import connection

    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"
