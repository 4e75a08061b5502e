"""/taxii2/: discovery, one API root ("api"), its collections and status resources."""

from django.urls import path, re_path

from sharing.taxii import views

collection = "api/collections/<uuid:collection_id>"

urlpatterns = [
    path("", views.DiscoveryView.as_view(), name="taxii-discovery"),
    path("api/", views.ApiRootView.as_view(), name="taxii-api-root"),
    path("api/collections/", views.CollectionsView.as_view(), name="taxii-collections"),
    path(f"{collection}/", views.CollectionView.as_view(), name="taxii-collection"),
    path(f"{collection}/objects/", views.ObjectsView.as_view(), name="taxii-objects"),
    path(
        f"{collection}/objects/<str:object_id>/",
        views.ObjectsView.as_view(),
        name="taxii-object",
    ),
    path(
        f"{collection}/objects/<str:object_id>/versions/",
        views.VersionsView.as_view(),
        name="taxii-versions",
    ),
    path(f"{collection}/manifest/", views.ManifestView.as_view(), name="taxii-manifest"),
    path(f"{collection}/receipts/", views.ReceiptsView.as_view(), name="taxii-all-receipts"),
    path(
        f"{collection}/receipts/<str:object_id>/",
        views.ReceiptsView.as_view(),
        name="taxii-receipts",
    ),
    # The OASIS client asks for ".../status/{id}" without the final slash.
    re_path(
        r"^api/status/(?P<status_id>[0-9a-f-]{36})/?$",
        views.StatusView.as_view(),
        name="taxii-status",
    ),
]
