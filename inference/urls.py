from django.urls import path

from . import api, views

app_name = "inference"
urlpatterns = [
    path("projects/<slug:slug>/models/", views.run_list, name="run-list"),
    path("projects/<slug:slug>/models/train/", views.run_create, name="run-create"),
    path("projects/<slug:slug>/models/experiment/", views.experiment_create, name="experiment-create"),
    path("projects/<slug:slug>/models/compare/", views.run_compare, name="run-compare"),
    path("projects/<slug:slug>/models/runs/<int:run_id>/", views.run_detail, name="run-detail"),
    path("projects/<slug:slug>/models/runs/<int:run_id>/cancel/", views.run_cancel, name="run-cancel"),
    path(
        "projects/<slug:slug>/models/runs/<int:run_id>/prelabeller/", views.run_mark_prelabeller, name="run-prelabeller"
    ),
    path("projects/<slug:slug>/models/runs/<int:run_id>/predict/", views.run_predict, name="run-predict"),
    path(
        "projects/<slug:slug>/models/predictions/<int:prediction_id>/",
        views.prediction_detail,
        name="prediction-detail",
    ),
    path(
        "projects/<slug:slug>/models/predictions/<int:prediction_id>/cancel/",
        views.prediction_cancel,
        name="prediction-cancel",
    ),
    path("projects/<slug:slug>/models/policy/", views.policy_update, name="policy-update"),
    path("projects/<slug:slug>/models/versus-annotators/", views.model_vs_annotators, name="model-vs-annotators"),
]

# JSON API (leads).
urlpatterns += [
    path("api/projects/<slug:slug>/runs/", api.RunListCreate.as_view(), name="api-run-list"),
    path("api/projects/<slug:slug>/train-options/", api.TrainOptions.as_view(), name="api-train-options"),
    path("api/projects/<slug:slug>/runs/<int:run_id>/", api.RunDetail.as_view(), name="api-run-detail"),
    path("api/projects/<slug:slug>/runs/<int:run_id>/cancel/", api.RunCancel.as_view(), name="api-run-cancel"),
    path(
        "api/projects/<slug:slug>/runs/<int:run_id>/prelabeller/",
        api.RunMarkPrelabeller.as_view(),
        name="api-run-prelabeller",
    ),
    path("api/projects/<slug:slug>/runs/<int:run_id>/embedding/", api.RunEmbedding.as_view(), name="api-run-embedding"),
    path("api/projects/<slug:slug>/experiments/", api.ExperimentCreate.as_view(), name="api-experiment-create"),
    path("api/projects/<slug:slug>/compare/", api.Compare.as_view(), name="api-compare"),
    path("api/projects/<slug:slug>/predictions/", api.PredictionListCreate.as_view(), name="api-prediction-list"),
    path(
        "api/projects/<slug:slug>/predictions/<int:prediction_id>/",
        api.PredictionDetail.as_view(),
        name="api-prediction-detail",
    ),
    path(
        "api/projects/<slug:slug>/predictions/<int:prediction_id>/cancel/",
        api.PredictionCancel.as_view(),
        name="api-prediction-cancel",
    ),
    path(
        "api/projects/<slug:slug>/model-vs-annotators/", api.ModelVsAnnotators.as_view(), name="api-model-vs-annotators"
    ),
    path("api/projects/<slug:slug>/policy/", api.Policy.as_view(), name="api-policy"),
]
