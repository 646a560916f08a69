from django.urls import path

from . import controls, gold, tokens, views, workspace

# Mounted at /api/ in the "api" namespace by config/urls.py, beside the
# analysis and inference routes (annotator imports nothing from them).
# The labelling loop first: URLs are tried in order, and these two are most of the traffic.
urlpatterns = [
    path("projects/<slug:slug>/queue/next/", workspace.QueueNext.as_view(), name="queue-next"),
    path("projects/<slug:slug>/items/<int:item_id>/submit/", workspace.ItemSubmit.as_view(), name="item-submit"),
]

urlpatterns += [
    path("tokens/", tokens.TokenListCreate.as_view(), name="token-list"),
    path("tokens/<str:public_id>/", tokens.TokenRevoke.as_view(), name="token-revoke"),
    path("tokens/<str:public_id>/rotate/", tokens.TokenRotate.as_view(), name="token-rotate"),
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
    path("projects/<slug:slug>/imports/<int:job_id>/retry/", views.ImportRetry.as_view(), name="import-retry"),
    path("projects/<slug:slug>/imports/<int:job_id>/discard/", views.ImportDiscard.as_view(), name="import-discard"),
    path("projects/<slug:slug>/export/", views.Export.as_view(), name="export"),
    path("projects/<slug:slug>/splits/", views.AssignSplits.as_view(), name="assign-splits"),
]

# Labelling workspace (members) and item record / adjudication (leads).
urlpatterns += [
    path("projects/<slug:slug>/queue/heartbeat/", workspace.QueueHeartbeat.as_view(), name="queue-heartbeat"),
    path("projects/<slug:slug>/items/<int:item_id>/", workspace.ItemRecord.as_view(), name="item-detail"),
    path("projects/<slug:slug>/items/<int:item_id>/skip/", workspace.ItemSkip.as_view(), name="item-skip"),
    path(
        "projects/<slug:slug>/items/<int:item_id>/adjudicate/",
        workspace.ItemAdjudicate.as_view(),
        name="item-adjudicate",
    ),
    path(
        "projects/<slug:slug>/annotations/mine/previous/",
        workspace.OwnAnnotationPrevious.as_view(),
        name="my-annotation-step",
    ),
    path(
        "projects/<slug:slug>/annotations/mine/<int:annotation_id>/",
        workspace.OwnAnnotation.as_view(),
        name="my-annotation",
    ),
    path("projects/<slug:slug>/disputed/", workspace.DisputedList.as_view(), name="disputed-list"),
    path("projects/<slug:slug>/controls/mark/", controls.ControlsMark.as_view(), name="controls-mark"),
    path("projects/<slug:slug>/controls/unmark/", controls.ControlsUnmark.as_view(), name="controls-unmark"),
    path("projects/<slug:slug>/gold/recompute/", gold.GoldRecompute.as_view(), name="gold-recompute"),
    path("projects/<slug:slug>/gold/doubts/", gold.GoldDoubts.as_view(), name="gold-doubts"),
]
