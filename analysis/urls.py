from django.urls import path

from . import views

app_name = "analysis"
urlpatterns = [
    path("projects/<slug:slug>/agreement/", views.agreement, name="agreement"),
    path("projects/<slug:slug>/confusion/", views.confusion, name="confusion"),
    path("projects/<slug:slug>/distribution/", views.distribution, name="distribution"),
    path("projects/<slug:slug>/keywords/", views.keywords, name="keywords"),
    path("projects/<slug:slug>/annotators/", views.annotators, name="annotators"),
    path("projects/<slug:slug>/modalities/", views.modalities, name="modalities"),
    path("projects/<slug:slug>/anchoring/", views.anchoring, name="anchoring"),
    path("projects/<slug:slug>/controls/", views.controls, name="controls"),
]
