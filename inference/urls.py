from django.urls import path

from . import views

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
