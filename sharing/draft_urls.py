"""Routes of the authoring pages (drafts, object forms, versions, MISP import)."""

from django.urls import path

from sharing import draft_views as views

urlpatterns = [
    path("drafts/", views.draft_list, name="drafts"),
    path("drafts/import/misp/", views.misp_import, name="misp-import"),
    path("drafts/<int:draft_id>/", views.draft_detail, name="draft-detail"),
    path("drafts/<int:draft_id>/publish/", views.draft_publish, name="draft-publish"),
    path("drafts/<int:draft_id>/delete/", views.draft_delete, name="draft-delete"),
    path(
        "drafts/<int:draft_id>/objects/new/<str:stix_type>/",
        views.object_form,
        name="draft-object-new",
    ),
    path(
        "drafts/<int:draft_id>/objects/<int:object_id>/",
        views.object_form,
        name="draft-object-edit",
    ),
    path(
        "drafts/<int:draft_id>/objects/<int:object_id>/delete/",
        views.object_delete,
        name="draft-object-delete",
    ),
    path("authoring/pattern-check/", views.pattern_check, name="pattern-check"),
    path("objects/<str:stix_id>/new-version/", views.new_version, name="object-new-version"),
    path("objects/<str:stix_id>/revoke/", views.revoke, name="object-revoke"),
]
