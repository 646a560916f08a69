from django.urls import path

from . import api, views

app_name = "analysis"
urlpatterns = [
    path("projects/<slug:slug>/agreement/", views.agreement, name="agreement"),
    path("projects/<slug:slug>/confusion/", views.confusion, name="confusion"),
    path("projects/<slug:slug>/distribution/", views.distribution, name="distribution"),
    path("projects/<slug:slug>/keywords/", views.keywords, name="keywords"),
    path("projects/<slug:slug>/annotators/", views.annotators, name="annotators"),
    path("projects/<slug:slug>/modalities/", views.modalities, name="modalities"),
    path("api/projects/<slug:slug>/agreement/", api.AgreementAPI.as_view(), name="api-agreement"),
    path("api/projects/<slug:slug>/confusion/", api.ConfusionAPI.as_view(), name="api-confusion"),
    path("api/projects/<slug:slug>/distribution/", api.DistributionAPI.as_view(), name="api-distribution"),
    path("api/projects/<slug:slug>/keywords/", api.KeywordsAPI.as_view(), name="api-keywords"),
    path("api/projects/<slug:slug>/annotators/", api.AnnotatorsAPI.as_view(), name="api-annotators"),
    path("api/projects/<slug:slug>/modalities/", api.ModalitiesAPI.as_view(), name="api-modalities"),
]
