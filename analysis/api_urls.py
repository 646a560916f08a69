"""The dashboards' JSON, mounted by config/urls.py at /api/projects/<slug>/
in the "api" namespace (e.g. api:agreement)."""

from django.urls import path

from . import api

urlpatterns = [
    path("agreement/", api.AgreementAPI.as_view(), name="agreement"),
    path("confusion/", api.ConfusionAPI.as_view(), name="confusion"),
    path("distribution/", api.DistributionAPI.as_view(), name="distribution"),
    path("keywords/", api.KeywordsAPI.as_view(), name="keywords"),
    path("annotators/", api.AnnotatorsAPI.as_view(), name="annotators"),
    path("modalities/", api.ModalitiesAPI.as_view(), name="modalities"),
    path("controls/", api.ControlsAPI.as_view(), name="controls"),
]
