"""The dashboards' JSON, mounted by config/urls.py at /api/projects/<slug>/
in the "api" namespace (e.g. api:agreement)."""

from django.urls import path

from . import api

# The endpoints that lived under /analysis/api/ before 2026-12: only these
# answer a redirect from their old path (config/moved_api.py).
moved_urlpatterns = [
    path("agreement/", api.AgreementAPI.as_view(), name="agreement"),
    path("confusion/", api.ConfusionAPI.as_view(), name="confusion"),
    path("distribution/", api.DistributionAPI.as_view(), name="distribution"),
    path("keywords/", api.KeywordsAPI.as_view(), name="keywords"),
    path("annotators/", api.AnnotatorsAPI.as_view(), name="annotators"),
    path("modalities/", api.ModalitiesAPI.as_view(), name="modalities"),
]
urlpatterns = [
    *moved_urlpatterns,
    path("anchoring/", api.AnchoringAPI.as_view(), name="anchoring"),
    path("controls/", api.ControlsAPI.as_view(), name="controls"),
]
