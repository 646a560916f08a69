"""`make demo` shows everything: unimodal rounds for the Modalities
dashboard, and the logins framed last, printed again once the server is up."""

from __future__ import annotations

import io
import os
import socket
import stat

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from analysis.dashboards.modalities import build_modalities
from analysis.selectors import DashboardFilters
from annotator.models import Annotation
from annotator.services.demo import current_logins, login_box

pytestmark = pytest.mark.django_db


@pytest.fixture
def logins_file(settings, tmp_path):
    settings.DEMO_LOGINS_FILE = tmp_path / "var" / "demo-logins.json"
    return settings.DEMO_LOGINS_FILE


def test_seed_demo_adds_text_only_and_image_only_votes_for_a_share_of_items(logins_file):
    call_command("seed_demo", items=40, stdout=io.StringIO())
    rounds = set(Annotation.objects.values_list("round", flat=True))
    assert rounds == {"multimodal", "text", "image"}
    text_items = Annotation.objects.filter(round="text").values("item").distinct().count()
    labelled = Annotation.objects.filter(round="multimodal").values("item").distinct().count()
    assert 0 < text_items < labelled  # a small share
    from annotator.models import Project
    from annotator.services.demo import DEMO_SLUG

    payload = build_modalities(Project.objects.get(slug=DEMO_SLUG), DashboardFilters())
    figures = [chart for chart in payload["charts"] if chart.get("figure")]
    assert figures, payload  # the modality-difference matrix has something to show


def test_seed_demo_prints_the_logins_framed_last_and_saves_them_owner_only(logins_file):
    out = io.StringIO()
    call_command("seed_demo", items=6, stdout=out)
    lines = out.getvalue().rstrip().splitlines()
    assert lines[-1].startswith("+--") and lines[-1].endswith("+")
    box = "\n".join(lines[-12:])
    assert "demo-lead" in box and "annotator5" in box and "sign in at http://127.0.0.1:8000/" in box
    assert stat.S_IMODE(os.stat(logins_file).st_mode) == 0o600
    saved = current_logins(logins_file)
    assert [u for u, _, _ in saved] == [
        "demo-lead",
        "annotator1",
        "annotator2",
        "annotator3",
        "annotator4",
        "annotator5",
    ]
    assert all(f"{u:<12} {p}" in box for u, p, _ in saved)


def test_a_login_whose_password_changed_is_not_printed_again(logins_file):
    call_command("seed_demo", items=6, stdout=io.StringIO())
    user = get_user_model().objects.get(username="annotator2")
    user.set_password("changed-by-its-owner-1")
    user.save()
    assert "annotator2" not in [u for u, _, _ in current_logins(logins_file)]
    assert len(current_logins(logins_file)) == 5


def test_login_box_frames_every_line_at_one_width():
    box = login_box([("demo-lead", "pw1", "lead"), ("annotator1", "pw2", "annotator")]).splitlines()
    assert len({len(line) for line in box}) == 1
    assert box[0] == box[-1] and box[0].startswith("+-")


@pytest.mark.django_db(transaction=True)  # the printing thread reads through its own connection
def test_serve_prints_the_logins_once_the_server_answers(logins_file, monkeypatch):
    from annotator.management.commands import serve

    call_command("seed_demo", items=6, stdout=io.StringIO())
    monkeypatch.setattr(serve, "LOGINS_SETTLE_S", 0)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    out = io.StringIO()
    command = serve.Command(stdout=out)
    try:
        command._print_logins_when_up(f"127.0.0.1:{port}")
        import threading

        for thread in threading.enumerate():
            if thread.name == "print-demo-logins":
                thread.join(timeout=30)
    finally:
        listener.close()
    assert "demo-lead" in out.getvalue() and f"http://127.0.0.1:{port}/" in out.getvalue()
