from django.urls import path

from portal import views, views_organisations

urlpatterns = [
    path("join/", views.join, name="join"),
    path("join/sent/", views.join_sent, name="join-sent"),
    path("staff/join-requests/", views.join_request_list, name="join-requests"),
    path(
        "staff/join-requests/<int:join_request_id>/",
        views.join_request_detail,
        name="join-request",
    ),
    path("staff/organisations/", views_organisations.organisation_list, name="organisations"),
    path(
        "staff/organisations/<int:organisation_id>/suspension/",
        views_organisations.organisation_suspension,
        name="organisation-suspension",
    ),
    path("invitations/<str:token>/", views.accept_invitation, name="accept-invitation"),
    path("organisation/members/", views.members, name="members"),
    path("organisation/members/<int:member_id>/role/", views.member_role, name="member-role"),
    path("organisation/members/<int:member_id>/active/", views.member_active, name="member-active"),
    path(
        "organisation/members/<int:member_id>/tokens/revoke/",
        views.member_tokens_revoke,
        name="member-tokens-revoke",
    ),
    path(
        "organisation/members/<int:member_id>/sessions/end/",
        views.member_sessions_end,
        name="member-sessions-end",
    ),
    path(
        "organisation/invitations/<int:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation-revoke",
    ),
    path("trust-groups/", views.trust_groups, name="trust-groups"),
    path("trust-groups/<int:group_id>/", views.trust_group_detail, name="trust-group"),
    path(
        "trust-groups/<int:group_id>/request/",
        views.trust_group_request,
        name="trust-group-request",
    ),
    path(
        "trust-groups/requests/<int:request_id>/decide/",
        views.trust_group_request_decide,
        name="trust-group-request-decide",
    ),
    path("tokens/", views.tokens, name="tokens"),
    path("organisation/keys/", views.organisation_keys, name="organisation-keys"),
    path(
        "organisation/keys/entries/",
        views.organisation_key_entries,
        name="organisation-key-entries",
    ),
    path(
        "organisation/keys/<str:key_id>/rotate/",
        views.organisation_key_rotate,
        name="organisation-key-rotate",
    ),
    path(
        "organisation/keys/<str:key_id>/revoke/",
        views.organisation_key_revoke,
        name="organisation-key-revoke",
    ),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="token-revoke"),
]
