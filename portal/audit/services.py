"""Writes to the audit trail: appending events and anchoring the chain head.

`record` is called by every service that changes something security-relevant, inside that
service's transaction: the audit row commits or rolls back with the action it describes.
"""

import ipaddress
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.ipv6 import clean_ipv6_address

from ledger import keys as ledger_keys
from ledger import services as ledger_services
from ledger.chain import AnchorChain, ChainError
from ledger.models import EntryState
from portal.audit import onchain
from portal.audit.hashing import GENESIS_HASH, chain_hash, event_fields
from portal.audit.models import AuditAction, AuditAnchor, AuditEvent, AuditHead, anchor_payload

logger = logging.getLogger(__name__)


def record(
    *,
    action: AuditAction,
    actor=None,
    organisation=None,
    target: str = "",
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Append one event to the chain, in the caller's transaction.

    `actor` may be None or AnonymousUser (nobody logged in); when `organisation` is not given
    the event belongs to the actor's organisation, if any. `detail` must be JSON (no passwords,
    no secrets: everything here is shown to the organisation's admins). An `ip` that is not an
    IP address is dropped. Raises ValueError for an unknown action and
    ledger.canonical.CanonicalizationError for a detail without an RFC 8785 form.
    """
    if action not in AuditAction.values:
        raise ValueError(f"unknown audit action {action!r}")
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None  # AnonymousUser
    if organisation is None and actor is not None:
        organisation = getattr(actor, "organisation", None)
    # Stored and hashed alike: what the database gives back is what verification rehashes.
    detail = json.loads(json.dumps(detail or {}))
    fields = {
        "action": action,
        "actor_email": (actor.email if actor is not None else "")[:254],
        "organisation_id": organisation.pk if organisation is not None else None,
        "target": str(target)[:200],
        "detail": detail,
        "ip": normalise_ip(ip),
    }
    with transaction.atomic():
        head = _locked_head()
        seq = head.seq + 1
        created_at = timezone.now()
        digest = chain_hash(head.hash, event_fields(seq=seq, created_at=created_at, **fields))
        event = AuditEvent.objects.create(
            seq=seq,
            created_at=created_at,
            actor=actor,
            previous_hash=head.hash,
            hash=digest,
            **fields,
        )
        AuditHead.objects.filter(pk=head.pk).update(seq=seq, hash=digest, updated_at=created_at)
    return event


def _locked_head() -> AuditHead:
    head = AuditHead.objects.select_for_update().filter(pk=1).first()
    if head is not None:
        return head
    # First event ever (or after a test flush): create the head row, then lock it. Two callers
    # racing here both try the insert; the unique primary key lets one win.
    with transaction.atomic():
        AuditHead.objects.get_or_create(pk=1, defaults={"seq": 0, "hash": GENESIS_HASH})
    return AuditHead.objects.select_for_update().get(pk=1)


def normalise_ip(value: str | None) -> str | None:
    """The address as the database stores it, or None if `value` is not an IP address."""
    if not value:
        return None
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if address.version == 6:
        return clean_ipv6_address(str(address))
    return str(address)


def request_ip(request: HttpRequest | None) -> str | None:
    """The client address of a request.

    With TRUSTED_PROXY_COUNT = 0 it is REMOTE_ADDR. Behind N trusted proxies it is the Nth
    address from the right of X-Forwarded-For: each proxy appends the address it received
    from, so anything further left may have been written by the client itself. A header with
    fewer than N addresses did not come through the proxies; REMOTE_ADDR is used then.
    """
    if request is None:
        return None
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
        if len(addresses) >= proxies:
            return normalise_ip(addresses[-proxies])
    return normalise_ip(request.META.get("REMOTE_ADDR"))


# --- Anchoring ---------------------------------------------------------------------------


def anchor_head() -> AuditAnchor | None:
    """Seal the chain's last event (seq, hash) as a ledger entry, if it moved since the last
    anchor; the ledger anchors it on-chain with the next checkpoint. Returns the new anchor."""
    from ledger import tasks as ledger_tasks

    with transaction.atomic():
        _locked_head()  # no event is appended, and no other anchor made, meanwhile
        last_event = AuditEvent.objects.order_by("-seq").only("seq", "hash").first()
        if last_event is None:
            return None
        last_anchor = AuditAnchor.objects.order_by("-seq").first()
        if last_anchor is not None and last_anchor.seq >= last_event.seq:
            return None
        entry = ledger_services.seal(
            payload=anchor_payload(seq=last_event.seq, hash=last_event.hash),
            subject=f"audit-head@{last_event.seq}",
            signing_key=ledger_keys.platform_signing_key(),
        )
        anchor = AuditAnchor.objects.create(seq=last_event.seq, hash=last_event.hash, entry=entry)
        transaction.on_commit(ledger_tasks.anchor.delay)
    logger.info("audit head %s sealed for anchoring as entry %s", anchor.seq, entry.pk)
    return anchor


# --- Verification ------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditProblem:
    """One thing wrong with the trail, at the seq it concerns."""

    seq: int
    kind: str  # edited | relinked | gap | truncated | head | anchor
    message: str

    def __str__(self) -> str:
        return f"seq {self.seq}: {self.message}"


@dataclass
class AuditReport:
    """What verify_chain found; the trail is intact when there is no problem."""

    events: int = 0
    last_seq: int = 0
    anchors: int = 0
    anchors_verified: int = 0
    problems: list[AuditProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.ok:
            return (
                f"audit trail intact: {self.events} events, "
                f"{self.anchors_verified} anchors verified on chain"
            )
        return (
            f"audit trail NOT intact: {len(self.problems)} problem"
            f"{'s' if len(self.problems) != 1 else ''}, the first at {self.problems[0]}"
        )

    def add(self, seq: int, kind: str, message: str) -> None:
        self.problems.append(AuditProblem(seq=seq, kind=kind, message=message))


def verify_chain(
    *,
    organisation_id: int | None = None,
    chain: AnchorChain | None = None,
    pins: onchain.AuditPins | None = None,
    trust_root_path: str | None = None,
) -> AuditReport:
    """Recompute the whole hash chain and check it against the heads the chain holds.

    Reports every row whose content no longer gives its hash (edited), every row that does
    not link to its predecessor (rewritten), every gap in seq (deleted rows), a head row or an
    anchored head beyond the last row (truncated tail), and every head anchored on chain that
    the row at its seq no longer matches. The anchored heads are found from the chain and the
    pins (portal.audit.onchain), not from the AuditAnchor rows: a deleted anchor row is itself
    reported, and a row listed as anchored that the chain does not hold is too. The pins come
    from `pins`, else the trust root file at `trust_root_path`, else the settings
    (AUDIT_PLATFORM_PUBLIC_KEY, LEDGER_SENDER_KEY); without them the report fails, naming what
    to configure. With `organisation_id` only that organisation's rows are rehashed and
    counted; the links, seq and anchors are checked over the whole trail, since a deleted row
    could be theirs. `chain` reads the pinned contract (default: a client of LEDGER_RPC_URL).
    """
    report = AuditReport()
    view = _read_chain(report, chain=chain, pins=pins, trust_root_path=trust_root_path)
    on_chain = set(view.heads) if view is not None else set()
    anchored_seqs = set(AuditAnchor.objects.values_list("seq", flat=True)) | on_chain
    hashes: dict[int, str] = {}
    expected_seq, previous_hash = 1, GENESIS_HASH
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=2000):
        if event.seq > expected_seq:
            missing = _seq_range(expected_seq, event.seq - 1)
            report.add(expected_seq, "gap", f"{missing} missing: rows were deleted")
        elif event.previous_hash != previous_hash:
            report.add(
                event.seq,
                "relinked",
                f"does not follow seq {event.seq - 1}: its previous_hash is "
                f"{event.previous_hash}, but seq {event.seq - 1} hashes to {previous_hash}; "
                f"seq {event.seq - 1} was rewritten",
            )
        if organisation_id is None or event.organisation_id == organisation_id:
            report.events += 1
            _check_hash(event, report)
        if event.seq in anchored_seqs:
            hashes[event.seq] = event.hash
        expected_seq, previous_hash = event.seq + 1, event.hash
    report.last_seq = expected_seq - 1
    _check_head(report, last_hash=previous_hash)
    if view is not None:
        _check_anchors(report, hashes, view)
    return report


def _read_chain(
    report: AuditReport,
    *,
    chain: AnchorChain | None,
    pins: onchain.AuditPins | None,
    trust_root_path: str | None,
) -> onchain.ChainView | None:
    """The chain's view of the trail, or None (with the reason in the report)."""
    try:
        if pins is None:
            pins = (
                onchain.pins_from_trust_root(trust_root_path)
                if trust_root_path
                else onchain.pins_from_settings()
            )
        chain = chain or AnchorChain(settings.LEDGER_RPC_URL, pins.contract, timeout=10.0)
        view = onchain.read_chain(pins, chain)
    except onchain.PinsError as exc:
        report.add(0, "pins", f"nothing to check the anchors against: {exc}")
        return None
    except ChainError as exc:
        report.add(0, "anchor", f"cannot read the chain: {exc}")
        return None
    for problem in view.problems:
        report.add(0, "anchor", problem)
    return view


def _seq_range(first: int, last: int) -> str:
    return f"seq {first}" if first == last else f"seq {first} to {last}"


def _check_hash(event: AuditEvent, report: AuditReport) -> None:
    try:
        digest = chain_hash(event.previous_hash, event.hashed_fields())
    except ValueError as exc:  # CanonicalizationError too
        report.add(event.seq, "edited", f"hash mismatch: the row cannot be hashed ({exc})")
        return
    if digest != event.hash:
        report.add(
            event.seq,
            "edited",
            f"hash mismatch: the row's content hashes to {digest}, not its stored hash "
            f"{event.hash}; the row was edited",
        )


def _check_head(report: AuditReport, *, last_hash: str) -> None:
    head = AuditHead.objects.filter(pk=1).first()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    last = report.last_seq
    if head_seq > last:
        report.add(
            last + 1,
            "truncated",
            f"missing: the chain head records seq {head_seq} but the last row is seq {last}; "
            f"the tail was deleted",
        )
    elif head_seq < last:
        report.add(
            head_seq + 1,
            "head",
            f"rows from here to seq {last} are beyond the chain head (seq {head_seq}): "
            f"they were not appended through the audit service",
        )
    elif head_hash != last_hash:
        report.add(
            last, "head", f"the chain head records hash {head_hash}, the row has {last_hash}"
        )


def _check_anchors(report: AuditReport, hashes: dict[int, str], view: onchain.ChainView) -> None:
    rows = {
        anchor.seq: anchor
        for anchor in AuditAnchor.objects.select_related("entry").only(
            "seq", "hash", "entry__id", "entry__state", "entry__leaf_index"
        )
    }
    for seq in sorted(set(rows) | set(view.heads)):
        report.anchors += 1
        head, row = view.heads.get(seq), rows.get(seq)
        if seq > report.last_seq:
            report.add(
                seq,
                "truncated",
                f"missing: the head anchored at seq {seq} is beyond the last row "
                f"(seq {report.last_seq}); the tail was deleted",
            )
        elif seq not in hashes:
            report.add(seq, "gap", "missing: this anchored row was deleted")
        elif row is not None and hashes[seq] != row.hash:
            report.add(
                seq,
                "anchor",
                f"anchored hash differs: the chain anchored {row.hash}, the row has "
                f"{hashes[seq]}; the trail was rewritten up to here",
            )
        elif head is not None:
            mismatch = onchain.head_mismatch(view, head, event_hash=hashes[seq])
            if mismatch:
                report.add(seq, "anchor", mismatch)
            else:
                report.anchors_verified += 1
        if head is not None and (row is None or row.entry_id != head.entry_id):
            report.add(
                seq,
                "anchor",
                f"the anchor row of this seq was deleted: the chain holds its head (log leaf "
                f"{head.leaf_index}, ledger entry {head.entry_id}) but AuditAnchor has no row "
                f"for it",
            )
        elif head is None and row is not None:
            entry = row.entry
            if entry.state != EntryState.ANCHORED or (entry.leaf_index or 0) >= view.tree_size:
                report.add(
                    seq,
                    "anchor",
                    f"the anchor (ledger entry {entry.pk}) is not on chain yet (state "
                    f"{entry.state}); run the anchoring and check again",
                )
            else:
                report.add(
                    seq,
                    "anchor",
                    f"listed as anchored (ledger entry {entry.pk}), but the chain holds no "
                    f"head of the pinned platform key for this seq",
                )
