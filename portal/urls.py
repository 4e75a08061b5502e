from allauth.account import views as account_views
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from ledger import api as ledger_api
from portal import api as portal_api
from portal import api_keys
from portal.auth_adapters import admin_login
from sharing import api as sharing_api
from sharing import oversight as sharing_oversight
from sharing import views as sharing_views
from sharing import views_reading as reading_views

# The admin has no login form of its own: allauth's, with MFA and its rate limits.
admin.site.login = admin_login

api_patterns = [
    path("health/", sharing_api.HealthView.as_view(), name="api-health"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("publications/", sharing_api.PublicationListView.as_view(), name="api-publications"),
    path(
        "publications/<int:pk>/",
        sharing_api.PublicationDetailView.as_view(),
        name="api-publication",
    ),
    path(
        "publications/<int:pk>/recipients/",
        sharing_api.PublicationRecipientsView.as_view(),
        name="api-publication-recipients",
    ),
    path("inbox/", sharing_api.InboxListView.as_view(), name="api-inbox"),
    path(
        "inbox/<int:pk>/acknowledge/",
        sharing_api.AcknowledgeView.as_view(),
        name="api-delivery-acknowledge",
    ),
    path("inbox/<int:pk>/", sharing_api.InboxDetailView.as_view(), name="api-delivery"),
    path("webhooks/", sharing_api.WebhookListView.as_view(), name="api-webhooks"),
    path("webhooks/<int:pk>/", sharing_api.WebhookDetailView.as_view(), name="api-webhook"),
    path(
        "webhooks/<int:pk>/attempts/",
        sharing_api.WebhookAttemptListView.as_view(),
        name="api-webhook-attempts",
    ),
    path("webhooks/<int:pk>/test/", sharing_api.WebhookTestView.as_view(), name="api-webhook-test"),
    path(
        "webhooks/<int:pk>/enable/",
        sharing_api.WebhookEnableView.as_view(),
        name="api-webhook-enable",
    ),
    path(
        "webhooks/<int:pk>/rotate-secret/",
        sharing_api.WebhookRotateSecretView.as_view(),
        name="api-webhook-rotate-secret",
    ),
    path(
        "webhooks/<int:pk>/messages/<int:message_id>/redeliver/",
        sharing_api.WebhookRedeliverView.as_view(),
        name="api-webhook-redeliver",
    ),
    path("ledger/", ledger_api.LedgerInfoView.as_view(), name="api-ledger"),
    path("ledger/trust-root/", ledger_api.TrustRootView.as_view(), name="api-trust-root"),
    path("ledger/checkpoints/", ledger_api.CheckpointListView.as_view(), name="api-checkpoints"),
    path(
        "organisations/", portal_api.OrganisationDirectoryView.as_view(), name="api-organisations"
    ),
    path("ledger/consistency/", ledger_api.ConsistencyProofView.as_view(), name="api-consistency"),
    path("ledger/key-events/", ledger_api.KeyEventListView.as_view(), name="api-key-events"),
    path("organisation/keys/", api_keys.OrganisationKeyListView.as_view(), name="api-keys"),
    path(
        "organisation/keys/entries/",
        api_keys.OrganisationKeyEntriesView.as_view(),
        name="api-key-entries",
    ),
    path(
        "organisation/keys/<str:key_id>/rotate/",
        api_keys.OrganisationKeyRotateView.as_view(),
        name="api-key-rotate",
    ),
    path(
        "organisation/keys/<str:key_id>/revoke/",
        api_keys.OrganisationKeyRevokeView.as_view(),
        name="api-key-revoke",
    ),
]

urlpatterns = [
    path("", sharing_views.home, name="home"),
    # allauth's own login and logout, also at the addresses older links use.
    path("login/", account_views.login, name="login"),
    path("logout/", account_views.logout, name="logout"),
    path("accounts/", include("allauth.urls")),
    path("publish/", sharing_views.publish, name="publish"),
    path("publications/", sharing_views.publication_list, name="publications"),
    path(
        "publications/<int:publication_id>/",
        reading_views.publication_detail,
        name="publication-detail",
    ),
    path(
        "publications/<int:publication_id>/bundle.json",
        reading_views.publication_bundle,
        name="publication-bundle",
    ),
    path("inbox/", sharing_views.inbox, name="inbox"),
    path("inbox/read/", sharing_views.inbox_mark_all_read, name="inbox-mark-all-read"),
    path("inbox/<int:delivery_id>/", sharing_views.delivery_detail, name="delivery-detail"),
    path(
        "inbox/<int:delivery_id>/bundle.json",
        reading_views.delivery_bundle,
        name="delivery-bundle",
    ),
    path(
        "inbox/<int:delivery_id>/objects/<int:object_id>/receipt.json",
        sharing_views.receipt,
        name="receipt",
    ),
    path("search/", reading_views.search, name="search"),
    path("objects/<int:object_id>/", reading_views.object_detail, name="object-detail"),
    path(
        "objects/<int:object_id>/download.zip",
        reading_views.object_download,
        name="object-download",
    ),
    path("objects/bundle.json", reading_views.selection_bundle, name="selection-bundle"),
    path("stix/<str:stix_id>/", reading_views.object_by_stix_id, name="object-by-stix-id"),
    path("", include("sharing.draft_urls")),
    path("", include("sharing.notification_urls")),
    path("webhooks/", sharing_views.webhook_list, name="webhooks"),
    path("webhooks/<int:endpoint_id>/delete/", sharing_views.webhook_delete, name="webhook-delete"),
    path("webhooks/<int:endpoint_id>/", sharing_views.webhook_detail, name="webhook-detail"),
    path("webhooks/<int:endpoint_id>/test/", sharing_views.webhook_send_test, name="webhook-test"),
    path("webhooks/<int:endpoint_id>/enable/", sharing_views.webhook_enable, name="webhook-enable"),
    path(
        "webhooks/<int:endpoint_id>/rotate-secret/",
        sharing_views.webhook_rotate_secret,
        name="webhook-rotate-secret",
    ),
    path(
        "webhooks/<int:endpoint_id>/messages/<int:message_id>/redeliver/",
        sharing_views.webhook_redeliver,
        name="webhook-redeliver",
    ),
    path(
        "webhooks/<int:endpoint_id>/filters/",
        sharing_views.webhook_filters,
        name="webhook-filters",
    ),
    path("", include("portal.community_urls")),
    path("staff/pipeline/", sharing_oversight.pipeline_overview_page, name="pipeline-overview"),
    path("audit/", include("portal.audit.urls")),
    path("api/", include(api_patterns)),
    path("taxii2/", include("sharing.taxii.urls")),
    path("admin/", admin.site.urls),
]

handler404 = "portal.errors.page_not_found"
handler500 = "portal.errors.server_error"
