"""Fixtures shared by the inference tests."""

import pytest

from tests.inference.test_services import make_demo_items


@pytest.fixture
def demo_items(project):
    """12 demo items with images and gold (every sixth without)."""
    return make_demo_items(project, n=12)
