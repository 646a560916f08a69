"""Fixtures shared by the inference tests (builders: tests/inference/factories.py;
the session's tiny BERT, also used outside this folder: tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference.models import RunStatus
from tests.inference.factories import make_demo_items, tiny_options, train


@pytest.fixture
def offered_tiny_bert(tiny_bert, settings) -> str:
    """tiny_bert as an operator offers it: linked into MODEL_DIR/weights/, chosen by name."""
    weights = Path(settings.MODEL_DIR) / "weights"
    weights.mkdir(parents=True, exist_ok=True)
    (weights / "tiny-bert").symlink_to(tiny_bert)
    return "tiny-bert"


@pytest.fixture
def options(offered_tiny_bert) -> dict:
    return tiny_options(offered_tiny_bert)


@pytest.fixture
def demo_items(project, request):
    """Demo items with images and gold (every sixth without): 60, enough to
    train on, or the module's DEMO_ITEMS where no run trains for real."""
    return make_demo_items(project, n=getattr(request.module, "DEMO_ITEMS", 60))


@pytest.fixture
def trained_run(project, demo_items, options, django_capture_on_commit_callbacks):
    run = train(project, options, django_capture_on_commit_callbacks)
    assert run.status == RunStatus.SUCCEEDED, run.error
    return run
