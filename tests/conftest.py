"""Personas shared by every test: a lead, an annotator and an outsider
around one MSED project, so permission tests read like stories."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from annotator.models import Membership
from tests.factories import PASSWORD, UserFactory, make_member, make_project


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MODEL_DIR = tmp_path / "models"


@pytest.fixture
def lead(db):
    return UserFactory(username="lena-lead")


@pytest.fixture
def project(lead):
    return make_project(lead=lead)


@pytest.fixture
def annotator(project):
    return make_member(project, role=Membership.Role.ANNOTATOR, username="ana-annotator")


@pytest.fixture
def other_annotator(project):
    return make_member(project, role=Membership.Role.ANNOTATOR, username="otto-annotator")


@pytest.fixture
def outsider(db):
    return UserFactory(username="oscar-outsider")


def _client_for(client, user):
    client.login(username=user.username, password=PASSWORD)
    return client


@pytest.fixture
def lead_client(client, lead):
    return _client_for(client, lead)


@pytest.fixture
def annotator_client(client, annotator):
    return _client_for(client, annotator)


@pytest.fixture
def outsider_client(client, outsider):
    return _client_for(client, outsider)


@pytest.fixture
def api():
    """An API client; call api.force_authenticate(user) in the test."""
    return APIClient()
