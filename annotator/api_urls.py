from django.urls import path

from .api import views

app_name = "api"
urlpatterns = [
    path("projects/", views.ProjectListCreate.as_view(), name="project-list"),
    path("projects/<slug:slug>/", views.ProjectDetail.as_view(), name="project-detail"),
    path("projects/<slug:slug>/schema/", views.ProjectSchema.as_view(), name="project-schema"),
    path("projects/<slug:slug>/items/", views.ItemList.as_view(), name="item-list"),
    path("projects/<slug:slug>/annotations/mine/", views.MyAnnotations.as_view(), name="my-annotations"),
    path("projects/<slug:slug>/gold/", views.GoldList.as_view(), name="gold-list"),
    path("projects/<slug:slug>/members/", views.MemberListCreate.as_view(), name="member-list"),
    path("projects/<slug:slug>/members/<int:user_id>/", views.MemberDelete.as_view(), name="member-delete"),
    path("projects/<slug:slug>/imports/", views.ImportCreate.as_view(), name="import-create"),
    path("projects/<slug:slug>/imports/<int:job_id>/", views.ImportStatus.as_view(), name="import-status"),
    path("projects/<slug:slug>/imports/<int:job_id>/confirm/", views.ImportConfirm.as_view(), name="import-confirm"),
    path("projects/<slug:slug>/export/", views.Export.as_view(), name="export"),
    path("projects/<slug:slug>/splits/", views.AssignSplits.as_view(), name="assign-splits"),
]
