"""The portal's own trust root: what it offers for download, and what its own stages pin.

A consumer should not take this document on the portal's word alone (the whole point of a
trust root is to be pinned out of band, see docs/receipts.md), but the portal is where it
is published, and the portal's own verification uses the same facts.
"""

from datetime import timedelta
from functools import cached_property
from typing import Any

from django.conf import settings

from ledger import trust_root
from ledger.chain import AnchorChain, sender_address
from ledger.models import Checkpoint, SigningKey

# A retired key still signed entries that were waiting for their checkpoint; those are
# anchored after the retirement. The grace bounds that wait (LEDGER_TX_TIMEOUT_SECONDS is
# far shorter).
RETIREMENT_GRACE = timedelta(hours=1)
# Block times come from the chain's clock, key times from the portal's: a key used at once
# must not look newer than the checkpoint that anchors its first signature.
CLOCK_SKEW = timedelta(minutes=5)


def trust_root_document(*, contract: str, chain_id: int) -> dict[str, Any]:
    """The trust root naming this portal's chain, contract, anchor senders and every signing
    key with its custody and validity window."""
    senders = {
        sender.lower(): sender
        for sender in Checkpoint.objects.filter(contract__iexact=contract)
        .values_list("sender", flat=True)
        .distinct()
    }
    if settings.LEDGER_SENDER_KEY:
        current = sender_address(settings.LEDGER_SENDER_KEY)
        senders.setdefault(current.lower(), current)
    keys = [pinned_key(key) for key in SigningKey.objects.order_by("created_at")]
    return trust_root.build_trust_root(
        chain_id=chain_id,
        contract=contract,
        anchor_senders=sorted(senders.values()),
        confirmations=settings.LEDGER_CONFIRMATIONS,
        keys=keys,
    )


def pinned_key(key: SigningKey) -> dict[str, Any]:
    """One key of the trust root: its real custody and validity window.

    ``valid_from`` is moved back by CLOCK_SKEW. The end of a window (``valid_until``, or the
    retirement of a portal-held key) is moved on by RETIREMENT_GRACE: the portal accepts a
    signature only inside the window, and the entry may be anchored a little later. A
    revocation takes effect exactly when it was recorded.
    """
    ends = [moment + RETIREMENT_GRACE for moment in (key.valid_until, key.retired_at) if moment]
    return {
        "public_key": bytes(key.public_key),
        "organisation": key.owner,
        "custody": key.custody,
        "valid_from": key.valid_from - CLOCK_SKEW,
        "valid_until": min(ends) if ends else None,
        "revoked_at": key.revoked_at,
    }


class PortalChain(AnchorChain):
    """The portal's chain reader: it carries the portal's own trust root, so the portal's
    verification stages pin its contract, senders and keys (ledger.verify reads it)."""

    @cached_property
    def trust_root(self) -> trust_root.TrustRoot:
        return trust_root.parse_trust_root(
            trust_root_document(contract=self.contract_address, chain_id=self.chain_id())
        )
