from django.urls import path

from .views import accounts, data, items, projects, workspace

app_name = "annotator"
urlpatterns = [
    path("", projects.project_list, name="project-list"),
    path("account/tokens/", accounts.api_tokens, name="api-tokens"),
    path("account/tokens/<uuid:public_id>/revoke/", accounts.api_token_revoke, name="api-token-revoke"),
    path("account/tokens/<uuid:public_id>/rotate/", accounts.api_token_rotate, name="api-token-rotate"),
    path("projects/new/", projects.project_create, name="project-create"),
    path("projects/<slug:slug>/", projects.project_detail, name="project-detail"),
    path("projects/<slug:slug>/settings/", projects.project_settings, name="project-settings"),
    path("projects/<slug:slug>/gold/recompute/", projects.project_gold_recompute, name="gold-recompute"),
    path("projects/<slug:slug>/schema/", projects.project_schema, name="project-schema"),
    path("projects/<slug:slug>/members/", projects.project_members, name="project-members"),
    path("projects/<slug:slug>/members/<int:user_id>/remove/", projects.member_remove, name="member-remove"),
    path(
        "projects/<slug:slug>/members/<int:user_id>/reset-password/",
        projects.member_reset_password,
        name="member-reset-password",
    ),
    path("projects/<slug:slug>/items/", data.item_list, name="item-list"),
    path("projects/<slug:slug>/items/<int:item_id>/image/", data.item_image, name="item-image"),
    path("projects/<slug:slug>/import/", data.import_upload, name="import-upload"),
    path("projects/<slug:slug>/import/sample.<slug:fmt>", data.import_sample, name="import-sample"),
    path("projects/<slug:slug>/import/<int:job_id>/", data.import_detail, name="import-detail"),
    path("projects/<slug:slug>/import/<int:job_id>/confirm/", data.import_confirm, name="import-confirm"),
    path("projects/<slug:slug>/import/<int:job_id>/retry/", data.import_retry, name="import-retry"),
    path("projects/<slug:slug>/import/<int:job_id>/discard/", data.import_discard, name="import-discard"),
    path("projects/<slug:slug>/export/", data.export_page, name="export"),
    path("projects/<slug:slug>/splits/", data.assign_splits, name="assign-splits"),
]

# Labelling workspace (members), item record and adjudication (leads).
urlpatterns += [
    path("projects/<slug:slug>/annotate/", workspace.item_annotate, name="item-annotate"),
    path("projects/<slug:slug>/mine/", workspace.my_annotations, name="my-annotations"),
    path("projects/<slug:slug>/items/<int:item_id>/", items.item_detail, name="item-detail"),
    path("projects/<slug:slug>/items/<int:item_id>/adjudicate/", items.item_adjudicate, name="item-adjudicate"),
    path("projects/<slug:slug>/adjudication/", items.adjudication, name="adjudication"),
    path("projects/<slug:slug>/controls/mark/", items.controls_mark, name="controls-mark"),
    path("projects/<slug:slug>/controls/unmark/", items.controls_unmark, name="controls-unmark"),
]
