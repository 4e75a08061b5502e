"""Writes to the community: each function is one action, in one transaction, with its audit row.

Every function takes the acting user keyword-only, checks what that user may do through
portal.permissions, and raises ValidationError with a clear message for bad input (nothing is
written then). One module per topic; this package re-exports them all.
"""

from portal.services.members import (
    accept_invitation,
    change_role,
    create_member,
    end_member_sessions,
    invite_member,
    open_invitation,
    revoke_invitation,
    set_member_active,
)
from portal.services.onboarding import (
    approve_join_request,
    create_organisation,
    reject_join_request,
    rename_join_request,
    submit_join_request,
)
from portal.services.organisations import (
    OrganisationSuspended,
    reinstate_organisation,
    suspend_organisation,
)
from portal.services.tokens import (
    TOKEN_PREFIX,
    create_api_token,
    hash_token,
    revoke_api_token,
    revoke_member_tokens,
    use_api_token,
)
from portal.services.trust_groups import (
    add_to_trust_group,
    create_trust_group,
    reject_trust_group_request,
    remove_from_trust_group,
    request_trust_group_membership,
    retire_trust_group,
    update_trust_group,
)

__all__ = [
    "OrganisationSuspended",
    "TOKEN_PREFIX",
    "accept_invitation",
    "add_to_trust_group",
    "approve_join_request",
    "change_role",
    "create_api_token",
    "create_member",
    "create_organisation",
    "create_trust_group",
    "end_member_sessions",
    "hash_token",
    "invite_member",
    "open_invitation",
    "reject_join_request",
    "reinstate_organisation",
    "reject_trust_group_request",
    "remove_from_trust_group",
    "rename_join_request",
    "request_trust_group_membership",
    "retire_trust_group",
    "revoke_api_token",
    "revoke_invitation",
    "revoke_member_tokens",
    "set_member_active",
    "submit_join_request",
    "suspend_organisation",
    "update_trust_group",
    "use_api_token",
]
