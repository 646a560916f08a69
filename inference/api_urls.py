"""The models' JSON (leads), mounted by config/urls.py at /api/projects/<slug>/
in the "api" namespace (e.g. api:run-list)."""

from django.urls import path

from . import api

urlpatterns = [
    path("runs/", api.RunListCreate.as_view(), name="run-list"),
    path("train-options/", api.TrainOptions.as_view(), name="train-options"),
    path("runs/<int:run_id>/", api.RunDetail.as_view(), name="run-detail"),
    path("runs/<int:run_id>/cancel/", api.RunCancel.as_view(), name="run-cancel"),
    path("runs/<int:run_id>/prelabeller/", api.RunMarkPrelabeller.as_view(), name="run-prelabeller"),
    path("runs/<int:run_id>/embedding/", api.RunEmbedding.as_view(), name="run-embedding"),
    path("experiments/", api.ExperimentCreate.as_view(), name="experiment-create"),
    path("compare/", api.Compare.as_view(), name="compare"),
    path("predictions/", api.PredictionListCreate.as_view(), name="prediction-list"),
    path("predictions/<int:prediction_id>/", api.PredictionDetail.as_view(), name="prediction-detail"),
    path("predictions/<int:prediction_id>/cancel/", api.PredictionCancel.as_view(), name="prediction-cancel"),
    path("model-vs-annotators/", api.ModelVsAnnotators.as_view(), name="model-vs-annotators"),
    path("policy/", api.Policy.as_view(), name="policy"),
]
